// Dashboard: key figures from the Core API, fetched with a token whose audience is that API.
import { mountMfe, h, findRecords, pick, renderGeneric, humanize, formatValue } from "./common.js";

// `{ "dashboard": { ... } }` and similar single-key wrappers: look inside.
function unwrap(data) {
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const keys = Object.keys(data);
    const inner = keys.length === 1 ? data[keys[0]] : undefined;
    if (inner && typeof inner === "object" && !Array.isArray(inner)) return inner;
  }
  return data;
}

function kpisOf(data) {
  const rows = findRecords(data, ["kpis", "metrics", "cards"]);
  if (rows && rows.length && rows.every((r) => pick(r, ["value", "current", "count"]) !== undefined)) {
    return rows.map((r) => ({
      label: String(pick(r, ["label", "name", "title", "key", "id"]) ?? "—"),
      value: pick(r, ["value", "current", "count"]),
      unit: pick(r, ["unit", "suffix", "currency"]) ?? "",
      delta: pick(r, ["delta", "change", "trend"]),
    }));
  }
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const nums = Object.entries(data).filter(([, v]) => typeof v === "number");
    if (nums.length) {
      return nums.map(([k, v]) => {
        const percent = /(_|-)?(percent|pct|ratio)$/i.test(k);
        return { label: humanize(k.replace(/(_|-)?(percent|pct)$/i, "")), value: v, unit: percent ? "%" : "", delta: undefined };
      });
    }
  }
  return null;
}

function valueText({ value, unit }) {
  if (typeof value !== "number") return formatValue(value);
  if (unit === "%") return `${(Math.abs(value) <= 1 ? value * 100 : value).toLocaleString(undefined, { maximumFractionDigits: 2 })} %`;
  if (/^[A-Z]{3}$/.test(unit)) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: unit, notation: value >= 100_000 ? "compact" : "standard", maximumFractionDigits: value >= 100_000 ? 1 : 0 }).format(value);
    } catch {
      /* unknown currency code: fall through */
    }
  }
  return `${value.toLocaleString(undefined, { maximumFractionDigits: 2 })}${unit ? ` ${unit}` : ""}`;
}

function deltaView(delta) {
  if (typeof delta !== "number") return null;
  const pct = Math.abs(delta) <= 1 ? delta * 100 : delta;
  const dir = pct > 0 ? "up" : pct < 0 ? "down" : "flat";
  const arrow = { up: "▲", down: "▼", flat: "■" }[dir];
  return h("span", { class: `delta delta-${dir}` }, `${arrow} ${Math.abs(pct).toLocaleString(undefined, { maximumFractionDigits: 1 })} %`, h("span", { class: "muted", text: " vs last period" }));
}

function renderKpis(raw) {
  const data = unwrap(raw);
  const kpis = kpisOf(data);
  if (!kpis) return renderGeneric(raw);
  // Lists of strings (e.g. announcements) and other text fields go below the cards.
  const extras = data && typeof data === "object" && !Array.isArray(data) ? Object.entries(data).filter(([, v]) => typeof v !== "number") : [];
  return h(
    "div",
    {},
    h(
      "div",
      { class: "kpis", "data-testid": "kpis" },
      ...kpis.map((k) => h("div", { class: "kpi" }, h("div", { class: "kpi-label", text: k.label }), h("div", { class: "kpi-value", text: valueText(k) }), deltaView(k.delta))),
    ),
    ...extras.map(([k, v]) =>
      Array.isArray(v) && v.every((x) => typeof x === "string")
        ? h("div", { class: "notes" }, h("div", { class: "notes-title", text: humanize(k) }), h("ul", {}, ...v.map((x) => h("li", { text: x }))))
        : h("div", { class: "notes" }, h("div", { class: "notes-title", text: humanize(k) }), renderGeneric(v)),
    ),
  );
}

mountMfe({
  subtitle: "How the business is doing today",
  dataTitle: "Key figures",
  foreignAudience: "https://api.portico.dev/billing",
  foreignLabel: "Billing team's API",
  renderData: renderKpis,
});
