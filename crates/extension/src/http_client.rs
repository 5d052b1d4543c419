//! A one-request-per-connection HTTP/1.1 client (plain, TLS, or TLS through a CONNECT proxy).
//!
//! Connections are never pooled: a Lambda sandbox is frozen between invocations, and a pooled
//! connection that sat through a freeze is usually dead on thaw (Datadog's extension issue
//! #195/#521). A fresh connection per request costs one handshake and never fails that way.
//! The TLS configuration (rustls + ring + compiled-in webpki roots) is built on first use, so
//! a function that only talks to a local intake never pays for it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::ProxyConfig;

/// Answers larger than this are cut (intake and AWS answers are small).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {0:?}: expected http://host[:port]/path or https://...")]
    InvalidUrl(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("proxy {proxy} refused the tunnel to {target}: {status}")]
    Proxy {
        proxy: String,
        target: String,
        status: String,
    },
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        host: String,
        source: std::io::Error,
    },
    #[error("HTTP exchange with {host} failed: {source}")]
    Http { host: String, source: hyper::Error },
    #[error("request to {host} timed out after {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("building the request failed: {0}")]
    Request(#[from] http::Error),
}

/// A parsed `http(s)://host[:port]/path?query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, HttpError> {
        let bad = || HttpError::InvalidUrl(text.to_string());
        let (tls, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None => default_port,
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Url {
            tls,
            host,
            port,
            path,
        })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// A completed answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The client; cheap to clone.
#[derive(Clone, Default)]
pub struct HttpClient {
    proxy: Option<Arc<ProxyConfig>>,
    tls: Arc<OnceLock<Arc<rustls::ClientConfig>>>,
}

impl HttpClient {
    pub fn new(proxy: Option<ProxyConfig>) -> Self {
        HttpClient {
            proxy: proxy.map(Arc::new),
            tls: Arc::default(),
        }
    }

    fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls
            .get_or_init(|| {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default TLS versions")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                Arc::new(config)
            })
            .clone()
    }

    fn proxy_for(&self, url: &Url) -> Option<&ProxyConfig> {
        let proxy = self.proxy.as_deref()?;
        if !url.tls {
            return None;
        }
        let bypass = proxy.no_proxy.iter().any(|entry| {
            let entry = entry.trim_start_matches('*');
            entry == url.host
                || (entry.starts_with('.') && url.host.ends_with(entry))
                || url.host.ends_with(&format!(".{entry}"))
        });
        (!bypass).then_some(proxy)
    }

    async fn connect(&self, url: &Url) -> Result<Box<dyn Stream>, HttpError> {
        let (tcp_host, tcp_port) = match self.proxy_for(url) {
            Some(proxy) => {
                let p = Url::parse(&proxy.url)?;
                (p.host, p.port)
            }
            None => (url.host.clone(), url.port),
        };
        let addr = format!("{tcp_host}:{tcp_port}");
        let mut tcp = TcpStream::connect((tcp_host.as_str(), tcp_port))
            .await
            .map_err(|source| HttpError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        if let Some(proxy) = self.proxy_for(url) {
            tunnel(&mut tcp, url, &proxy.url).await?;
        }
        if !url.tls {
            return Ok(Box::new(tcp));
        }
        let name = rustls::pki_types::ServerName::try_from(url.host.clone())
            .map_err(|_| HttpError::InvalidUrl(url.host.clone()))?;
        let tls = tokio_rustls::TlsConnector::from(self.tls_config())
            .connect(name, tcp)
            .await
            .map_err(|source| HttpError::Tls {
                host: url.host.clone(),
                source,
            })?;
        Ok(Box::new(tls))
    }

    /// Sends one request and reads the whole answer, within `timeout` (`None`: no limit,
    /// for the Extensions API long poll).
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Response, HttpError> {
        let url = Url::parse(url)?;
        let exchange = self.exchange(method, &url, headers, body);
        match timeout {
            None => exchange.await,
            Some(after) => tokio::time::timeout(after, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(HttpError::Timeout {
                        host: url.host.clone(),
                        after,
                    })
                }),
        }
    }

    async fn exchange(
        &self,
        method: http::Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, HttpError> {
        let stream = self.connect(url).await?;
        let http_err = |source| HttpError::Http {
            host: url.host.clone(),
            source,
        };
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http_err)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = http::Request::builder()
            .method(method)
            .uri(url.path.as_str())
            .header(http::header::HOST, url.host_header());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body))?;
        let response = sender.send_request(request).await.map_err(http_err)?;
        let (parts, body) = response.into_parts();
        let body = match Limited::new(body, MAX_RESPONSE_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => Bytes::new(),
        };
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

/// Opens a CONNECT tunnel through an HTTP proxy.
async fn tunnel(tcp: &mut TcpStream, url: &Url, proxy: &str) -> Result<(), HttpError> {
    let target = format!("{}:{}", url.host, url.port);
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    let io_err = |e: std::io::Error| HttpError::Proxy {
        proxy: proxy.to_string(),
        target: target.clone(),
        status: e.to_string(),
    };
    tcp.write_all(request.as_bytes()).await.map_err(io_err)?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.map_err(io_err)? == 0 || head.len() > 8192 {
            break;
        }
        head.push(byte[0]);
    }
    let status_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(HttpError::Proxy {
            proxy: proxy.to_string(),
            target,
            status: status_line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = Url::parse("https://api.datadoghq.com/api/v2/series").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (true, "api.datadoghq.com", 443, "/api/v2/series")
        );
        let u = Url::parse("http://127.0.0.1:9001").unwrap();
        assert_eq!((u.port, u.path.as_str()), (9001, "/"));
        let u = Url::parse("http://[::1]:80/x?y=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.host_header().as_str(), u.path.as_str()),
            ("::1", "[::1]", "/x?y=1")
        );
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://:80/").is_err());
        assert!(Url::parse("http://h:notaport/").is_err());
    }

    /// A fake proxy (test only) that reads the CONNECT request and answers `status_line`.
    async fn fake_proxy(status_line: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap() == 1 {
                head.push(byte[0]);
            }
            stream.write_all(status_line.as_bytes()).await.unwrap();
            String::from_utf8(head).unwrap()
        });
        (url, task)
    }

    #[tokio::test]
    async fn https_goes_through_a_connect_tunnel() {
        let (proxy, seen) = fake_proxy("HTTP/1.1 200 Connection established\r\n\r\n").await;
        let client = HttpClient::new(Some(ProxyConfig {
            url: proxy,
            no_proxy: vec![],
        }));
        let err = client
            .send(
                http::Method::POST,
                "https://intake.example.com/api/v2/logs",
                &[],
                Bytes::new(),
                Some(Duration::from_secs(5)),
            )
            .await
            .unwrap_err();
        // The tunnel opened; the TLS handshake then failed because the fake closed it.
        assert!(matches!(err, HttpError::Tls { .. }), "{err}");
        let request = seen.await.unwrap();
        assert!(
            request.starts_with("CONNECT intake.example.com:443 HTTP/1.1\r\n"),
            "{request}"
        );

        let (proxy, _) = fake_proxy("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
        let client = HttpClient::new(Some(ProxyConfig {
            url: proxy,
            no_proxy: vec![],
        }));
        let err = client
            .send(
                http::Method::POST,
                "https://intake.example.com/",
                &[],
                Bytes::new(),
                Some(Duration::from_secs(5)),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("407"), "{err}");
    }

    #[test]
    fn no_proxy_bypasses_by_host_or_suffix() {
        let client = HttpClient::new(Some(ProxyConfig {
            url: "http://proxy:3128".into(),
            no_proxy: vec![".internal".into(), "datadoghq.eu".into()],
        }));
        let via = |u: &str| client.proxy_for(&Url::parse(u).unwrap()).is_some();
        assert!(via("https://api.datadoghq.com/"));
        assert!(!via("https://api.datadoghq.eu/"));
        assert!(!via("https://a.b.internal/"));
        assert!(
            !via("http://api.datadoghq.com/"),
            "plain HTTP never uses the HTTPS proxy"
        );
    }
}
