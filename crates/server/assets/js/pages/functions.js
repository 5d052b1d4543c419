// Home: one row per function, answering "which functions are slow, failing, cold-starting or
// costly" at a glance. The table paints from /api/functions alone; tags (runtime, memory
// size) and sparklines fill in afterwards so they never delay the first paint.
import * as api from "../api.js";
import { h, count, percent, ms, mb, usd, ago, isoTime } from "../format.js";
import { sparkline } from "../charts.js";
import { href, setQuery } from "../app.js";

const COLUMNS = [
  { key: "function", label: "Function", get: (r) => r.function, text: true },
  { key: "invocations", label: "Invocations", get: (r) => r.invocations },
  { key: "errors", label: "Errors", get: (r) => r.errors },
  { key: "error_rate", label: "Error rate", get: (r) => r.error_rate },
  { key: "cold_pct", label: "Cold starts", get: (r) => coldRatio(r) },
  { key: "p50", label: "p50", get: (r) => r.p50_duration_ms },
  { key: "p95", label: "p95", get: (r) => r.p95_duration_ms },
  { key: "p99", label: "p99", get: (r) => r.p99_duration_ms },
  { key: "memory", label: "Max memory", get: (r) => r.max_memory_used_mb },
  { key: "cost", label: "Est. cost", get: (r) => r.estimated_cost_usd },
  { key: "last_seen", label: "Last invoked", get: (r) => r.last_seen_ms },
];

const coldRatio = (r) => (r.invocations ? r.cold_starts / r.invocations : 0);

/** Tags of each function's latest enhanced metric point: runtime, memorysize, region, custom tags. */
async function loadTags(w) {
  const body = await api.metrics({ name: "aws.lambda.enhanced.invocations", from: w.from, to: w.to, limit: 10000 });
  const byFunction = new Map();
  for (const p of api.list(body, "points")) {
    const tags = p.tags || [];
    const fn = tags.find((t) => t.startsWith("functionname:"));
    if (!fn) continue;
    byFunction.set(fn.slice("functionname:".length), tags.filter((t) => !t.startsWith("cold_start:")));
  }
  return byFunction;
}

function tagValue(tags, key) {
  const t = (tags || []).find((x) => x.startsWith(key + ":"));
  return t ? t.slice(key.length + 1) : null;
}

function matches(row, tags, needle) {
  if (!needle) return true;
  const n = needle.toLowerCase();
  if (row.function.toLowerCase().includes(n)) return true;
  return (tags || []).some((t) => t.toLowerCase().includes(n));
}

export async function render(view, ctx) {
  const w = api.window(ctx.range);
  const state = {
    rows: [],
    tags: new Map(),
    sort: ctx.query.get("sort") || "invocations",
    dir: ctx.query.get("dir") || "desc",
    filter: ctx.query.get("q") || "",
    window: w,
  };
  // The server already drew this table (default sort, no filter) for this range: keep its
  // rows instead of drawing the same 200 again, so they paint once, straight from the HTML.
  const early = api.takePrefetchedFunctions(ctx.range);
  const served = view.querySelector("table#functions");
  let adopt = Boolean(early && early.inline && served && state.sort === "invocations" && state.dir === "desc" && !state.filter);
  let filterInput, shown, tiles, thead, tbody;
  if (adopt) {
    filterInput = view.querySelector("#fn-filter");
    shown = view.querySelector("#fn-count");
    tiles = view.querySelector("#fn-tiles");
    thead = served.tHead;
    tbody = served.tBodies[0];
  } else {
    filterInput = h("input", {
      type: "search",
      id: "fn-filter",
      placeholder: "name, runtime or tag (env:prod)",
      value: state.filter,
      "aria-label": "Filter functions by name, runtime or tag",
    });
    shown = h("span", { class: "muted", id: "fn-count" });
    tiles = h("div", { class: "tiles", id: "fn-tiles" });
    thead = h("thead");
    tbody = h("tbody");
    const table = h("table", { class: "grid", id: "functions" }, h("caption", { class: "skip" }, "Functions"), thead, tbody);
    const panel = h("section", { class: "panel" }, h("div", { class: "toolbar" }, filterInput, shown), table);
    view.replaceChildren(h("h1", {}, "Functions"), tiles, panel);
  }

  // A click anywhere on a row opens the function (the name link stays the keyboard path).
  tbody.addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-function]");
    if (tr && !ev.target.closest("a")) tr.querySelector("a").click();
  });
  filterInput.addEventListener("input", () => {
    state.filter = filterInput.value.trim();
    setQuery({ q: state.filter });
    drawRows();
  });

  function drawHead() {
    thead.replaceChildren(
      h(
        "tr",
        {},
        COLUMNS.map((c) =>
          h(
            "th",
            {
              scope: "col",
              class: c.text ? "" : "num",
              "aria-sort": state.sort === c.key ? (state.dir === "asc" ? "ascending" : "descending") : "none",
              dataset: { key: c.key },
            },
            h("button", { type: "button", onclick: () => sortBy(c.key) }, c.label),
          ),
        ),
        h("th", { scope: "col" }, "Trend"),
      ),
    );
  }

  function sortBy(key) {
    if (state.sort === key) state.dir = state.dir === "asc" ? "desc" : "asc";
    else {
      state.sort = key;
      state.dir = key === "function" ? "asc" : "desc";
    }
    setQuery({ sort: state.sort, dir: state.dir });
    drawHead();
    drawRows();
    const btn = thead.querySelector(`th[data-key="${key}"] button`);
    if (btn) btn.focus();
  }

  function drawTiles() {
    const t = state.rows.reduce(
      (a, r) => {
        a.inv += r.invocations;
        a.err += r.errors;
        a.cold += r.cold_starts;
        a.cost += r.estimated_cost_usd;
        return a;
      },
      { inv: 0, err: 0, cold: 0, cost: 0 },
    );
    const tile = (label, value, cls) => h("div", { class: "tile" }, h("div", { class: "label" }, label), h("div", { class: "value " + (cls || "") }, value));
    tiles.replaceChildren(
      tile("Functions", count(state.rows.length)),
      tile("Invocations", count(t.inv)),
      tile("Errors", `${count(t.err)} (${percent(t.inv ? t.err / t.inv : 0)})`, t.err ? "err-text" : ""),
      tile("Cold starts", `${count(t.cold)} (${percent(t.inv ? t.cold / t.inv : 0)})`),
      tile("Estimated cost", usd(t.cost)),
    );
  }

  function drawRows() {
    const col = COLUMNS.find((c) => c.key === state.sort) || COLUMNS[1];
    const sign = state.dir === "asc" ? 1 : -1;
    const rows = state.rows
      .filter((r) => matches(r, state.tags.get(r.function), state.filter))
      .sort((a, b) => {
        const x = col.get(a);
        const y = col.get(b);
        if (x === y) return a.function.localeCompare(b.function);
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (col.text ? String(x).localeCompare(String(y)) : x - y) * sign;
      });
    shown.textContent = `${rows.length} of ${state.rows.length} functions`;
    if (state.rows.length === 0) {
      tbody.replaceChildren(
        h("tr", {}, h("td", { colspan: COLUMNS.length + 1, class: "empty" }, "No invocations in this time range. Send data with the lambdascope extension, or widen the range.")),
      );
      return;
    }
    tbody.replaceChildren(...rows.map(rowFor));
    observeSparks();
  }

  function rowFor(r) {
    const tags = state.tags.get(r.function);
    const size = Number(tagValue(tags, "memorysize")) || null;
    const runtime = tagValue(tags, "runtime");
    const cold = coldRatio(r);
    const memCell = [mb(r.max_memory_used_mb)];
    if (size) {
      const used = (r.max_memory_used_mb || 0) / size;
      memCell.push(h("span", { class: "muted" }, " / " + size));
      memCell.push(h("span", { class: "bar" + (used > 0.9 ? " hot" : ""), title: percent(used) + " of memory size" }, h("span", { style: `width:${Math.min(100, used * 100).toFixed(0)}%` })));
    }
    const link = href(`/functions/${encodeURIComponent(r.function)}`);
    const tr = h(
      "tr",
      { class: "clickable", dataset: { function: r.function } },
      h("td", { class: "name", title: r.function }, h("a", { href: link }, r.function), runtime ? h("div", { class: "muted mono" }, runtime) : null),
      h("td", { class: "num", dataset: { col: "invocations" } }, count(r.invocations)),
      h("td", { class: "num" + (r.errors ? " err-text" : ""), dataset: { col: "errors" } }, count(r.errors)),
      h("td", { class: "num" + (r.error_rate >= 0.05 ? " err-text" : r.error_rate > 0 ? " warn-text" : ""), dataset: { col: "error_rate" } }, percent(r.error_rate)),
      h("td", { class: "num" + (cold >= 0.2 ? " cold-text" : ""), dataset: { col: "cold_starts" } }, `${count(r.cold_starts)} (${percent(cold)})`),
      h("td", { class: "num" }, ms(r.p50_duration_ms)),
      h("td", { class: "num" }, ms(r.p95_duration_ms)),
      h("td", { class: "num" }, ms(r.p99_duration_ms)),
      h("td", { class: "num" }, memCell),
      h("td", { class: "num" }, usd(r.estimated_cost_usd)),
      h("td", { class: "num", title: isoTime(r.last_seen_ms) }, ago(r.last_seen_ms)),
      h("td", { class: "spark", dataset: { spark: r.function } }),
    );
    return tr;
  }

  // Sparklines load only for rows on screen, a few at a time.
  const sparkCache = new Map();
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      observer.unobserve(e.target);
      fillSpark(e.target);
    }
  });
  function observeSparks() {
    for (const td of tbody.querySelectorAll("td.spark")) {
      const name = td.dataset.spark;
      if (sparkCache.has(name)) drawSpark(td, sparkCache.get(name));
      else observer.observe(td);
    }
  }
  async function fillSpark(td) {
    const name = td.dataset.spark;
    try {
      // ~24 buckets: enough shape for a trend at 100 px, and cheaper than the charts' 60.
      const w = state.window;
      const coarse = { from: w.from, to: w.to, step: Math.max(60e3, Math.ceil(w.span / 24 / 60e3) * 60e3) };
      const [inv, err] = await Promise.all([api.timeseries(name, "invocations", coarse), api.timeseries(name, "errors", coarse)]);
      const data = { inv: api.list(inv, "points").map((p) => p.value), err: api.list(err, "points").map((p) => p.value) };
      sparkCache.set(name, data);
      drawSpark(td, data);
    } catch (e) {
      td.title = e.message;
    }
  }
  function drawSpark(td, data) {
    const lines = [{ values: data.inv, color: "--chart-1" }];
    if (data.err.some((v) => v > 0)) lines.push({ values: data.err, color: "--chart-2" });
    td.replaceChildren(sparkline(lines, `invocations${lines.length > 1 ? " and errors" : ""} over time for ${td.dataset.spark}`));
  }

  let pending = early;
  async function load() {
    const first = pending;
    pending = null;
    state.window = first ? first.w : api.window(ctx.range);
    const body = await (first ? first.body : api.functions(state.window));
    if (!ctx.isCurrent()) return;
    state.rows = api.list(body, "functions");
    sparkCache.clear();
    if (adopt) {
      adopt = false; // the served rows stand; later loads redraw
      // The server sent the first screenful; the rest follow once it is on screen.
      const servedCount = tbody.rows.length;
      if (servedCount < state.rows.length) {
        await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
        if (!ctx.isCurrent()) return;
        const served = new Set([...tbody.rows].map((tr) => tr.dataset.function));
        const rest = state.rows.filter((r) => !served.has(r.function));
        rest.sort((a, b) => b.invocations - a.invocations || (a.function < b.function ? -1 : 1));
        tbody.append(...rest.map(rowFor));
      }
      observeSparks();
    } else {
      drawTiles();
      drawRows();
    }
    // For bench/ui.sh: rows in the DOM, then (after the next frame) on screen.
    performance.mark("functions-rendered");
    requestAnimationFrame(() => setTimeout(() => performance.mark("functions-painted"), 0));
    loadTags(state.window)
      .then((tags) => {
        if (!ctx.isCurrent()) return;
        state.tags = tags;
        drawRows();
      })
      .catch(() => {
        /* tags are decoration; the table already stands */
      });
  }

  drawHead();
  await load();
  return {
    refresh: () => load().catch(() => {}),
    dispose: () => observer.disconnect(),
  };
}
