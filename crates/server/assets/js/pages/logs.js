// Log search (full text, level, function, request id, time) and live tail. A line that carries
// a request id or trace id links to its invocation.
import * as api from "../api.js";
import { h, clock, isoTime } from "../format.js";
import { href, setQuery } from "../app.js";

const LEVELS = ["", "error", "warn", "info", "debug"];

/** `text` with each of `words` wrapped in <mark>. */
function highlighted(text, words) {
  if (!words.length) return [text];
  const re = new RegExp("(" + words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|") + ")", "ig");
  return text.split(re).map((part, i) => (i % 2 === 1 ? h("mark", {}, part) : part));
}

/** One log line; `opts.compact` drops the function column, `opts.words` marks matches. */
export function logLine(l, opts = {}) {
  const level = (l.status || "info").toLowerCase();
  const isReport = l.message && l.message.startsWith("REPORT");
  const target = l.request_id
    ? href(`/invocations/${encodeURIComponent(l.request_id)}`, { function: l.function, trace: l.trace_id })
    : l.trace_id
      ? href(`/traces/${encodeURIComponent(l.trace_id)}`)
      : null;
  const time = h("span", { class: "muted", title: isoTime(l.ts_ms) }, clock(l.ts_ms, true));
  return h(
    "div",
    { class: `log-line ${level}${isReport ? " report" : ""}`, dataset: { request: l.request_id || "" } },
    target ? h("a", { href: target, title: "Open this invocation", class: "muted" }, time) : time,
    h("span", { class: "lvl" }, level),
    opts.compact ? null : h("span", { class: "fn", title: l.function || "" }, l.function || h("span", { class: "muted" }, "–")),
    h("span", { class: "msg" }, highlighted(l.message || "", opts.words || [])),
  );
}

export async function render(view, ctx) {
  const q = ctx.query;
  const fields = {
    q: h("input", { type: "search", id: "log-q", name: "q", value: q.get("q") || "", placeholder: "words that must all appear", "aria-label": "Search text" }),
    status: h("select", { id: "log-level", name: "status", "aria-label": "Level" }, LEVELS.map((l) => h("option", { value: l, selected: (q.get("status") || "") === l }, l || "any level"))),
    function: h("input", { type: "text", id: "log-function", name: "function", value: q.get("function") || "", placeholder: "function name", list: "fn-names", "aria-label": "Function" }),
    request_id: h("input", { type: "text", id: "log-request", name: "request_id", value: q.get("request_id") || "", placeholder: "request id", "aria-label": "Request id" }),
  };
  const names = h("datalist", { id: "fn-names" });
  const tail = h("button", { type: "button", id: "live-tail", "aria-pressed": "false" }, "Live tail");
  const form = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": "Search logs" },
    fields.q,
    fields.status,
    fields.function,
    fields.request_id,
    names,
    h("button", { type: "submit", class: "primary" }, "Search"),
    tail,
  );
  const status = h("p", { class: "muted", id: "log-status", "aria-live": "polite" });
  const list = h("div", { class: "logs", id: "log-results" });
  const more = h("button", { type: "button", hidden: true }, "Load older");
  view.replaceChildren(h("h1", {}, "Logs"), h("section", { class: "panel" }, form, status, list, more));

  api
    .functions(api.window("7d"))
    .then((b) => names.replaceChildren(...api.list(b, "functions").map((f) => h("option", { value: f.function }))))
    .catch(() => {});

  let cursor = null;
  let newest = 0;
  const shown = new Set();
  const key = (l) => l.ts_ms + "\u0000" + (l.request_id || "") + "\u0000" + l.message;

  function params() {
    const w = api.window(ctx.range);
    const p = { from: w.from, to: w.to, limit: 200 };
    for (const [k, el] of Object.entries(fields)) if (el.value.trim()) p[k] = el.value.trim();
    return p;
  }
  const words = () => fields.q.value.trim().split(/\s+/).filter(Boolean);

  async function search(append) {
    const p = params();
    if (append) p.cursor = cursor;
    const body = await api.logs(p);
    if (!ctx.isCurrent()) return;
    const items = api.list(body, "items");
    cursor = body.next_cursor || null;
    more.hidden = !cursor;
    if (!append) {
      shown.clear();
      list.replaceChildren();
    }
    for (const l of items) {
      shown.add(key(l));
      newest = Math.max(newest, l.ts_ms);
    }
    list.append(...items.map((l) => logLine(l, { words: words() })));
    const total = list.childElementCount;
    status.textContent = total ? `${total} line${total === 1 ? "" : "s"}${cursor ? " (more available)" : ""}, newest first` : "No log lines match in this time range.";
  }

  let tailTimer = null;
  async function tailOnce() {
    const p = params();
    p.from = Math.max(p.from, newest);
    p.to = Date.now() + 1000;
    const body = await api.logs(p);
    const fresh = api.list(body, "items").filter((l) => !shown.has(key(l)));
    for (const l of fresh) {
      shown.add(key(l));
      newest = Math.max(newest, l.ts_ms);
    }
    if (fresh.length) list.prepend(...fresh.map((l) => logLine(l, { words: words() })));
  }
  tail.addEventListener("click", () => {
    const on = tail.getAttribute("aria-pressed") !== "true";
    tail.setAttribute("aria-pressed", String(on));
    tail.replaceChildren(on ? h("span", { class: "live-dot", "aria-hidden": "true" }) : "", on ? " Tailing" : "Live tail");
    clearInterval(tailTimer);
    if (on) tailTimer = setInterval(() => tailOnce().catch(() => {}), 2000);
  });

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = {};
    for (const [k, el] of Object.entries(fields)) p[k] = el.value.trim();
    setQuery(p);
    search(false).catch((e) => (status.textContent = e.message));
  });
  more.addEventListener("click", () => search(true).catch((e) => (status.textContent = e.message)));
  await search(false);
  return {
    refresh: () => search(false).catch(() => {}),
    dispose: () => clearInterval(tailTimer),
  };
}
