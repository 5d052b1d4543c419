// The shell: routes paths to pages, keeps the time range and auto-refresh, and switches theme.
// Pages are plain modules exporting `render(view, ctx)`; they may return {refresh, dispose}.
import { h } from "./format.js";
import { RANGES, prefetchFunctions } from "./api.js";
// The home page is imported up front (no extra hop on the most visited page); the others load on demand.
import * as functionsPage from "./pages/functions.js";

const ROUTES = [
  [/^\/$/, "functions", () => Promise.resolve(functionsPage)],
  [/^\/functions\/([^/]+)$/, "functions", () => import("./pages/function.js")],
  [/^\/invocations\/([^/]+)$/, "functions", () => import("./pages/invocation.js")],
  [/^\/traces\/([^/]+)$/, "functions", () => import("./pages/invocation.js"), "trace"],
  [/^\/logs$/, "logs", () => import("./pages/logs.js")],
  [/^\/metrics$/, "metrics", () => import("./pages/metrics.js")],
];

const view = document.getElementById("view");
const rangeSelect = document.getElementById("range");
const refreshSelect = document.getElementById("refresh");
let current = null;
let refreshTimer = null;
let generation = 0;

function storedRange() {
  try {
    return localStorage.getItem("lambdascope-range");
  } catch (e) {
    return null;
  }
}

/** The time range key in force: ?range=, else the last one picked, else 1h. */
export function rangeKey() {
  const q = new URLSearchParams(location.search).get("range");
  if (q && RANGES[q]) return q;
  const s = storedRange();
  return s && RANGES[s] ? s : "1h";
}

/** A path within the UI, carrying the current range. */
export function href(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
  }
  if (!url.searchParams.has("range")) url.searchParams.set("range", rangeKey());
  return url.pathname + url.search;
}

/** Changes the URL (same page state) without a reload; `replace` keeps history short. */
export function setQuery(params, replace = true) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "" || v === false) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  history[replace ? "replaceState" : "pushState"](null, "", url.pathname + url.search);
}

export function navigate(path) {
  history.pushState(null, "", path);
  route();
}

async function route() {
  const gen = ++generation;
  if (current && current.dispose) current.dispose();
  current = null;
  rangeSelect.value = rangeKey();
  const path = location.pathname;
  const match = ROUTES.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll("nav.main a")) {
    if (match && a.dataset.nav === match[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!match) {
    view.replaceChildren(h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, path), ". ", h("a", { href: "/" }, "Back to functions")));
    return;
  }
  const [re, , load, kind] = match;
  const params = (path.match(re) || []).slice(1).map(decodeURIComponent);
  const ctx = { params, kind, query: new URLSearchParams(location.search), range: rangeKey(), isCurrent: () => gen === generation };
  try {
    const page = await load();
    if (gen !== generation) return;
    current = (await page.render(view, ctx)) || null;
  } catch (e) {
    if (gen !== generation) return;
    view.replaceChildren(h("div", { class: "error-box", role: "alert" }, e.message || String(e)));
  }
}

function scheduleRefresh() {
  clearInterval(refreshTimer);
  const secs = Number(refreshSelect.value);
  if (secs > 0) {
    refreshTimer = setInterval(() => {
      if (document.hidden) return;
      if (current && current.refresh) current.refresh();
      else route();
    }, secs * 1000);
  }
}

rangeSelect.addEventListener("change", () => {
  try {
    localStorage.setItem("lambdascope-range", rangeSelect.value);
  } catch (e) {
    /* storage disabled: the URL still carries it */
  }
  setQuery({ range: rangeSelect.value });
  route();
});

refreshSelect.addEventListener("change", () => {
  try {
    localStorage.setItem("lambdascope-refresh", refreshSelect.value);
  } catch (e) {
    /* ignore */
  }
  scheduleRefresh();
});

document.getElementById("theme-toggle").addEventListener("click", () => {
  const current = document.documentElement.getAttribute("data-theme") || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  const next = current === "dark" ? "light" : "dark";
  document.documentElement.setAttribute("data-theme", next);
  // The server reads the cookie to send pages in this theme (no blocking script before paint).
  document.cookie = `lambdascope_theme=${next}; Path=/; Max-Age=31536000; SameSite=Lax`;
  try {
    localStorage.setItem("lambdascope-theme", next);
  } catch (e) {
    /* ignore */
  }
  route(); // charts read colours when drawn
});

// Same-origin links navigate in place; modified clicks (new tab) keep browser behaviour.
document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  if (a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  const p = url.pathname;
  if (url.origin !== location.origin || p.startsWith("/api/") || p.startsWith("/assets/") || p === "/login" || p === "/logout") return;
  ev.preventDefault();
  if (!url.searchParams.has("range")) url.searchParams.set("range", rangeKey());
  navigate(url.pathname + url.search);
  view.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

window.addEventListener("popstate", route);

try {
  const r = localStorage.getItem("lambdascope-refresh");
  if (r !== null) refreshSelect.value = r;
} catch (e) {
  /* ignore */
}
scheduleRefresh();
if (location.pathname === "/" && !document.getElementById("preloaded-functions")) prefetchFunctions(rangeKey());
route();
