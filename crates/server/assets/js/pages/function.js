// One function: its charts over the range, configuration tags and recent invocations.
import * as api from "../api.js";
import { h, count, percent, ms, mb, usd, clock, isoTime, statusBadge, coldBadge } from "../format.js";
import { timeChart, loadCharts } from "../charts.js";
import { href, setQuery } from "../app.js";

const FILTERS = [
  ["", "All"],
  ["errors", "Errors"],
  ["timeouts", "Timeouts"],
  ["cold_starts", "Cold starts"],
];

/**
 * Buckets a metric's points (averaged) or sketches (count-weighted mean) onto the chart's x
 * positions. Enhanced metrics arrive as either, depending on the sender.
 */
export function bucketMetric(body, xs, step) {
  const sums = xs.map(() => 0);
  const weights = xs.map(() => 0);
  const start = xs.length ? xs[0] : 0;
  const put = (ts, value, weight) => {
    const i = Math.floor((ts - start) / step);
    if (i >= 0 && i < xs.length && Number.isFinite(value)) {
      sums[i] += value * weight;
      weights[i] += weight;
    }
  };
  for (const p of api.list(body, "points")) put(p.ts_ms, p.value, 1);
  for (const s of (body && body.sketches) || []) if (s.count > 0 && s.avg !== null) put(s.ts_ms, s.avg, s.count);
  return sums.map((s, i) => (weights[i] ? s / weights[i] : null));
}

function tagsOf(body) {
  const all = api.list(body, "points").concat((body && body.sketches) || []);
  const last = all.reduce((a, p) => (!a || p.ts_ms >= a.ts_ms ? p : a), null);
  return last ? (last.tags || []).filter((t) => !t.startsWith("cold_start:")) : [];
}

export async function render(view, ctx) {
  const name = ctx.params[0];
  const w = api.window(ctx.range);
  const filter = ctx.query.get("filter") || "";
  const fnTag = "functionname:" + name;

  const series = (metric) => api.timeseries(name, metric, w).then((b) => api.list(b, "points"));
  const metric = (metricName) => api.metrics({ name: metricName, from: w.from, to: w.to, tags: fnTag, limit: 10000 }).catch(() => null);
  const [inv, err, cold, p50, p95, p99, mem, cost, initBody, postBody, tagBody, latest] = await Promise.all([
    series("invocations"),
    series("errors"),
    series("cold_starts"),
    series("duration_p50"),
    series("duration_p95"),
    series("duration_p99"),
    series("max_memory"),
    series("cost"),
    metric("aws.lambda.enhanced.init_duration"),
    metric("aws.lambda.enhanced.post_runtime_duration"),
    api.metrics({ name: "aws.lambda.enhanced.invocations", from: w.from, to: w.to, tags: fnTag, limit: 1000 }).catch(() => null),
    api.invocations(name, { limit: 1 }).catch(() => null),
    loadCharts(),
  ]);
  if (!ctx.isCurrent()) return null;

  const xs = inv.map((p) => p.ts_ms);
  const step = xs.length > 1 ? xs[1] - xs[0] : w.step;
  const vals = (pts) => pts.map((p) => p.value);
  const sum = (pts) => pts.reduce((a, p) => a + (p.value || 0), 0);
  const lastInv = latest ? api.list(latest, "items")[0] : null;
  const memorySize = lastInv && lastInv.memory_size_mb;

  const totalInv = sum(inv);
  const totalErr = sum(err);
  const totalCold = sum(cold);
  const tile = (label, value, cls) => h("div", { class: "tile" }, h("div", { class: "label" }, label), h("div", { class: "value " + (cls || "") }, value));
  const p95max = Math.max(0, ...vals(p95).filter((v) => v !== null));

  const tags = tagsOf(tagBody);
  if (lastInv) {
    if (memorySize && !tags.some((t) => t.startsWith("memorysize:"))) tags.push("memorysize:" + memorySize);
    if (lastInv.architecture && !tags.some((t) => t.startsWith("architecture:"))) tags.push("architecture:" + lastInv.architecture);
  }

  const invTable = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const filterBar = h(
    "div",
    { class: "toolbar", role: "group", "aria-label": "Show invocations" },
    FILTERS.map(([key, label]) =>
      h("button", { type: "button", "aria-pressed": String(filter === key), dataset: { filter: key }, onclick: () => setFilter(key) }, label),
    ),
  );

  view.replaceChildren(
    h("div", { class: "crumbs" }, h("a", { href: href("/") }, "Functions"), " / "),
    h("h1", {}, name),
    tags.length ? h("div", { class: "chips", "aria-label": "Configuration tags", style: "margin-bottom:12px" }, tags.sort().map((t) => h("span", { class: "chip" }, t))) : null,
    h(
      "div",
      { class: "tiles" },
      tile("Invocations", count(totalInv)),
      tile("Errors", `${count(totalErr)} (${percent(totalInv ? totalErr / totalInv : 0)})`, totalErr ? "err-text" : ""),
      tile("Cold starts", `${count(totalCold)} (${percent(totalInv ? totalCold / totalInv : 0)})`),
      tile("Worst p95", ms(p95max || null)),
      tile("Estimated cost", usd(sum(cost))),
    ),
    h(
      "div",
      { class: "charts" },
      timeChart({
        title: "Invocations and errors",
        xs,
        integer: true,
        format: (v) => count(v),
        series: [
          { label: "Invocations", values: vals(inv), color: "--chart-1", bars: true },
          { label: "Errors", values: vals(err), color: "--chart-2" },
        ],
      }),
      timeChart({
        title: "Duration",
        xs,
        format: ms,
        series: [
          { label: "p50", values: vals(p50), color: "--chart-3" },
          { label: "p95", values: vals(p95), color: "--chart-1" },
          { label: "p99", values: vals(p99), color: "--chart-2" },
        ],
      }),
      timeChart({
        title: "Cold starts and init duration",
        xs,
        integer: true,
        format: (v) => count(v),
        format2: ms,
        series: [
          { label: "Cold starts", values: vals(cold), color: "--chart-5", bars: true },
          // aws.lambda.enhanced.init_duration is in seconds (post_runtime_duration in ms).
          { label: "Init duration (avg)", values: initBody ? bucketMetric(initBody, xs, step).map((v) => (v === null ? null : v * 1000)) : [], color: "--chart-4", scale: "y2", points: true },
        ],
      }),
      timeChart({
        title: "Memory",
        xs,
        format: mb,
        series: [{ label: "Max memory used", values: vals(mem), color: "--chart-1" }].concat(
          memorySize ? [{ label: "Memory size", values: xs.map(() => memorySize), color: "--chart-2" }] : [],
        ),
      }),
      timeChart({ title: "Estimated cost", xs, format: usd, series: [{ label: "Cost", values: vals(cost), color: "--chart-3", bars: true }] }),
      timeChart({
        title: "Post-runtime duration",
        xs,
        format: ms,
        empty: "No aws.lambda.enhanced.post_runtime_duration in this time range",
        series: [{ label: "Post-runtime (avg)", values: postBody ? bucketMetric(postBody, xs, step) : [], color: "--chart-4", points: true }],
      }),
    ),
    h(
      "section",
      { class: "panel", "aria-label": "Recent invocations" },
      h("h2", {}, "Recent invocations"),
      filterBar,
      h(
        "table",
        { class: "grid", id: "invocations" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Request ID", "Start", "Duration", "Cold start", "Status", "Trigger", "Memory used", "Init", "Est. cost"].map((c, i) =>
              h("th", { scope: "col", class: i >= 2 && i !== 3 && i !== 4 && i !== 5 ? "num" : "" }, c),
            ),
          ),
        ),
        invTable,
      ),
      more,
    ),
  );

  let cursor = null;
  let activeFilter = filter;
  async function loadInvocations(append) {
    const params = { from: w.from, to: w.to, limit: 50, cursor: append ? cursor : null };
    if (activeFilter) params[activeFilter] = true;
    const body = await api.invocations(name, params);
    if (!ctx.isCurrent()) return;
    const items = api.list(body, "items");
    cursor = body.next_cursor || null;
    more.hidden = !cursor;
    const rows = items.map((i) =>
      h(
        "tr",
        { dataset: { request: i.request_id } },
        h("td", { class: "mono" }, h("a", { href: href(`/invocations/${encodeURIComponent(i.request_id)}`, { function: name, trace: i.trace_id }) }, i.request_id)),
        h("td", { title: isoTime(i.start_ms) }, clock(i.start_ms, true)),
        h("td", { class: "num" }, ms(i.duration_ms)),
        h("td", {}, coldBadge(i.cold_start)),
        h("td", {}, statusBadge(i)),
        h("td", {}, i.trigger || h("span", { class: "muted" }, "–")),
        h("td", { class: "num" }, mb(i.max_memory_used_mb), i.memory_size_mb ? h("span", { class: "muted" }, " / " + i.memory_size_mb) : null),
        h("td", { class: "num" }, i.init_duration_ms ? ms(i.init_duration_ms) : ""),
        h("td", { class: "num" }, usd(i.estimated_cost_usd)),
      ),
    );
    if (!append && rows.length === 0) {
      invTable.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No matching invocations in this time range.")));
    } else if (append) invTable.append(...rows);
    else invTable.replaceChildren(...rows);
  }
  function setFilter(key) {
    activeFilter = key;
    setQuery({ filter: key });
    for (const b of filterBar.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.filter === key));
    loadInvocations(false);
  }
  more.addEventListener("click", () => loadInvocations(true));
  await loadInvocations(false);
  return null;
}
