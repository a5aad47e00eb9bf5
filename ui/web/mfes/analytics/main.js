// Analytics: small bar charts (inline SVG) from the Analytics API. Fetch-only: the shell makes
// the API call with the token (DPoP-bound where the provider offers it); this page never holds one.
import { mountMfe, h, s, findRecords, pick, renderGeneric, humanize } from "./common.js";

const NUMBERS = ["points", "values", "series", "data"];

// Shapes understood: reports with a numeric array (`{title, points: [..]}`), a list of
// `{label, value}` points, or an object of numbers. Anything else is shown generically.
function seriesOf(data) {
  const rows = findRecords(data, ["reports", "series", "points", "bars", "buckets", "rows"]);
  if (rows && rows.length) {
    const multi = rows.filter((r) => NUMBERS.some((k) => Array.isArray(r[k]) && r[k].every((n) => typeof n === "number")));
    if (multi.length === rows.length) {
      return rows.map((r) => {
        const nums = r[NUMBERS.find((k) => Array.isArray(r[k]))];
        const labels = Array.isArray(r.labels) && r.labels.length === nums.length ? r.labels.map(String) : nums.map((_, i) => `${i + 1}`);
        return { title: String(pick(r, ["title", "name", "label", "id"]) ?? "Report"), points: nums.map((value, i) => ({ label: labels[i], value })) };
      });
    }
    const pts = rows.map((r) => ({
      label: String(pick(r, ["label", "name", "day", "date", "month", "week", "x", "key"]) ?? ""),
      value: Number(pick(r, ["value", "count", "total", "y", "visits", "sessions"])),
    }));
    if (pts.every((p) => Number.isFinite(p.value))) return [{ title: String(pick(data, ["metric", "title", "name"]) ?? "Activity"), points: pts }];
  }
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const nums = Object.entries(data).filter(([, v]) => typeof v === "number");
    if (nums.length > 1) return [{ title: "Overview", points: nums.map(([k, v]) => ({ label: humanize(k), value: v })) }];
  }
  return null;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((m) => m * p >= v - 1e-9) * p;
}

function num(v, compact = false) {
  return v.toLocaleString(undefined, { maximumFractionDigits: 2, notation: compact && Math.abs(v) >= 10_000 ? "compact" : "standard" });
}

function chart(points, W, H) {
  const pad = { l: 40, r: 8, t: 20, b: 26 };
  const max = niceMax(Math.max(...points.map((p) => p.value)));
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const step = iw / points.length;
  const bw = Math.min(48, step * 0.6);
  const y = (v) => pad.t + ih - (v / max) * ih;
  const peak = Math.max(...points.map((p) => p.value));
  const grid = [0, 0.5, 1].map((f) => {
    const gy = pad.t + ih - f * ih;
    return s("g", {}, s("line", { x1: pad.l, x2: W - pad.r, y1: gy, y2: gy, class: f === 0 ? "axis" : "grid" }), s("text", { x: pad.l - 8, y: gy + 4, class: "tick", "text-anchor": "end", text: num(max * f, true) }));
  });
  const bars = points.map((p, i) => {
    const x = pad.l + i * step + (step - bw) / 2;
    const top = y(Math.max(0, p.value));
    return s(
      "g",
      { class: p.value === peak ? "bar peak" : "bar" },
      s("title", { text: `${p.label}: ${num(p.value)}` }),
      s("rect", { x, y: top, width: bw, height: Math.max(1, pad.t + ih - top), rx: 4 }),
      s("text", { x: x + bw / 2, y: top - 6, class: "val", "text-anchor": "middle", text: num(p.value, true) }),
      s("text", { x: x + bw / 2, y: H - 8, class: "tick", "text-anchor": "middle", text: p.label.length > 10 ? `${p.label.slice(0, 9)}…` : p.label }),
    );
  });
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": "Bar chart", "data-testid": "chart" }, ...grid, ...bars);
}

function trend(points) {
  if (points.length < 2 || points[0].value === 0) return null;
  const change = (points[points.length - 1].value - points[0].value) / Math.abs(points[0].value);
  const dir = change > 0 ? "up" : change < 0 ? "down" : "flat";
  return h("span", { class: `delta delta-${dir}`, title: "Last value against the first" }, `${{ up: "▲", down: "▼", flat: "■" }[dir]} ${Math.abs(change * 100).toLocaleString(undefined, { maximumFractionDigits: 1 })} %`);
}

function renderCharts(data) {
  const series = seriesOf(data);
  if (!series) return renderGeneric(data);
  const wide = series.length === 1;
  return h(
    "div",
    { class: `reports ${wide ? "reports-1" : ""}` },
    ...series.map((r) => {
      const last = r.points[r.points.length - 1]?.value ?? 0;
      return h(
        "div",
        { class: "report", "data-testid": "report" },
        h("div", { class: "report-head" }, h("div", { class: "report-title", text: r.title }), h("div", { class: "report-figure" }, h("span", { class: "report-value", text: num(last, true) }), trend(r.points))),
        chart(r.points, wide ? 720 : 360, wide ? 250 : 210),
      );
    }),
  );
}

mountMfe({
  subtitle: "Reports on usage and revenue",
  dataTitle: "Reports",
  foreignAudience: "https://api.portico.dev/core",
  foreignLabel: "Core platform API",
  renderData: renderCharts,
});
