// One invocation: its span waterfall beside its logs and REPORT figures. Reached by request
// id (/invocations/<id>?function=&trace=) or by trace id (/traces/<id>).
import * as api from "../api.js";
import { h, ms, mb, clock, isoTime, coldBadge } from "../format.js";
import { href } from "../app.js";
import { waterfall } from "./waterfall.js";
import { logLine } from "./logs.js";

/** Fields of a platform REPORT line ("REPORT RequestId: … Duration: 12.3 ms …"). */
export function parseReport(message) {
  if (!message || !message.startsWith("REPORT")) return null;
  const field = (label) => {
    const m = message.match(new RegExp(label + ":\\s*([^\\t\\n]+)"));
    return m ? m[1].trim() : null;
  };
  const num = (label) => {
    const v = field(label);
    return v === null ? null : parseFloat(v);
  };
  return {
    duration: num("Duration"),
    billed: num("Billed Duration"),
    memorySize: num("Memory Size"),
    maxMemory: num("Max Memory Used"),
    init: num("Init Duration"),
    status: field("Status"),
    errorType: field("Error Type"),
  };
}

const ALL_TIME = () => ({ from: 0, to: Date.now() + 60e3 });

async function logsFor(params) {
  const t = ALL_TIME();
  const body = await api.logs(Object.assign({ from: t.from, to: t.to, limit: 1000 }, params));
  return api.list(body, "items");
}

export async function render(view, ctx) {
  let requestId = ctx.kind === "trace" ? ctx.query.get("request_id") : ctx.params[0];
  let traceId = ctx.kind === "trace" ? ctx.params[0] : ctx.query.get("trace");
  let fn = ctx.query.get("function");

  let logs = requestId ? await logsFor({ request_id: requestId }) : [];
  if (!traceId) {
    const withTrace = logs.find((l) => l.trace_id);
    if (withTrace) traceId = withTrace.trace_id;
  }
  let spans = [];
  let traceError = null;
  if (traceId) {
    try {
      spans = api.list(await api.trace(traceId), "spans");
    } catch (e) {
      traceError = e.status === 404 ? "No spans were stored for this trace." : e.message;
    }
  }
  const lambdaSpan = spans.find((s) => s.name === "aws.lambda" && (!requestId || s.meta.request_id === requestId)) || spans.find((s) => s.name === "aws.lambda");
  if (lambdaSpan) {
    requestId = requestId || lambdaSpan.meta.request_id || null;
    fn = fn || lambdaSpan.meta.functionname || null;
    if (ctx.kind === "trace" && requestId && logs.length === 0) logs = await logsFor({ request_id: requestId });
  }
  if (traceId) {
    const seen = new Set(logs.map((l) => l.ts_ms + "\u0000" + l.message));
    for (const l of await logsFor({ trace_id: traceId }).catch(() => [])) {
      if (!seen.has(l.ts_ms + "\u0000" + l.message)) logs.push(l);
    }
  }
  if (!ctx.isCurrent()) return null;
  logs.sort((a, b) => a.ts_ms - b.ts_ms);
  fn = fn || (logs.find((l) => l.function) || {}).function || null;

  const reportLine = logs.find((l) => l.message && l.message.startsWith("REPORT"));
  const report = reportLine ? parseReport(reportLine.message) : null;
  const isError = (lambdaSpan && lambdaSpan.error) || (report && report.status && report.status !== "success");
  const cold = (lambdaSpan && lambdaSpan.meta.cold_start === "true") || (report && report.init !== null);
  let status = h("span", { class: "badge ok" }, "ok");
  if (report && report.status === "timeout") status = h("span", { class: "badge err" }, "timeout");
  else if (report && report.errorType) status = h("span", { class: "badge err" }, report.errorType);
  else if (isError) status = h("span", { class: "badge err" }, (lambdaSpan && lambdaSpan.meta["error.type"]) || "error");

  const fig = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
  const reportBox = report
    ? h(
        "dl",
        { class: "report", "aria-label": "REPORT figures" },
        fig("Duration", ms(report.duration)),
        fig("Billed duration", ms(report.billed)),
        fig("Memory used", `${mb(report.maxMemory)} / ${mb(report.memorySize)}`),
        fig("Init duration", report.init !== null ? ms(report.init) : "– (warm)"),
        fig("Status", report.status || (isError ? "error" : "success")),
      )
    : h("p", { class: "muted" }, "No REPORT line stored for this invocation yet.");

  const started = lambdaSpan ? lambdaSpan.start_ns / 1e6 : logs.length ? logs[0].ts_ms : null;
  const trigger = lambdaSpan && lambdaSpan.meta["function_trigger.event_source"];
  const title = requestId || "trace " + traceId;

  const logPane = h(
    "section",
    { class: "panel", "aria-label": "Invocation logs", id: "invocation-logs" },
    h("h2", {}, `Logs (${logs.length})`),
    logs.length
      ? h("div", { class: "logs compact" }, logs.map((l) => logLine(l, { compact: true })))
      : h("p", { class: "muted" }, "No logs stored for this request id or trace id."),
  );
  const tracePane = h(
    "section",
    { class: "panel", "aria-label": "Trace waterfall", id: "trace" },
    h("h2", {}, "Trace", traceId ? h("span", { class: "muted mono" }, " " + traceId) : null),
    spans.length ? waterfall(spans) : h("p", { class: "muted" }, traceError || "No trace id is known for this invocation (tracing may be off)."),
  );

  view.replaceChildren(
    h(
      "div",
      { class: "crumbs" },
      h("a", { href: href("/") }, "Functions"),
      " / ",
      fn ? h("a", { href: href(`/functions/${encodeURIComponent(fn)}`) }, fn) : "unknown function",
      " / ",
    ),
    h("h1", {}, h("span", { class: "mono" }, title), status, coldBadge(cold)),
    h(
      "p",
      { class: "muted" },
      started ? h("span", { title: isoTime(started) }, "Started " + clock(started, true)) : null,
      trigger ? ` · trigger ${trigger}` : null,
      requestId ? " · " : null,
      requestId ? h("a", { href: href("/logs", { request_id: requestId }) }, "all logs of this request") : null,
    ),
    h("section", { class: "panel", "aria-label": "Report" }, h("h2", {}, "Report"), reportBox),
    h("div", { class: "split" }, tracePane, logPane),
  );
  return null;
}
