// The query API client (docs/api.md). Same origin, so a UI session cookie rides along;
// a 401 means the server wants a login.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET /api/<path> with the given query parameters (null/undefined/"" are left out). */
export async function get(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== "" && v !== false) url.searchParams.set(k, String(v));
  }
  let resp;
  try {
    resp = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, "cannot reach the lambdascope server (" + e.message + "); is it still running?");
  }
  if (resp.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, "login required");
  }
  let body = null;
  try {
    body = await resp.json();
  } catch (e) {
    throw new ApiError(resp.status, `${url.pathname} answered ${resp.status} without JSON`);
  }
  if (!resp.ok) throw new ApiError(resp.status, body && body.error ? body.error : `${url.pathname} answered ${resp.status}`);
  return body;
}

/** Time ranges offered by the picker, in milliseconds. */
export const RANGES = {
  "15m": 15 * 60e3,
  "1h": 3600e3,
  "4h": 4 * 3600e3,
  "1d": 86400e3,
  "2d": 2 * 86400e3,
  "7d": 7 * 86400e3,
};

/** The selected window ending now: {from, to, step} in ms; step gives ~60 buckets. */
export function window(rangeKey) {
  const span = RANGES[rangeKey] || RANGES["1h"];
  const to = Date.now();
  const rawStep = span / 60;
  const step = Math.max(60e3, Math.ceil(rawStep / 60e3) * 60e3);
  return { from: to - span, to, step, span };
}

export const functions = (w) => get("/api/functions", { from: w.from, to: w.to });

let early = null;

/** Starts the home page's query before its module has even loaded (see app.js). */
export function prefetchFunctions(rangeKey) {
  const w = window(rangeKey);
  early = { rangeKey, w, body: functions(w) };
  early.body.catch(() => {}); // the page reports errors when it awaits
}

/** The home table's data for this range, once: inlined by the server in the HTML, else
 *  prefetched by app.js; null when neither matches the range. */
export function takePrefetchedFunctions(rangeKey) {
  const inline = document.getElementById("preloaded-functions");
  if (inline) {
    inline.remove();
    try {
      const body = JSON.parse(inline.textContent);
      if (body.range === rangeKey) {
        early = null;
        const span = RANGES[rangeKey];
        return { inline: true, w: { from: body.from, to: body.to, span, step: window(rangeKey).step }, body: Promise.resolve(body) };
      }
    } catch (e) {
      /* fall through to the fetch */
    }
  }
  const e = early;
  early = null;
  return e && e.rangeKey === rangeKey ? e : null;
}

export const timeseries = (name, metric, w) =>
  get(`/api/functions/${encodeURIComponent(name)}/timeseries`, { metric, from: w.from, to: w.to, step: w.step });

export const invocations = (name, params) => get(`/api/functions/${encodeURIComponent(name)}/invocations`, params);

export const trace = (traceId) => get(`/api/traces/${encodeURIComponent(traceId)}`);

export const logs = (params) => get("/api/logs", params);

export const metrics = (params) => get("/api/metrics", params);

/** The list in a paged or wrapped answer: a bare array, `items`, or the named key. */
export function list(body, key) {
  if (Array.isArray(body)) return body;
  if (body && key && Array.isArray(body[key])) return body[key];
  if (body && Array.isArray(body.items)) return body.items;
  return [];
}
