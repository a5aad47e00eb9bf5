// Billing: invoices from the Billing API, fetched with a token whose audience is that API.
import { mountMfe, h, findRecords, pick, renderGeneric, formatValue } from "./common.js";

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "EUR" }).format(amount);
  } catch {
    return formatValue(amount);
  }
}

function amountOf(inv) {
  const cents = pick(inv, ["amountCents", "amount_cents", "totalCents", "total_cents"]);
  if (typeof cents === "number") return cents / 100;
  const v = pick(inv, ["amount", "total", "amountDue", "amount_due", "value"]);
  return typeof v === "number" ? v : Number(v);
}

function dateText(v) {
  if (!v) return "—";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

function renderInvoices(data) {
  const rows = findRecords(data, ["invoices", "items"]);
  if (!rows || rows.length === 0 || !rows.every((r) => Number.isFinite(amountOf(r)))) return renderGeneric(data);
  const currency = pick(rows[0], ["currency"]) || pick(data, ["currency"]);
  const status = (r) => String(pick(r, ["status", "state"]) ?? "").toLowerCase();
  const open = rows.filter((r) => status(r) !== "paid");
  const overdue = rows.filter((r) => status(r) === "overdue" || status(r) === "past_due");
  const sum = (list) => list.reduce((a, r) => a + amountOf(r), 0);
  const due = (r) => pick(r, ["due", "dueDate", "due_date", "date", "issued"]);
  const hasDue = rows.some((r) => due(r) !== undefined);

  return h(
    "div",
    {},
    h(
      "div",
      { class: "stats" },
      stat("Outstanding", money(sum(open), currency), `${open.length} open invoice${open.length === 1 ? "" : "s"}`),
      stat("Overdue", money(sum(overdue), currency), `${overdue.length} overdue`, overdue.length ? "bad" : ""),
      stat("Collected", money(sum(rows) - sum(open), currency), `${rows.length - open.length} paid`),
    ),
    h(
      "table",
      { class: "table", "data-testid": "invoices" },
      h(
        "thead",
        {},
        h("tr", {}, h("th", { text: "Invoice" }), h("th", { text: "Customer" }), hasDue ? h("th", { text: "Due" }) : null, h("th", { text: "Status" }), h("th", { class: "num", text: "Amount" })),
      ),
      h(
        "tbody",
        {},
        ...rows.map((r) =>
          h(
            "tr",
            {},
            h("td", { class: "mono strong", text: String(pick(r, ["id", "number", "invoice"]) ?? "—") }),
            h("td", { text: String(pick(r, ["customer", "customerName", "customer_name", "client", "name"]) ?? "—") }),
            hasDue ? h("td", { class: "muted", text: dateText(due(r)) }) : null,
            h("td", {}, h("span", { class: `badge badge-${status(r) || "unknown"}`, text: status(r) ? status(r).replace(/_/g, " ") : "—" })),
            h("td", { class: "num strong", text: money(amountOf(r), pick(r, ["currency"]) || currency) }),
          ),
        ),
      ),
    ),
  );
}

function stat(label, value, hint, tone = "") {
  return h("div", { class: `stat ${tone}` }, h("div", { class: "stat-label", text: label }), h("div", { class: "stat-value", text: value }), h("div", { class: "stat-hint muted", text: hint }));
}

mountMfe({
  subtitle: "Invoices and payments for your organisation",
  dataTitle: "Invoices",
  foreignAudience: "https://api.portico.dev/analytics",
  foreignLabel: "Analytics team's API",
  renderData: renderInvoices,
  // The Billing API wants a second factor for changes: the sample shows the step-up.
  write: {
    title: "Approve invoices",
    description: "Changes need a recent second factor; the shell asks for it when the API does.",
    label: "Approve open invoices",
  },
});
