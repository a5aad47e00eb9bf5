// Shared frame of the sample MFEs: load context, get this MFE's token, call its API with it, show
// the token and the data, and demonstrate least privilege with another team's audience. A
// fetch-only MFE (`"tokenExposure": "fetch-only"` in its registry entry, like Analytics) never
// gets a token: the shell makes its API calls (`fetch` from the client) and the page shows
// what the API accepted instead.
// Each MFE's main.js only supplies how to draw its data. Each MFE folder links it as ./common.js
// (a symlink), so it is served from the MFE's own origin even when only that folder is served.

import { context, fetch as shellFetch, getToken, isAuthError, onRefreshFailed, onSessionChanged, onTokenChanged, signIn } from "/_portico/client.js";

// ---------- DOM helpers (textContent only: everything shown comes from outside this page) ----------

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") el.textContent = v;
    else if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

/** replaceChildren that skips null/false (conditional parts). */
function put(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function icon(markup, size = 18) {
  const svg = s("svg", { viewBox: "0 0 20 20", width: size, height: size, fill: "none", stroke: "currentColor", "stroke-width": 1.7, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true" });
  svg.innerHTML = markup;
  return svg;
}

const ICON = {
  key: '<circle cx="7" cy="10" r="3.6"/><path d="M10.5 10h7m-2.2 0v3m-2.6-3v2.2"/>',
  lock: '<rect x="4" y="9" width="12" height="8.5" rx="2"/><path d="M7 9V6.5a3 3 0 0 1 6 0V9"/>',
  shield: '<path d="M10 2.8 4 5v4.6c0 3.7 2.6 6.3 6 7.6 3.4-1.3 6-3.9 6-7.6V5z"/><path d="M7.4 10.1 9.3 12l3.4-3.7"/>',
  ban: '<circle cx="10" cy="10" r="7"/><path d="m5.1 5.1 9.8 9.8"/>',
  alert: '<circle cx="10" cy="10" r="7"/><path d="M10 6.4v4.2M10 13.4v.1"/>',
  reload: '<path d="M16 10a6 6 0 1 1-1.8-4.3"/><path d="M16.2 3.5v3.2H13"/>',
  check: '<path d="m5 10.5 3.2 3.2L15 7"/>',
};

// ---------- formatting ----------

export function countdown(ms) {
  if (ms <= 0) return "expired";
  const sec = Math.floor(ms / 1000);
  const hrs = Math.floor(sec / 3600);
  const min = Math.floor((sec % 3600) / 60);
  return hrs > 0 ? `${hrs} h ${String(min).padStart(2, "0")} min` : `${min}:${String(sec % 60).padStart(2, "0")}`;
}

export function humanize(key) {
  return String(key)
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .replace(/^./, (c) => c.toUpperCase());
}

export function formatValue(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: 2 });
  if (typeof v === "boolean") return v ? "Yes" : "No";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** The first array of records in `data` (the data itself, a preferred key, or any array field). */
export function findRecords(data, preferred = []) {
  if (Array.isArray(data)) return data;
  if (!data || typeof data !== "object") return null;
  for (const k of preferred) if (Array.isArray(data[k])) return data[k];
  for (const v of Object.values(data)) if (Array.isArray(v) && v.every((x) => x && typeof x === "object")) return v;
  return null;
}

export function pick(obj, keys) {
  for (const k of keys) if (obj && obj[k] !== undefined && obj[k] !== null) return obj[k];
  return undefined;
}

/** Fallback rendering for shapes this MFE does not know: tables for records, a list for the rest. */
export function renderGeneric(data) {
  const rows = findRecords(data);
  if (rows && rows.length > 0) {
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))].slice(0, 8);
    return h(
      "table",
      { class: "table" },
      h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", { text: humanize(c) })))),
      h("tbody", {}, ...rows.map((r) => h("tr", {}, ...cols.map((c) => h("td", { class: typeof r[c] === "number" ? "num" : "", text: formatValue(r[c]) }))))),
    );
  }
  if (data && typeof data === "object") {
    return h("dl", { class: "kv" }, ...Object.entries(data).flatMap(([k, v]) => [h("dt", { text: humanize(k) }), h("dd", { text: formatValue(v) })]));
  }
  return h("pre", { class: "raw", text: JSON.stringify(data, null, 2) });
}

// ---------- the frame ----------

/**
 * @param {object} opts
 * @param {string} opts.subtitle      one line under the title
 * @param {string} opts.dataTitle     heading of the data card
 * @param {string} opts.foreignAudience another team's audience, used to demonstrate the refusal
 * @param {(data: unknown, body: object) => Node} opts.renderData
 */
export function mountMfe(opts) {
  const root = document.getElementById("app");
  const ui = {
    ctx: null,
    audience: null,
    grant: null,
    refreshError: null,
    apiClaims: null,
  };
  let loadSeq = 0;

  const el = {
    title: h("h1", { text: document.title }),
    subtitle: h("p", { class: "muted", text: opts.subtitle }),
    main: h("div", { class: "main" }),
    side: h("aside", { class: "side" }),
  };
  root.replaceChildren(
    h(
      "header",
      { class: "page-head" },
      h("div", {}, el.title, el.subtitle),
      h("button", { type: "button", class: "btn btn-ghost", "data-testid": "reload", onclick: () => load({ force: true }) }, icon(ICON.reload, 15), h("span", { text: "Reload" })),
    ),
    h("div", { class: "layout" }, el.main, el.side),
  );

  // ----- token card -----
  const tokenCard = h("section", { class: "card token-card", "data-testid": "token-card" });
  const foreignCard = h("section", { class: "card" });
  const writeCard = opts.write ? h("section", { class: "card", "data-testid": "write-card" }) : null;
  el.side.replaceChildren(...[tokenCard, writeCard, foreignCard].filter(Boolean));

  function fetchOnly() {
    return ui.ctx?.tokenExposure === "fetch-only";
  }

  // A fetch-only page holds no token; it shows where the token is and what the API accepted.
  function renderShellHeldToken() {
    const bound = Boolean(ui.apiClaims?.cnf?.jkt);
    put(tokenCard,
      h("div", { class: "card-head" }, h("span", { class: "card-icon" }, icon(ICON.key)), h("h2", { text: "Access token" }), h("span", { class: "pill pill-ok", "data-testid": "fetch-only", title: "Portico makes this app's API calls itself; no token ever enters this page." }, icon(ICON.shield, 13), "Kept by Portico")),
      ui.audience ? field("Audience", h("code", { class: "mono wrap", "data-testid": "token-aud", text: ui.audience })) : null,
      ui.apiClaims ? field("Bound to", h("span", { "data-testid": "token-binding", "data-binding": bound ? "dpop" : "bearer", text: bound ? "This installation's DPoP key" : "Nothing (Bearer)" })) : null,
      ui.apiClaims
        ? h("div", { class: "verified", "data-testid": "api-verified" }, icon(ICON.shield, 15), h("span", {}, "The API accepted it for ", h("code", { class: "mono", text: String(ui.apiClaims.aud ?? ui.audience) })))
        : null,
      ui.refreshError
        ? h("div", { class: "inline-error", "data-testid": "refresh-error" }, h("code", { class: "kind", text: ui.refreshError.kind }), h("span", { text: `Background refresh failed: ${ui.refreshError.message}` }))
        : h("p", { class: "muted small note", text: "This app never sees the token: Portico calls the API for it." }),
    );
  }

  function renderTokenCard() {
    if (fetchOnly()) return renderShellHeldToken();
    const g = ui.grant;
    if (!g) {
      put(tokenCard, 
        h("div", { class: "card-head" }, h("span", { class: "card-icon" }, icon(ICON.key)), h("h2", { text: "Access token" })),
        h("p", { class: "muted small", text: ui.audience ? "No token yet." : "Waiting for the shell…" }),
        ui.audience ? field("Audience", h("code", { class: "mono wrap", "data-testid": "token-aud", text: ui.audience })) : null,
      );
      return;
    }
    const scopes = g.scope.split(/\s+/).filter(Boolean);
    put(tokenCard, 
      h("div", { class: "card-head" }, h("span", { class: "card-icon" }, icon(ICON.key)), h("h2", { text: "Access token" }), h("span", { class: "pill pill-ok", title: "Refreshed by the shell before it expires. Held in page memory only." }, icon(ICON.check, 13), "Active")),
      field("Audience", h("code", { class: "mono wrap", "data-testid": "token-aud", text: g.audience })),
      field(
        "Scopes",
        h("div", { class: "chips", "data-testid": "token-scope", "data-scope": g.scope }, ...(scopes.length ? scopes.map((sc) => h("span", { class: "chip mono", text: sc })) : [h("span", { class: "muted", text: "none" })])),
      ),
      field(
        "Expires in",
        h(
          "div",
          { class: "expiry" },
          h("span", { class: "expiry-time mono", "data-testid": "token-exp", "data-exp": String(g.expiresAt), title: new Date(g.expiresAt).toLocaleString() }),
          h("span", { class: "meter" }, h("span", { class: "meter-fill" })),
        ),
      ),
      ui.apiClaims
        ? h(
            "div",
            { class: "verified", "data-testid": "api-verified" },
            icon(ICON.shield, 15),
            h("span", {}, "The API accepted it for ", h("code", { class: "mono", text: String(ui.apiClaims.aud ?? ui.audience) })),
          )
        : null,
      ui.refreshError
        ? h("div", { class: "inline-error", "data-testid": "refresh-error" }, h("code", { class: "kind", text: ui.refreshError.kind }), h("span", { text: `Background refresh failed: ${ui.refreshError.message}` }))
        : ui.apiClaims
          ? null
          : h("p", { class: "muted small note", text: "Refreshed by the shell before it expires. Held in page memory only." }),
    );
    tickToken();
  }

  function field(label, value) {
    return h("div", { class: "field" }, h("div", { class: "field-label", text: label }), value);
  }

  const firstSeen = new Map(); // expiresAt -> when this page first saw the grant (for the meter)
  function tickToken() {
    const exp = tokenCard.querySelector("[data-exp]");
    if (!exp || !ui.grant) return;
    const now = Date.now();
    const left = ui.grant.expiresAt - now;
    exp.textContent = countdown(left);
    exp.classList.toggle("soon", left > 0 && left < 60_000);
    exp.classList.toggle("expired", left <= 0);
    if (!firstSeen.has(ui.grant.expiresAt)) firstSeen.set(ui.grant.expiresAt, now);
    const total = Math.max(1, ui.grant.expiresAt - firstSeen.get(ui.grant.expiresAt));
    const fill = tokenCard.querySelector(".meter-fill");
    fill.style.width = `${Math.max(0, Math.min(1, left / total)) * 100}%`;
    fill.classList.toggle("soon", left < 60_000);
  }
  setInterval(tickToken, 1000);

  // ----- a write the API guards with a step-up (RFC 9470) -----
  let writing = null; // { state: "busy" | "stepping-up" } | { error } | { status, body }
  function renderWrite() {
    if (!writeCard) return;
    let result = null;
    if (writing?.state === "busy") result = h("div", { class: "result muted" }, h("span", { class: "spinner" }), "Saving…");
    else if (writing?.state === "stepping-up")
      result = h("div", { class: "result muted", "data-testid": "step-up-waiting" }, h("span", { class: "spinner" }), "The API asks you to confirm it's you. Continue in your browser…");
    else if (writing?.error)
      result = h(
        "div",
        { class: "result result-refused", "data-testid": "write-result", "data-kind": writing.error.kind },
        h("div", { class: "result-head" }, icon(ICON.ban, 16), h("strong", { text: "Not saved" }), h("code", { class: "kind", text: writing.error.kind })),
        h("p", { text: writing.error.message }),
      );
    else if (writing?.status)
      result = h(
        "div",
        { class: "result", "data-testid": "write-result", "data-status": String(writing.status), "data-acr": String(writing.body?.acr ?? "") },
        h("div", { class: "result-head" }, icon(ICON.check, 16), h("strong", { text: "Saved" })),
        h("p", { class: "muted small", text: `The API accepted the change from a sign-in with ${writing.body?.acr ?? "?"}.` }),
      );
    put(writeCard,
      h("div", { class: "card-head" }, h("span", { class: "card-icon" }, icon(ICON.shield)), h("h2", { text: opts.write.title })),
      h("p", { class: "muted small", text: opts.write.description }),
      h("button", { type: "button", class: "btn btn-outline", "data-testid": "write", disabled: writing?.state !== undefined, onclick: write }, opts.write.label),
      result,
    );
  }

  /** The requirement of an RFC 9470 challenge, or null. */
  function stepUpChallenge(res) {
    const header = res.headers.get("WWW-Authenticate") ?? "";
    if (!/error="insufficient_user_authentication"/.test(header)) return null;
    const acr = /acr_values="([^"]*)"/.exec(header)?.[1];
    const maxAge = /max_age="?(\d+)"?/.exec(header)?.[1];
    return { acrValues: acr ? acr.split(" ") : undefined, maxAge: maxAge ? Number(maxAge) : undefined };
  }

  async function write() {
    writing = { state: "busy" };
    renderWrite();
    try {
      const post = (grant) => fetch(`${apiUrl()}data`, { method: "POST", headers: { Authorization: `Bearer ${grant.accessToken}` } });
      let res = await post(await getToken(ui.audience));
      const wanted = res.status === 401 ? stepUpChallenge(res) : null;
      if (wanted) {
        // The shell asks the person for the stronger sign-in; this call waits for it.
        writing = { state: "stepping-up" };
        renderWrite();
        const grant = await getToken(ui.audience, wanted);
        ui.grant = grant;
        renderTokenCard();
        writing = { state: "busy" };
        renderWrite();
        res = await post(grant);
      }
      const body = await res.json().catch(() => ({}));
      writing = res.ok ? { status: res.status, body } : { error: { kind: `http_${res.status}`, message: body?.error_description ?? `${apiLabel()} answered HTTP ${res.status}` } };
    } catch (e) {
      writing = { error: isAuthError(e) ? e : { kind: "unknown", message: String(e) } };
    }
    renderWrite();
  }

  // ----- least-privilege demo -----
  let foreign = null; // { state: "busy" } | { error } | { grant }
  function renderForeign() {
    const name = opts.foreignLabel;
    let result = null;
    if (foreign?.state === "busy") result = h("div", { class: "result muted", "data-testid": "foreign-pending" }, h("span", { class: "spinner" }), "Asking the shell…");
    else if (foreign?.error)
      result = h(
        "div",
        { class: "result result-refused", "data-testid": "foreign-result", "data-kind": foreign.error.kind },
        h("div", { class: "result-head" }, icon(ICON.ban, 16), h("strong", { text: "Refused" }), h("code", { class: "kind", "data-testid": "foreign-kind", text: foreign.error.kind })),
        h("p", { text: foreign.error.message }),
      );
    else if (foreign?.grant)
      result = h(
        "div",
        { class: "result result-leak", "data-testid": "foreign-result", "data-kind": "granted" },
        h("div", { class: "result-head" }, icon(ICON.alert, 16), h("strong", { text: "Unexpectedly granted" })),
        h("p", { text: `The shell issued a token for ${foreign.grant.audience}. This app is not registered for it; check the registry.` }),
      );
    put(foreignCard, 
      h("div", { class: "card-head" }, h("span", { class: "card-icon" }, icon(ICON.lock)), h("h2", { text: "Least privilege" })),
      h("p", { class: "muted small" }, `${document.title} may only get tokens for its own API. Ask the shell for the ${name} instead:`),
      h("code", { class: "mono wrap small audience-line", title: opts.foreignAudience, text: opts.foreignAudience }),
      h("button", { type: "button", class: "btn btn-outline", "data-testid": "try-foreign", disabled: foreign?.state === "busy", onclick: tryForeign }, "Try another team's API"),
      result,
    );
  }

  async function tryForeign() {
    foreign = { state: "busy" };
    renderForeign();
    try {
      const grant = await getToken(opts.foreignAudience);
      foreign = { grant };
    } catch (e) {
      foreign = { error: isAuthError(e) ? e : { kind: "unknown", message: String(e) } };
    }
    renderForeign();
  }

  // ----- main area states -----
  function showLoading() {
    put(el.main, h("section", { class: "card data-card" }, h("div", { class: "loading" }, h("span", { class: "spinner" }), h("span", { class: "muted", text: "Loading…" }))));
  }

  let signingIn = false;
  function showSignedOut() {
    ui.grant = null;
    ui.apiClaims = null;
    renderTokenCard();
    put(el.main, 
      h(
        "section",
        { class: "card signed-out", "data-testid": "signed-out" },
        h("div", { class: "hero-icon" }, icon(ICON.lock, 26)),
        h("h2", { text: "You're signed out" }),
        h("p", { class: "muted", text: `Sign in once to Portico to use ${document.title} and every other app. Your browser opens for the sign-in; this page picks it up automatically.` }),
        signingIn
          ? h(
              "div",
              { class: "waiting-row" },
              h("div", { class: "waiting", "data-testid": "mfe-login-pending" }, h("span", { class: "spinner" }), "Continue in your browser…"),
              // The page hears about sign-in only when it succeeds; let the user start over.
              h("button", { type: "button", class: "link", onclick: () => ((signingIn = false), showSignedOut()), text: "Start over" }),
            )
          : h(
              "button",
              {
                type: "button",
                class: "btn btn-primary",
                "data-testid": "mfe-sign-in",
                onclick: async () => {
                  signingIn = true;
                  showSignedOut();
                  try {
                    await signIn();
                  } catch (e) {
                    signingIn = false;
                    showError(e);
                  }
                },
              },
              "Sign in",
            ),
      ),
    );
  }

  function showError(e, retry = true) {
    const err = isAuthError(e) ? e : { kind: "unknown", message: e instanceof Error ? e.message : String(e), retryable: true };
    put(el.main, 
      h(
        "section",
        { class: "card error-card", "data-testid": "error", "data-kind": err.kind },
        h("div", { class: "error-head" }, h("span", { class: "hero-icon hero-error" }, icon(ICON.alert, 22)), h("div", {}, h("h2", { text: "Couldn't load your data" }), h("code", { class: "kind", "data-testid": "error-kind", text: err.kind }))),
        h("p", { "data-testid": "error-message", text: err.message }),
        retry ? h("button", { type: "button", class: "btn btn-ghost", onclick: () => load({ force: true }) }, icon(ICON.reload, 15), h("span", { text: err.retryable ? "Try again" : "Retry" })) : null,
      ),
    );
  }

  function showData(body) {
    const count = Array.isArray(findRecords(body.data)) ? findRecords(body.data).length : null;
    put(el.main, 
      h(
        "section",
        { class: "card data-card", "data-testid": "api-data", "data-api-audience": String(body.audience ?? "") },
        h(
          "div",
          { class: "card-head" },
          h("h2", { text: opts.dataTitle }),
          count !== null ? h("span", { class: "pill", text: `${count}` }) : null,
          h("span", { class: "grow" }),
          h("span", { class: "muted small", title: String(ui.ctx?.settings?.apiUrl ?? "") }, "from ", h("strong", { text: String(body.api ?? "the API") })),
        ),
        opts.renderData(body.data, body),
      ),
    );
  }

  // ----- loading -----
  function apiUrl() {
    const url = ui.ctx?.settings?.apiUrl ?? ui.ctx?.apis?.[0]?.baseUrl;
    return typeof url === "string" && url.length > 0 ? (url.endsWith("/") ? url : `${url}/`) : null;
  }

  async function callApi(grant) {
    const res = await fetch(`${apiUrl()}data`, { headers: { Authorization: `Bearer ${grant.accessToken}` } });
    if (res.status === 401 || res.status === 403) {
      const reason = await res.json().then((b) => b?.error_description, () => undefined);
      return { denied: res.status, reason };
    }
    if (!res.ok) throw { kind: "api_error", message: `${apiLabel()} answered HTTP ${res.status}`, retryable: true };
    return { body: await res.json() };
  }
  function apiLabel() {
    return `The ${document.title} API`;
  }

  async function load({ force = false } = {}) {
    const seq = ++loadSeq;
    if (!el.main.querySelector('[data-testid="api-data"]')) showLoading();
    try {
      if (!ui.ctx) {
        ui.ctx = await context();
        ui.audience = ui.ctx.audiences?.[0] ?? null;
        if (ui.ctx.title) {
          document.title = ui.ctx.title;
          el.title.textContent = ui.ctx.title;
        }
        renderTokenCard();
        renderForeign();
      }
      if (!ui.audience) throw { kind: "config", message: "This app has no audience in its registration.", retryable: false };
      if (!apiUrl()) throw { kind: "config", message: "This app's registry entry has no settings.apiUrl.", retryable: false };

      if (fetchOnly()) {
        // The shell adds the token, answers a stale-token challenge itself, and returns the
        // API's answer: a 401 here means the API refused even a fresh token.
        const res = await shellFetch(`${apiUrl()}data`);
        if (seq !== loadSeq) return;
        if (res.status === 401 || res.status === 403) {
          const reason = await res.json().then((b) => b?.error_description, () => undefined);
          throw { kind: "api_unauthorized", message: `${apiLabel()} refused the request (HTTP ${res.status}${reason ? `: ${reason}` : ""}).`, retryable: true };
        }
        if (!res.ok) throw { kind: "api_error", message: `${apiLabel()} answered HTTP ${res.status}`, retryable: true };
        const body = await res.json();
        if (seq !== loadSeq) return;
        ui.refreshError = null;
        ui.apiClaims = body?.claims ?? null;
        renderTokenCard();
        showData(body ?? {});
        return;
      }
      let grant = await getToken(ui.audience, { forceRefresh: force });
      if (seq !== loadSeq) return;
      ui.grant = grant;
      ui.refreshError = null;
      renderTokenCard();
      let result = await callApi(grant);
      if (result.denied) {
        // The API may have seen a token revoked or rotated meanwhile: ask the shell once more.
        grant = await getToken(ui.audience, { forceRefresh: true });
        ui.grant = grant;
        result = await callApi(grant);
        if (result.denied) {
          throw { kind: "api_unauthorized", message: `${apiLabel()} rejected the token (HTTP ${result.denied}${result.reason ? `: ${result.reason}` : ""}).`, retryable: true };
        }
      }
      if (seq !== loadSeq) return;
      ui.apiClaims = result.body?.claims ?? null;
      renderTokenCard();
      showData(result.body ?? {});
    } catch (e) {
      if (seq !== loadSeq) return;
      if (isAuthError(e) && e.kind === "login_required") showSignedOut();
      else if (e instanceof TypeError) showError({ kind: "network", message: `Could not reach the API: ${e.message}`, retryable: true });
      else showError(e);
    }
  }

  onTokenChanged((grant) => {
    if (grant.audience !== ui.audience) return;
    ui.grant = grant;
    ui.refreshError = null;
    renderTokenCard();
  });
  onRefreshFailed((audience, error) => {
    if (audience !== ui.audience) return;
    ui.refreshError = error;
    renderTokenCard();
  });
  // The shell sends the current session when the channel opens, then every change. Reload only
  // when someone signed in after this page showed "signed out", or the user changed.
  let lastSubject;
  onSessionChanged((session) => {
    const subject = session ? session.subject : null;
    const changed = lastSubject !== undefined && subject !== lastSubject;
    lastSubject = subject;
    if (!session) {
      signingIn = false;
      showSignedOut();
    } else if (changed || el.main.querySelector('[data-testid="signed-out"]')) {
      signingIn = false;
      load({ force: true });
    }
  });

  renderTokenCard();
  renderForeign();
  renderWrite();
  load();
}
