// Charts: uPlot (vendored, global `uPlot`) for time series, a hand-made SVG for sparklines
// (200 of them must cost nothing on the home page).
import { h, svg } from "./format.js";

let uplotLoading = null;

/** Loads uPlot (script + stylesheet) once, on the first page that draws a chart; the home
 *  page never pays for it. */
export function loadCharts() {
  if (window.uPlot) return Promise.resolve();
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = "/assets/vendor/uplot/uPlot.min.css";
      document.head.append(css);
      const s = document.createElement("script");
      s.src = "/assets/vendor/uplot/uPlot.iife.min.js";
      s.onload = () => resolve();
      s.onerror = () => {
        uplotLoading = null;
        reject(new Error("the chart library failed to load; reload the page"));
      };
      document.head.append(s);
    });
  }
  return uplotLoading;
}

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * A time-series panel.
 * spec = { title, xs: [ms...], series: [{label, values, color: "--chart-1", bars?, scale?}],
 *          format: v => string, format2?: for the right axis (series with scale "y2") }
 */
export function timeChart(spec) {
  const box = h("section", { class: "panel chart", "aria-label": spec.title }, h("h2", {}, spec.title));
  const hasData = spec.series.some((s) => s.values.some((v) => v !== null && v !== undefined));
  if (!hasData || spec.xs.length === 0) {
    box.append(h("div", { class: "nodata" }, spec.empty || "No data in this time range"));
    return box;
  }
  const fg = cssVar("--muted");
  const grid = cssVar("--border");
  const axis = (scale, fmt, side) => ({
    scale,
    side,
    stroke: fg,
    grid: { stroke: grid, width: 1, show: side !== 1 },
    ticks: { stroke: grid, width: 1 },
    values: (u, vals) => vals.map((v) => (v === null || (spec.integer && scale === "y" && !Number.isInteger(v)) ? "" : fmt(v))),
    size: 64,
  });
  const bars = window.uPlot && uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : null;
  const opts = {
    width: 400,
    height: 190,
    cursor: { points: { size: 6 } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
    axes: [
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
      axis("y", spec.format, 3),
    ],
    series: [{ value: (u, v) => (v === null ? "–" : new Date(v * 1000).toLocaleString("en-GB", { hour12: false })) }].concat(
      spec.series.map((s) => {
        const color = cssVar(s.color || "--chart-1");
        const fmt = s.scale === "y2" ? spec.format2 || spec.format : spec.format;
        return {
          label: s.label,
          scale: s.scale || "y",
          stroke: color,
          width: s.bars ? 1 : 2,
          fill: s.bars ? color + "99" : undefined,
          paths: s.bars && bars ? bars : undefined,
          // Sparse data (a few invocations in a long range) would draw no line at all: show points.
          points: { show: s.points || (!s.bars && sparse(s.values)), size: 5, fill: color },
          spanGaps: false,
          value: (u, v) => (v === null || v === undefined ? "–" : fmt(v)),
        };
      }),
    ),
  };
  if (spec.series.some((s) => s.scale === "y2")) {
    opts.scales.y2 = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
    opts.axes.push(axis("y2", spec.format2 || spec.format, 1));
  }
  const data = [spec.xs.map((t) => t / 1000)].concat(spec.series.map((s) => s.values.map((v) => (v === undefined ? null : v))));
  const host = h("div", { class: "plot" });
  box.append(host);
  if (!window.uPlot) {
    host.append(h("div", { class: "nodata" }, "Chart library failed to load"));
    return box;
  }
  const plot = new uPlot(opts, data, host);
  // Size to the panel, and follow it when the window changes.
  const fit = () => {
    const w = Math.max(240, box.clientWidth - 24);
    if (Math.abs(plot.width - w) > 2) plot.setSize({ width: w, height: 190 });
  };
  new ResizeObserver(fit).observe(box);
  requestAnimationFrame(fit);
  return box;
}

/** True when most non-empty values have no non-empty neighbour (a line would be invisible). */
function sparse(values) {
  let alone = 0;
  let present = 0;
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    present += 1;
    const prev = values[i - 1];
    const next = values[i + 1];
    if ((prev === null || prev === undefined) && (next === null || next === undefined)) alone += 1;
  });
  return present > 0 && alone * 2 >= present;
}

/** A 100×24 sparkline of one or more series ([{values, color}]; nulls are gaps), sharing a scale. */
export function sparkline(lines, label) {
  const w = 100;
  const hgt = 24;
  const el = svg("svg", { width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: "img", "aria-label": label });
  const max = Math.max(1e-9, ...lines.flatMap((l) => l.values.filter((v) => v !== null && v !== undefined)));
  for (const line of lines) {
    const values = line.values;
    const step = values.length > 1 ? w / (values.length - 1) : w;
    let d = "";
    let pen = false;
    values.forEach((v, i) => {
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      const x = (i * step).toFixed(1);
      const y = (hgt - 2 - (v / max) * (hgt - 4)).toFixed(1);
      d += (pen ? "L" : "M") + x + " " + y;
      pen = true;
    });
    if (d) el.append(svg("path", { d, fill: "none", stroke: cssVar(line.color), "stroke-width": 1.5, "stroke-linejoin": "round" }));
  }
  return el;
}
