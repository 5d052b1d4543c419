// Custom metrics: pick a name and tags; points are drawn per tag set, distributions as
// percentiles over time.
import * as api from "../api.js";
import { h, count } from "../format.js";
import { timeChart, loadCharts } from "../charts.js";
import { setQuery } from "../app.js";

const KNOWN = [
  "aws.lambda.enhanced.invocations",
  "aws.lambda.enhanced.errors",
  "aws.lambda.enhanced.duration",
  "aws.lambda.enhanced.billed_duration",
  "aws.lambda.enhanced.init_duration",
  "aws.lambda.enhanced.max_memory_used",
  "aws.lambda.enhanced.estimated_cost",
  "aws.lambda.enhanced.post_runtime_duration",
  "aws.lambda.enhanced.timeouts",
  "aws.lambda.enhanced.out_of_memory",
];

const COLORS = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5"];

function fmt(v) {
  if (Math.abs(v) >= 1000 || Number.isInteger(v)) return count(v);
  return v.toPrecision(3);
}

/** Buckets points per tag set (summed for counts, averaged otherwise). */
function pointSeries(points, xs, step) {
  const groups = new Map();
  for (const p of points) {
    const key = (p.tags || []).join(",") || "(no tags)";
    if (!groups.has(key)) groups.set(key, { sums: xs.map(() => 0), n: xs.map(() => 0), type: p.type });
    const g = groups.get(key);
    const i = Math.floor((p.ts_ms - xs[0]) / step);
    if (i >= 0 && i < xs.length) {
      g.sums[i] += p.value;
      g.n[i] += 1;
    }
  }
  return [...groups.entries()].slice(0, 5).map(([label, g], i) => ({
    label,
    color: COLORS[i],
    points: true,
    values: g.sums.map((s, j) => (g.n[j] ? (g.type === "count" ? s : s / g.n[j]) : null)),
  }));
}

function sketchSeries(sketches, xs, step) {
  const merged = xs.map(() => ({ count: 0, p50: [], p95: [], p99: [] }));
  for (const s of sketches) {
    const i = Math.floor((s.ts_ms - xs[0]) / step);
    if (i < 0 || i >= xs.length || !s.count) continue;
    merged[i].count += s.count;
    for (const q of ["p50", "p95", "p99"]) if (s[q] !== null) merged[i][q].push([s[q], s.count]);
  }
  // Several sketches in one bucket: a count-weighted mean of their quantiles (an approximation,
  // shown as such in the legend).
  const wavg = (arr) => (arr.length ? arr.reduce((a, [v, n]) => a + v * n, 0) / arr.reduce((a, [, n]) => a + n, 0) : null);
  return {
    count: merged.map((m) => (m.count ? m.count : null)),
    p50: merged.map((m) => wavg(m.p50)),
    p95: merged.map((m) => wavg(m.p95)),
    p99: merged.map((m) => wavg(m.p99)),
  };
}

export async function render(view, ctx) {
  const nameInput = h("input", { type: "text", id: "metric-name", list: "metric-names", value: ctx.query.get("name") || "", placeholder: "metric name", "aria-label": "Metric name", style: "min-width:320px" });
  const tagsInput = h("input", { type: "text", id: "metric-tags", value: ctx.query.get("tags") || "", placeholder: "tags, e.g. functionname:checkout,env:prod", "aria-label": "Tags (all must match)", style: "min-width:320px" });
  const form = h(
    "form",
    { class: "toolbar", "aria-label": "Choose a metric" },
    nameInput,
    h("datalist", { id: "metric-names" }, KNOWN.map((n) => h("option", { value: n }))),
    tagsInput,
    h("button", { type: "submit", class: "primary" }, "Show"),
  );
  const out = h("div", { id: "metric-result" });
  view.replaceChildren(h("h1", {}, "Metrics"), h("section", { class: "panel" }, form), out);

  async function show() {
    const name = nameInput.value.trim();
    if (!name) {
      out.replaceChildren(h("p", { class: "muted" }, "Pick a metric: a custom metric sent with lambda_metric or DogStatsD, or an enhanced metric from the list."));
      return;
    }
    const w = api.window(ctx.range);
    const [body] = await Promise.all([api.metrics({ name, tags: tagsInput.value.trim(), from: w.from, to: w.to, limit: 10000 }), loadCharts()]);
    if (!ctx.isCurrent()) return;
    const start = Math.floor(w.from / w.step) * w.step;
    const xs = [];
    for (let t = start; t < w.to; t += w.step) xs.push(t);
    const points = api.list(body, "points");
    const sketches = body.sketches || [];
    const charts = [];
    if (points.length) {
      charts.push(timeChart({ title: `${name} (points by tag set)`, xs, format: fmt, series: pointSeries(points, xs, w.step) }));
    }
    if (sketches.length) {
      const s = sketchSeries(sketches, xs, w.step);
      charts.push(
        timeChart({
          title: `${name} (distribution percentiles)`,
          xs,
          format: fmt,
          series: [
            { label: "p50", values: s.p50, color: "--chart-3", points: true },
            { label: "p95", values: s.p95, color: "--chart-1", points: true },
            { label: "p99", values: s.p99, color: "--chart-2", points: true },
          ],
        }),
        timeChart({ title: `${name} (count)`, xs, format: fmt, series: [{ label: "count", values: s.count, color: "--chart-5", bars: true }] }),
      );
    }
    const summary = h("p", { class: "muted" }, `${points.length} points, ${sketches.length} distribution sketches${body.next_cursor ? " (first page only)" : ""}.`);
    out.replaceChildren(summary, charts.length ? h("div", { class: "charts" }, charts) : h("div", { class: "panel empty" }, `No data for ${name} with these tags in this time range.`));
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    setQuery({ name: nameInput.value.trim(), tags: tagsInput.value.trim() });
    show().catch((e) => out.replaceChildren(h("div", { class: "error-box", role: "alert" }, e.message)));
  });
  await show();
  return { refresh: () => show().catch(() => {}) };
}
