"""Talking to the local extension: a tiny HTTP/1.1 client and a DogStatsD UDP socket.

``http.client`` costs several milliseconds to import (it pulls in ``email``), more than the whole
library's budget, so this module speaks the small subset of HTTP/1.1 the extension needs over a
kept-alive socket. A failed exchange is retried once on a fresh connection (the old one may have
gone stale across a freeze), then reported as ``None``. Nothing here ever raises to the caller.
"""

from __future__ import annotations

import socket
import threading
from typing import Dict, Optional, Tuple

Response = Tuple[int, Dict[str, str], bytes]


class HttpClient:
    """One kept-alive connection to ``host:port``; safe to share between threads."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._sock: Optional[socket.socket] = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def request(
        self, method: str, path: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None
    ) -> Optional[Response]:
        """Sends one request; returns (status, lower-cased headers, body) or None on failure."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {_header_safe(value)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + body
        with self._lock:
            for attempt in (0, 1):
                try:
                    if self._sock is None:
                        self._sock = self._connect()
                    self._sock.sendall(data)
                    return self._read_response(self._sock)
                except (OSError, ValueError):
                    self._drop()
                    if attempt == 1:
                        return None
        return None

    def _read_response(self, sock: socket.socket) -> Response:
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError("connection closed before the response head")
            buf += chunk
            if len(buf) > 1 << 20:
                raise ValueError("response head too large")
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked(sock, rest)
        else:
            length = int(headers.get("content-length", "0") or 0)
            while len(rest) < length:
                chunk = sock.recv(max(65536, length - len(rest)))
                if not chunk:
                    raise ValueError("connection closed inside the response body")
                rest += chunk
            body = rest[:length]
        if headers.get("connection", "").lower() == "close":
            self._drop()
        return status, headers, body

    @staticmethod
    def _read_chunked(sock: socket.socket, rest: bytes) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in rest:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ValueError("connection closed inside a chunk")
                rest += chunk
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ValueError("connection closed inside a chunk")
                rest += chunk
            if size == 0:
                return body
            body += rest[:size]
            rest = rest[size + 2 :]


def _header_safe(value: str) -> str:
    """Header values may not carry line breaks; non-Latin-1 text is escaped."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


class StatsdSocket:
    """Fire-and-forget DogStatsD datagrams; a full buffer or no listener never blocks or raises."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self._sock: Optional[socket.socket] = None

    def send(self, payload: bytes) -> bool:
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(payload, self.address)
            return True
        except OSError:
            return False
