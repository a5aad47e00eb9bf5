// The Portico chrome: top bar (apps, sign-in state, account) and the drawer below it (token status,
// account). It only renders what the Portico plugin reports (`host_state` / `host_subscribe`, the
// `portico:host-ui` set) and sends user intents back; no token or login logic lives here, and no
// token value ever reaches it. The IPC code is the plugin's own client, the one MFEs use.

import { createHostClient, invoke, toAuthError as toError } from "/_portico/client.js";

const host = createHostClient();

const state = {
  shell: null, // HostState (host_state)
  status: [], // AudienceStatus[]
  statusAt: 0,
  warnings: [], // { id, message, at, count }: one entry per distinct message, newest last
  error: null, // AuthError shown in the bar
  drawer: null, // null | "tokens" | "account"
  pendingAction: null, // "sign-in" | "cancel" | "sign-out" while the command is in flight
};
let warningSeq = 0;

// ---------- small DOM helpers (textContent only: names and messages come from outside) ----------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(markup, size = 16) {
  const wrap = document.createElement("span");
  wrap.className = "icon";
  wrap.innerHTML = `<svg viewBox="0 0 20 20" width="${size}" height="${size}" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round">${markup}</svg>`;
  return wrap;
}

const ICONS = {
  billing: '<path d="M5 2.8h10v14.4l-2.5-1.6-2.5 1.6-2.5-1.6L5 17.2z"/><path d="M8 7h4.5M8 10h4.5"/>',
  dashboard: '<rect x="3" y="3" width="6" height="6" rx="1.4"/><rect x="11" y="3" width="6" height="4" rx="1.4"/><rect x="11" y="9" width="6" height="8" rx="1.4"/><rect x="3" y="11" width="6" height="6" rx="1.4"/>',
  analytics: '<path d="M3.5 16.5h13"/><path d="M6 13.5V9M10 13.5V5M14 13.5v-6"/>',
  warning: '<path d="M10 3.2 17.4 16H2.6z"/><path d="M10 8.2v3.6M10 13.9v.1"/>',
  error: '<circle cx="10" cy="10" r="7"/><path d="M10 6.4v4.2M10 13.4v.1"/>',
  close: '<path d="M5.5 5.5l9 9m0-9-9 9"/>',
  chevron: '<path d="M6 8l4 4 4-4"/>',
  external: '<path d="M8 4H4.5v11.5H16V12"/><path d="M11 3.5h5.5V9M16.5 3.5 9 11"/>',
  shield: '<path d="M10 2.8 4 5v4.6c0 3.7 2.6 6.3 6 7.6 3.4-1.3 6-3.9 6-7.6V5z"/><path d="M7.4 10.1 9.3 12l3.4-3.7"/>',
  out: '<path d="M12.5 6.5V4.2a1.2 1.2 0 0 0-1.2-1.2H4.7a1.2 1.2 0 0 0-1.2 1.2v11.6A1.2 1.2 0 0 0 4.7 17h6.6a1.2 1.2 0 0 0 1.2-1.2v-2.3"/><path d="M8.5 10h8.5m-2.8-3 3 3-3 3"/>',
};

function appIcon(id) {
  if (ICONS[id]) return svg(ICONS[id], 16);
  return h("span", { class: "icon letter", text: (id || "?").slice(0, 1).toUpperCase() });
}

// ---------- formatting ----------

function initials(session) {
  const source = (session.name || session.email || session.subject || "?").trim();
  const parts = source.split(/[\s@._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts.length > 1 ? parts[1][0] : "")).toUpperCase();
}

function hue(text) {
  let x = 0;
  for (const ch of text) x = (x * 31 + ch.charCodeAt(0)) >>> 0;
  return x % 360;
}

function countdown(ms) {
  if (ms <= 0) return "expired";
  const s = Math.floor(ms / 1000);
  const hrs = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (hrs > 0) return `${hrs} h ${String(min).padStart(2, "0")} min`;
  return `${min}:${String(sec).padStart(2, "0")}`;
}

function ago(at, now) {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.floor(m / 60);
  return hr < 24 ? `${hr} h ago` : new Date(at).toLocaleDateString();
}

function clockTime(at) {
  return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function apiName(audience) {
  try {
    const u = new URL(audience);
    const last = u.pathname.split("/").filter(Boolean).pop();
    if (last) return `${last.charAt(0).toUpperCase()}${last.slice(1)} API`;
    return u.host;
  } catch {
    return audience;
  }
}

function mfeTitle(id) {
  return state.shell?.mfes?.find((m) => m.id === id)?.title ?? id;
}

// ---------- commands ----------

async function run(action, call) {
  state.pendingAction = action;
  render();
  try {
    return await call();
  } catch (e) {
    showError(toError(e));
    return undefined;
  } finally {
    state.pendingAction = null;
    render();
  }
}

let errorTimer = null;
function showError(error) {
  state.error = error;
  // Errors are transient (the next action retries); warnings stay until dismissed.
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => {
    if (state.error === error) {
      state.error = null;
      render();
    }
  }, 15_000);
  render();
}

// A flood of warnings (say, forged sign-in responses) must neither fill the chrome nor keep it
// busy: the same message again raises its count, at most MAX_WARNINGS distinct ones are kept, and
// a burst is drawn once.
const MAX_WARNINGS = 20;
let warningRender = null;
function addWarning(message) {
  const text = String(message);
  const at = Date.now();
  const i = state.warnings.findIndex((w) => w.message === text);
  if (i >= 0) {
    const [same] = state.warnings.splice(i, 1);
    state.warnings.push({ ...same, at, count: same.count + 1 });
  } else {
    state.warnings.push({ id: ++warningSeq, message: text, at, count: 1 });
    if (state.warnings.length > MAX_WARNINGS) state.warnings.splice(0, state.warnings.length - MAX_WARNINGS);
  }
  if (warningRender === null) {
    warningRender = setTimeout(() => {
      warningRender = null;
      render();
    }, 50);
  }
}

async function setDrawer(view) {
  const next = state.drawer === view ? null : view;
  const wasOpen = state.drawer !== null;
  state.drawer = next;
  // Grow the chrome webview first so the drawer is not rendered into a 64 px viewport.
  if ((next !== null) !== wasOpen) {
    invoke("shell_set_chrome_expanded", { expanded: next !== null }).catch((e) => showError(toError(e)));
  }
  if (next === "tokens") refreshStatus();
  render();
}

async function refreshStatus() {
  try {
    const status = await host.tokenStatus();
    if (Array.isArray(status)) {
      state.status = status;
      state.statusAt = Date.now();
      render();
    }
  } catch (e) {
    showError(toError(e));
  }
}

// ---------- rendering ----------

function renderBrand() {
  const badge = document.querySelector('[data-testid="provider-badge"]');
  const provider = state.shell?.provider;
  if (provider?.embedded) {
    badge.hidden = false;
    badge.textContent = "Dev sign-in";
    badge.title = `Embedded development identity provider at ${provider.issuer}`;
  } else {
    badge.hidden = true;
  }
}

function renderTabs() {
  const nav = document.querySelector('[data-testid="tabs"]');
  const mfes = state.shell?.mfes ?? [];
  nav.replaceChildren(
    ...mfes.map((m) => {
      const active = m.id === state.shell.activeMfe;
      return h(
        "button",
        {
          type: "button",
          role: "tab",
          class: `tab${active ? " active" : ""}`,
          "aria-selected": active ? "true" : "false",
          "data-testid": `tab-${m.id}`,
          title: (m.audiences || []).join("\n"),
          onclick: () => {
            if (state.shell.activeMfe === m.id) return;
            state.shell.activeMfe = m.id;
            render();
            invoke("shell_select_mfe", { id: m.id }).catch((e) => showError(toError(e)));
          },
        },
        appIcon(m.id),
        h("span", { text: m.title }),
      );
    }),
  );
}

function renderAuth() {
  const box = document.querySelector('[data-testid="auth"]');
  const s = state.shell;
  if (!s) {
    box.replaceChildren(h("span", { class: "auth-loading", "aria-label": "Loading" }));
    return;
  }
  if (s.login === "pending") {
    box.replaceChildren(
      h(
        "div",
        { class: "login-pending", "data-testid": "login-pending", role: "status" },
        h("span", { class: "spinner" }),
        h("span", { class: "login-text", title: "Finish signing in in your browser; Portico continues automatically." }, h("strong", { text: "Continue in your browser…" })),
        h("button", {
          type: "button",
          class: "btn btn-ghost",
          "data-testid": "cancel-login",
          disabled: state.pendingAction === "cancel",
          text: "Cancel",
          onclick: () => run("cancel", () => host.cancelSignIn()),
        }),
      ),
    );
    return;
  }
  if (s.stepUp) {
    // An MFE asked for a stronger or more recent sign-in; the browser is open for it.
    const u = s.stepUp;
    const what = [
      u.acrValues.length ? `a second factor (${u.acrValues.join(" or ")})` : null,
      u.maxAge !== null ? `a sign-in within ${u.maxAge} s` : null,
    ].filter(Boolean).join(" and ") || "an additional sign-in";
    box.replaceChildren(
      h(
        "div",
        { class: "login-pending", "data-testid": "step-up-pending", "data-mfe": u.mfe, role: "status" },
        h("span", { class: "spinner" }),
        h("span", { class: "login-text", title: `${u.mfeTitle} asks for ${what} to use ${u.audience}. Continue in your browser.` }, h("strong", { text: `${u.mfeTitle} asks you to confirm it's you` }), ` · ${what}`),
        h("button", {
          type: "button",
          class: "btn btn-ghost",
          "data-testid": "cancel-step-up",
          disabled: state.pendingAction === "cancel",
          text: "Cancel",
          onclick: () => run("cancel", () => host.cancelSignIn()),
        }),
      ),
    );
    return;
  }
  if (s.login === "completing") {
    box.replaceChildren(
      h("div", { class: "login-pending completing", "data-testid": "login-completing", role: "status" }, h("span", { class: "spinner" }), h("span", { class: "login-text" }, h("strong", { text: "Finishing sign-in…" }))),
    );
    return;
  }
  if (!s.session) {
    box.replaceChildren(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-primary",
          "data-testid": "sign-in",
          disabled: state.pendingAction === "sign-in",
          onclick: () => run("sign-in", () => host.signIn()),
        },
        svg(ICONS.external, 14),
        h("span", { text: "Sign in" }),
      ),
    );
    return;
  }
  const session = s.session;
  const open = state.drawer === "account";
  box.replaceChildren(
    h(
      "button",
      {
        type: "button",
        class: `account${open ? " open" : ""}`,
        "data-testid": "account-menu",
        "aria-expanded": open ? "true" : "false",
        "aria-controls": "drawer",
        onclick: () => setDrawer("account"),
      },
      avatar(session, "avatar"),
      h(
        "span",
        { class: "account-text" },
        h("span", { class: "account-name", "data-testid": "account-name", text: session.name || session.email || session.subject }),
        session.email ? h("span", { class: "account-email", text: session.email }) : null,
      ),
      svg(ICONS.chevron, 14),
    ),
  );
}

function avatar(session, cls) {
  const el = h("span", { class: cls, "aria-hidden": "true", text: initials(session) });
  el.style.setProperty("--avatar-hue", String(hue(session.subject || session.email || "")));
  return el;
}

function renderNotices() {
  const box = document.querySelector('[data-testid="notices"]');
  const items = [];
  if (state.error) {
    const err = state.error;
    items.push(
      h(
        "div",
        // People read the message (a sentence with the provider's reason); the kind is for tests.
        { class: "notice notice-error", "data-testid": "shell-error", "data-kind": err.kind, title: err.message },
        svg(ICONS.error, 15),
        h("span", { class: "notice-text", text: err.message }),
        h("button", { type: "button", class: "notice-close", "aria-label": "Dismiss", onclick: () => ((state.error = null), render()) }, svg(ICONS.close, 13)),
      ),
    );
  }
  if (state.warnings.length > 0) {
    const latest = state.warnings[state.warnings.length - 1];
    const more = state.warnings.length - 1;
    const times = (w) => (w.count > 1 ? ` (${w.count}×)` : "");
    items.push(
      h(
        "div",
        {
          class: "notice notice-warning",
          "data-testid": "warning",
          "data-repeats": String(latest.count),
          "data-distinct": String(state.warnings.length),
          role: "alert",
          title: state.warnings.map((w) => `${clockTime(w.at)}  ${w.message}${times(w)}`).join("\n"),
        },
        svg(ICONS.warning, 15),
        h("span", { class: "notice-text", "data-testid": "warning-message", text: latest.message }),
        latest.count > 1 ? h("span", { class: "notice-count", "data-testid": "warning-repeats", text: `${latest.count}×` }) : null,
        more > 0 ? h("span", { class: "notice-count", text: `+${more}` }) : null,
        h("button", { type: "button", class: "notice-close", "data-testid": "dismiss-warning", "aria-label": "Dismiss", onclick: () => ((state.warnings = []), render()) }, svg(ICONS.close, 13)),
      ),
    );
  }
  box.replaceChildren(...items);
}

function health(now) {
  if (state.status.some((s) => s.lastError)) return "error";
  if (state.status.some((s) => s.expiresAt !== null && s.expiresAt - now < 60_000)) return "warn";
  if (state.status.some((s) => s.expiresAt !== null)) return "ok";
  return "idle";
}

function renderToggle() {
  const btn = document.querySelector('[data-testid="tokens-toggle"]');
  const open = state.drawer === "tokens";
  btn.classList.toggle("open", open);
  btn.setAttribute("aria-expanded", open ? "true" : "false");
  const dot = btn.querySelector(".health-dot");
  const hl = health(Date.now());
  dot.dataset.health = hl;
  btn.title = { error: "A token refresh failed", warn: "A token expires soon", ok: "All tokens fresh", idle: "No tokens yet" }[hl];
}

function renderDrawer() {
  const drawer = document.getElementById("drawer");
  document.body.classList.toggle("expanded", state.drawer !== null);
  if (state.drawer === null) {
    drawer.hidden = true;
    drawer.replaceChildren();
    return;
  }
  drawer.hidden = false;
  drawer.replaceChildren(state.drawer === "tokens" ? tokenPanel() : accountPanel());
}

function panelHeader(title, subtitle, ...actions) {
  return h(
    "div",
    { class: "panel-head" },
    h("div", {}, h("h2", { text: title }), h("p", { class: "muted", text: subtitle })),
    h("div", { class: "panel-actions" }, ...actions, h("button", { type: "button", class: "icon-btn", "aria-label": "Close", "data-testid": "close-drawer", onclick: () => setDrawer(null) }, svg(ICONS.close, 15))),
  );
}

function tokenPanel() {
  const now = Date.now();
  const rows = [...state.status].sort((a, b) => a.audience.localeCompare(b.audience));
  const body =
    rows.length === 0
      ? h(
          "div",
          { class: "empty" },
          svg(ICONS.shield, 22),
          h("strong", { text: state.shell?.session ? "No tokens issued yet" : "Signed out" }),
          h("span", { class: "muted", text: state.shell?.session ? "Apps ask for tokens when they load; they will show up here." : "Sign in to let your apps request tokens for their APIs." }),
        )
      : h(
          "table",
          { class: "tokens" },
          h(
            "thead",
            {},
            h("tr", {}, ...["API audience", "Used by", "Scopes", "Expires in", "Last refresh", "Status"].map((t) => h("th", { text: t }))),
          ),
          h("tbody", {}, ...rows.map((row) => tokenRow(row, now))),
        );
  return h(
    "div",
    { class: "panel", "data-testid": "token-panel" },
    panelHeader(
      "Token status",
      "Access tokens held in memory by the shell, one per API audience. Refresh tokens never leave the shell.",
      h("span", { class: "muted small", "data-role": "status-age", text: state.statusAt ? `Updated ${ago(state.statusAt, now)}` : "" }),
      h("button", { type: "button", class: "btn btn-ghost", "data-testid": "refresh-status", onclick: () => refreshStatus(), text: "Refresh" }),
    ),
    h("div", { class: "panel-body" }, body),
  );
}

function tokenRow(row, now) {
  const scopes = (row.scope || "").split(/\s+/).filter(Boolean);
  const lifetime = row.expiresAt !== null && row.lastRefresh !== null ? Math.max(1, row.expiresAt - row.lastRefresh) : null;
  const tr = h(
    "tr",
    { "data-testid": "token-row", "data-audience": row.audience },
    h("td", {}, h("div", { class: "aud-name", text: apiName(row.audience) }), h("div", { class: "aud-url mono", text: row.audience })),
    h("td", {}, h("div", { class: "chips" }, ...(row.mfes || []).map((id) => h("span", { class: "chip chip-app" }, appIcon(id), h("span", { text: mfeTitle(id) }))))),
    h("td", {}, scopes.length ? h("div", { class: "chips" }, ...scopes.map((s) => h("span", { class: "chip mono", text: s }))) : h("span", { class: "muted", text: "—" })),
    h(
      "td",
      { class: "exp-cell" },
      row.expiresAt === null
        ? h("span", { class: "muted", text: "—" })
        : h(
            "div",
            { class: "exp", "data-exp": String(row.expiresAt), "data-life": lifetime === null ? "" : String(lifetime), title: `Expires at ${clockTime(row.expiresAt)}` },
            h("span", { class: "exp-text mono", "data-testid": "token-expiry" }),
            h("span", { class: "meter" }, h("span", { class: "meter-fill" })),
          ),
    ),
    h("td", {}, row.lastRefresh === null ? h("span", { class: "muted", text: "never" }) : h("span", { class: "ago", "data-at": String(row.lastRefresh), title: clockTime(row.lastRefresh) })),
    h("td", {}, statusCell(row, now)),
  );
  return tr;
}

function statusCell(row, now) {
  if (row.lastError) {
    return h(
      "div",
      { class: "status status-error", "data-testid": "token-error", "data-kind": row.lastError.kind, title: row.lastError.message },
      h("span", { class: "status-msg", text: row.lastError.message }),
    );
  }
  if (row.expiresAt === null) return h("span", { class: "status status-idle", text: "Not requested yet" });
  return h("span", { class: "status", "data-live-status": String(row.expiresAt) }, ...liveStatus(row.expiresAt, now));
}

function liveStatus(expiresAt, now) {
  const left = expiresAt - now;
  if (left <= 0) return [h("span", { class: "dot dot-off" }), "Expired"];
  if (left < 60_000) return [h("span", { class: "dot dot-warn" }), "Refreshing soon"];
  return [h("span", { class: "dot dot-ok" }), "Fresh"];
}

function accountPanel() {
  const s = state.shell;
  const session = s?.session;
  if (!session) return h("div", { class: "panel" }, panelHeader("Account", "You are signed out."));
  const provider = s.provider || {};
  const apps = s.mfes || [];
  return h(
    "div",
    { class: "panel", "data-testid": "account-panel" },
    panelHeader("Account", "One sign-in for every app in Portico."),
    h(
      "div",
      { class: "account-grid" },
      h(
        "div",
        { class: "card profile" },
        avatar(session, "avatar avatar-lg"),
        h(
          "div",
          { class: "profile-text" },
          h("div", { class: "profile-name", text: session.name || session.email || session.subject }),
          session.email ? h("div", { class: "muted", "data-testid": "account-email", text: session.email }) : null,
          h("div", { class: "mono small muted", title: "Subject (sub claim)", text: session.subject }),
        ),
      ),
      h(
        "div",
        { class: "card" },
        h("div", { class: "card-title", text: "Signed in with" }),
        h("div", { class: "mono small", text: provider.issuer || "—" }),
        h("div", { class: "muted small", text: provider.embedded ? "Embedded development provider" : `${provider.dialect === "auth0" ? "Auth0" : "OpenID Connect"} provider` }),
        h("div", { class: "card-title spaced", text: `Apps using this sign-in (${apps.length})` }),
        h("div", { class: "chips" }, ...apps.map((m) => h("span", { class: "chip chip-app" }, appIcon(m.id), h("span", { text: m.title })))),
      ),
      h(
        "div",
        { class: "card actions" },
        h("div", { class: "card-title", text: "Session" }),
        h("p", { class: "muted small", text: "Signing out revokes this device's refresh token, clears it from the keyring and ends the browser session." }),
        h(
          "button",
          { type: "button", class: "btn btn-danger", "data-testid": "sign-out", disabled: state.pendingAction === "sign-out", onclick: () => run("sign-out", () => host.signOut()).then(() => state.drawer === "account" && setDrawer(null)) },
          svg(ICONS.out, 15),
          h("span", { text: "Sign out" }),
        ),
      ),
    ),
  );
}

// Per-second updates without rebuilding rows (keeps hover/focus and is cheap).
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".exp[data-exp]")) {
    const exp = Number(el.dataset.exp);
    const life = Number(el.dataset.life);
    const left = exp - now;
    el.querySelector(".exp-text").textContent = countdown(left);
    el.classList.toggle("soon", left > 0 && left < 60_000);
    el.classList.toggle("expired", left <= 0);
    const fill = el.querySelector(".meter-fill");
    const ratio = life > 0 ? Math.min(1, Math.max(0, left / life)) : left > 0 ? 1 : 0;
    fill.style.width = `${(ratio * 100).toFixed(1)}%`;
  }
  for (const el of document.querySelectorAll(".ago[data-at]")) el.textContent = ago(Number(el.dataset.at), now);
  for (const el of document.querySelectorAll("[data-live-status]")) el.replaceChildren(...liveStatus(Number(el.dataset.liveStatus), now));
  const age = document.querySelector('[data-role="status-age"]');
  if (age && state.statusAt) age.textContent = `Updated ${ago(state.statusAt, now)}`;
  renderToggle();
}

function render() {
  document.body.dataset.login = state.shell ? (state.shell.session ? "signed-in" : state.shell.login) : "loading";
  renderBrand();
  renderTabs();
  renderNotices();
  renderToggle();
  renderAuth();
  renderDrawer();
  tick();
}

// ---------- wiring ----------

function onPush(msg) {
  if (!msg || typeof msg !== "object") return;
  switch (msg.type) {
    case "state": {
      const hadSession = Boolean(state.shell?.session);
      state.shell = msg.state;
      if (!msg.state.session && state.drawer === "account") setDrawer(null);
      // A fresh sign-in clears a stale "login required" notice.
      if (!hadSession && msg.state.session && state.error?.kind === "login_required") state.error = null;
      render();
      break;
    }
    case "tokenStatus":
      state.status = Array.isArray(msg.status) ? msg.status : [];
      state.statusAt = Date.now();
      render();
      break;
    case "warning":
      addWarning(msg.message);
      break;
    case "error":
      showError(toError(msg.error));
      break;
    default:
      break;
  }
}

async function start() {
  document.querySelector('[data-testid="tokens-toggle"]').addEventListener("click", () => setDrawer("tokens"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.drawer !== null) setDrawer(null);
  });
  render();
  try {
    // Subscribe first so no change between the snapshot and the subscription is lost.
    await host.subscribe(onPush);
    const [shellState, status] = await Promise.all([host.state(), host.tokenStatus()]);
    state.shell = state.shell ?? shellState;
    // A reload may find the chrome grown for a drawer it no longer shows: back to the bar.
    if (state.drawer === null) {
      invoke("shell_set_chrome_expanded", { expanded: false }).catch(() => undefined);
    }
    if (state.statusAt === 0 && Array.isArray(status)) {
      state.status = status;
      state.statusAt = Date.now();
    }
  } catch (e) {
    showError(toError(e));
  }
  render();
  setInterval(tick, 1000);
}

start();
