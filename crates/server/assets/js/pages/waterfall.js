// The span waterfall: spans as a tree (inferred trigger span → aws.lambda → user spans), one
// row each, bars placed on a shared time axis. Clicking (or Enter on) a row shows its tags.
import { h, ms } from "../format.js";

function kindOf(span) {
  if (span.error) return "error";
  if (/cold_start|\.load$|init/.test(span.name)) return "cold";
  if (span.meta && (span.meta["_inferred_span.tag_source"] || span.meta["_inferred_span.synchronicity"])) return "inferred";
  if (span.name.startsWith("aws.") && span.name !== "aws.lambda") return "inferred";
  return "";
}

/** Depth-first order: each span followed by its children by start time. */
export function orderSpans(spans) {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parent_id && s.parent_id !== "0" && ids.has(s.parent_id) && s.parent_id !== s.span_id) {
      if (!children.has(s.parent_id)) children.set(s.parent_id, []);
      children.get(s.parent_id).push(s);
    } else roots.push(s);
  }
  const byStart = (a, b) => a.start_ns - b.start_ns;
  const out = [];
  const seen = new Set();
  const walk = (s, depth) => {
    if (seen.has(s.span_id)) return;
    seen.add(s.span_id);
    out.push({ span: s, depth });
    for (const c of (children.get(s.span_id) || []).sort(byStart)) walk(c, depth + 1);
  };
  roots.sort(byStart).forEach((r) => walk(r, 0));
  return out;
}

function detail(span, t0) {
  const rows = [
    ["name", span.name],
    ["service", span.service],
    ["resource", span.resource],
    ["type", span.type],
    ["span id", span.span_id],
    ["parent id", span.parent_id],
    ["start", "+" + ms((span.start_ns - t0) / 1e6)],
    ["duration", ms(span.duration_ns / 1e6)],
    ["error", span.error ? "yes" : "no"],
  ];
  for (const [k, v] of Object.entries(span.meta || {})) rows.push([k, v]);
  for (const [k, v] of Object.entries(span.metrics || {})) rows.push([k, String(v)]);
  return h(
    "div",
    { class: "span-detail", id: "span-detail", role: "region", "aria-label": `Tags of span ${span.name}` },
    h("h2", {}, "Span ", h("span", { class: "mono" }, span.name)),
    h("table", {}, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("td", { class: "mono" }, k), h("td", { class: "mono" }, v))))),
  );
}

export function waterfall(spans) {
  const ordered = orderSpans(spans);
  const t0 = Math.min(...spans.map((s) => s.start_ns));
  const t1 = Math.max(...spans.map((s) => s.start_ns + s.duration_ns));
  const total = Math.max(1, t1 - t0);
  const holder = h("div", { class: "span-detail-holder" });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h("span", {}, ms((total * f) / 1e6)));
  const rows = ordered.map(({ span, depth }) => {
    const left = ((span.start_ns - t0) / total) * 100;
    const width = Math.max(0.3, (span.duration_ns / total) * 100);
    const kind = kindOf(span);
    const label = h(
      "button",
      {
        type: "button",
        class: "wf-label",
        style: `padding-left:${6 + depth * 14}px`,
        title: `${span.name} · ${span.resource}`,
        "aria-label": `${span.name} ${span.resource}, ${ms(span.duration_ns / 1e6)}${span.error ? ", error" : ""}`,
      },
      span.error ? h("span", { class: "err-text", "aria-hidden": "true" }, "● ") : null,
      span.name,
      span.resource && span.resource !== span.name ? h("span", { class: "muted" }, " " + span.resource) : null,
    );
    // The duration goes right of the bar; if no room there, left of it; if neither, inside it.
    let textPos = `left:${(left + width + 0.8).toFixed(2)}%`;
    let inside = false;
    if (left + width > 82) {
      if (left > 18) textPos = `right:${(100 - left + 0.8).toFixed(2)}%`;
      else {
        textPos = `right:${(100 - left - width + 0.8).toFixed(2)}%`;
        inside = true;
      }
    }
    const row = h(
      "div",
      { class: "wf-row", dataset: { span: span.span_id, name: span.name }, role: "listitem" },
      label,
      h(
        "div",
        { class: "wf-track" },
        h("div", { class: `wf-bar ${kind}`, style: `left:${left.toFixed(2)}%;width:${width.toFixed(2)}%` }),
        h("span", { class: "wf-time" + (inside ? " inside" : ""), style: textPos }, ms(span.duration_ns / 1e6)),
      ),
    );
    label.addEventListener("click", () => {
      for (const r of list.querySelectorAll(".wf-row.selected")) r.classList.remove("selected");
      row.classList.add("selected");
      holder.replaceChildren(detail(span, t0));
    });
    return row;
  });
  const list = h("div", { class: "waterfall", role: "list", "aria-label": "Spans" }, rows);
  const legend = h(
    "p",
    { class: "muted", style: "font-size:12px" },
    h("span", { class: "swatch inferred" }), " inferred trigger ",
    h("span", { class: "swatch" }), " span ",
    h("span", { class: "swatch cold" }), " cold start ",
    h("span", { class: "swatch error" }), " error",
    " · select a span to see its tags",
  );
  return h("div", {}, h("div", { class: "wf-axis", "aria-hidden": "true" }, h("span", {}), h("div", { class: "ticks" }, ticks)), list, legend, holder);
}
