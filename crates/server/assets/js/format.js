// DOM building and number formatting. Every piece of server data reaches the page as a
// text node (never innerHTML), so a log line or span tag cannot inject markup.

/** Creates an element: h("a", {href: "/x", class: "y", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An SVG element (namespaced). */
export function svg(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

export function count(n) {
  if (n === null || n === undefined) return "–";
  if (n >= 1e9) return (n / 1e9).toFixed(2) + "B";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return Math.round(n).toLocaleString("en-US");
}

export function percent(ratio) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "–";
  const p = ratio * 100;
  if (p === 0) return "0%";
  if (p < 0.1) return "<0.1%";
  return (p < 10 ? p.toFixed(1) : p.toFixed(0)) + "%";
}

/** Milliseconds as "850 µs", "12.3 ms", "1.24 s". */
export function ms(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (v === 0) return "0 ms";
  if (v < 1) return Math.round(v * 1000) + " µs";
  if (v < 100) return v.toFixed(1) + " ms";
  if (v < 1000) return Math.round(v) + " ms";
  if (v < 60000) return (v / 1000).toFixed(2) + " s";
  return (v / 60000).toFixed(1) + " min";
}

export function mb(v) {
  return v === null || v === undefined ? "–" : Math.round(v) + " MB";
}

export function usd(v) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "$0";
  // Per-invocation prices are tiny: two significant digits without exponent notation.
  if (v < 0.01) return "$" + v.toFixed(Math.min(12, Math.ceil(-Math.log10(v)) + 1));
  if (v < 100) return "$" + v.toFixed(2);
  return "$" + Math.round(v).toLocaleString("en-US");
}

/** "14:03:07" today, else "Nov 23 14:03". */
export function clock(tsMs, withMillis) {
  if (!tsMs) return "–";
  const d = new Date(tsMs);
  const now = new Date();
  const time = d.toLocaleTimeString("en-GB", { hour12: false });
  const millis = withMillis ? "." + String(d.getMilliseconds()).padStart(3, "0") : "";
  if (d.toDateString() === now.toDateString()) return time + millis;
  return d.toLocaleDateString("en-US", { month: "short", day: "numeric" }) + " " + time + millis;
}

/** "3 min ago". */
export function ago(tsMs) {
  if (!tsMs) return "never";
  const s = Math.max(0, (Date.now() - tsMs) / 1000);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

export function isoTime(tsMs) {
  return tsMs ? new Date(tsMs).toISOString() : "";
}

/** The status of one invocation record as a badge. */
export function statusBadge(inv) {
  if (inv.timeout) return h("span", { class: "badge err" }, "timeout");
  if (inv.out_of_memory) return h("span", { class: "badge err" }, "out of memory");
  if (inv.error) return h("span", { class: "badge err", title: inv.error_type || "" }, inv.error_type ? "error: " + inv.error_type : "error");
  return h("span", { class: "badge ok" }, "ok");
}

export function coldBadge(cold) {
  return cold ? h("span", { class: "badge cold" }, "cold start") : null;
}
