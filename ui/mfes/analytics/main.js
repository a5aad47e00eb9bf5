// Analytics: a small bar chart (inline SVG) from the Analytics API, fetched with its own token.
import { mountMfe, h, s, findRecords, pick, renderGeneric, humanize } from "../common.js";

function pointsOf(data) {
  const rows = findRecords(data, ["series", "points", "bars", "buckets", "rows"]);
  if (rows && rows.length) {
    const pts = rows.map((r) => ({
      label: String(pick(r, ["label", "name", "day", "date", "month", "week", "x", "key"]) ?? ""),
      value: Number(pick(r, ["value", "count", "total", "y", "visits", "sessions"])),
    }));
    if (pts.every((p) => Number.isFinite(p.value))) return pts;
  }
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const nums = Object.entries(data).filter(([, v]) => typeof v === "number");
    if (nums.length > 1) return nums.map(([k, v]) => ({ label: humanize(k), value: v }));
  }
  return null;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const step = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((m) => m * p >= v);
  return step * p;
}

function shortLabel(label) {
  const d = new Date(label);
  if (/^\d{4}-\d{2}-\d{2}/.test(label) && !Number.isNaN(d.getTime())) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return label.length > 10 ? `${label.slice(0, 9)}…` : label;
}

function chart(points) {
  const W = 720;
  const H = 260;
  const pad = { l: 44, r: 12, t: 18, b: 30 };
  const max = niceMax(Math.max(...points.map((p) => p.value)));
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const step = iw / points.length;
  const bw = Math.min(56, step * 0.62);
  const y = (v) => pad.t + ih - (v / max) * ih;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const gy = pad.t + ih - f * ih;
    return s("g", {}, s("line", { x1: pad.l, x2: W - pad.r, y1: gy, y2: gy, class: f === 0 ? "axis" : "grid" }), s("text", { x: pad.l - 8, y: gy + 4, class: "tick", "text-anchor": "end", text: (max * f).toLocaleString(undefined, { maximumFractionDigits: 1, notation: max >= 10_000 ? "compact" : "standard" }) }));
  });
  const peak = Math.max(...points.map((p) => p.value));
  const bars = points.map((p, i) => {
    const x = pad.l + i * step + (step - bw) / 2;
    const top = y(Math.max(0, p.value));
    const hgt = Math.max(1, pad.t + ih - top);
    return s(
      "g",
      { class: p.value === peak ? "bar peak" : "bar" },
      s("title", { text: `${p.label}: ${p.value.toLocaleString()}` }),
      s("rect", { x, y: top, width: bw, height: hgt, rx: 4 }),
      s("text", { x: x + bw / 2, y: top - 6, class: "val", "text-anchor": "middle", text: p.value.toLocaleString(undefined, { notation: p.value >= 10_000 ? "compact" : "standard", maximumFractionDigits: 1 }) }),
      s("text", { x: x + bw / 2, y: H - 10, class: "tick", "text-anchor": "middle", text: shortLabel(p.label) }),
    );
  });
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": "Bar chart", "data-testid": "chart" }, ...grid, ...bars);
}

function renderChart(data) {
  const points = pointsOf(data);
  if (!points) return renderGeneric(data);
  const total = points.reduce((a, p) => a + p.value, 0);
  const peak = points.reduce((a, p) => (p.value > a.value ? p : a), points[0]);
  const metric = pick(data, ["metric", "name", "title", "unit"]);
  return h(
    "div",
    {},
    h(
      "div",
      { class: "stats" },
      h("div", { class: "stat" }, h("div", { class: "stat-label", text: `Total${metric ? ` ${String(metric).toLowerCase()}` : ""}` }), h("div", { class: "stat-value", text: total.toLocaleString() })),
      h("div", { class: "stat" }, h("div", { class: "stat-label", text: "Average" }), h("div", { class: "stat-value", text: Math.round(total / points.length).toLocaleString() })),
      h("div", { class: "stat" }, h("div", { class: "stat-label", text: "Peak" }), h("div", { class: "stat-value", text: peak.value.toLocaleString() }), h("div", { class: "stat-hint muted", text: peak.label })),
    ),
    chart(points),
  );
}

mountMfe({
  subtitle: "Traffic and engagement over the last days",
  dataTitle: "Activity",
  foreignAudience: "https://api.portico.dev/core",
  foreignLabel: "Core platform API",
  renderData: renderChart,
});
