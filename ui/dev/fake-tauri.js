// PREVIEW HARNESS ONLY: never shipped, never loaded by the app.
// A scripted stand-in for the Portico shell on the other side of Tauri IPC, so the chrome and the
// sample MFEs can be opened in a plain browser (see ui/dev/README.md). preview-server.py injects
// this script into an HTML page when the URL has `?scenario=...`:
//   scenario = signed-in | signed-out | pending | completing | refresh-error | token-error
//   drawer   = tokens | account      (chrome: open the drawer after load)
//   warning  = 1                     (chrome: push a warning notice)
//   error    = 1                     (chrome: push a shell error)
//   ttl      = seconds               (lifetime of fake access tokens, default 900)
//   click    = data-testid           (click that element after load, e.g. try-foreign)
//   mfe      = billing | ...         (which MFE this page is, when served at / with --root)
(function () {
  "use strict";
  const q = new URLSearchParams(location.search);
  const scenario = q.get("scenario") || "signed-in";
  const ttlMs = Number(q.get("ttl") || 900) * 1000;
  const API = "https://api.portico.dev/";
  const MFES = [
    { id: "billing", title: "Billing", audiences: [API + "billing"], scope: "read:invoices write:invoices" },
    { id: "dashboard", title: "Dashboard", audiences: [API + "core"], scope: "read:dashboard" },
    { id: "analytics", title: "Analytics", audiences: [API + "analytics"], scope: "read:reports export:reports" },
  ];
  const SESSION = { name: "Ada Lovelace", email: "ada@portico.dev", subject: "auth0|65f1c0ffee42a1" };
  const now = Date.now();

  const world = {
    session: scenario === "signed-out" || scenario === "pending" || scenario === "completing" ? null : SESSION,
    login: scenario === "pending" ? "pending" : scenario === "completing" ? "completing" : "idle",
    activeMfe: "billing",
    status: [],
  };
  if (world.session) {
    world.status = [
      { audience: API + "analytics", mfes: ["analytics"], scope: "read:reports export:reports", expiresAt: now + 42_000, lastRefresh: now - 858_000, lastError: null },
      { audience: API + "billing", mfes: ["billing"], scope: "read:invoices write:invoices", expiresAt: now + 734_000, lastRefresh: now - 166_000, lastError: null },
      {
        audience: API + "core",
        mfes: ["dashboard"],
        scope: "read:dashboard",
        expiresAt: now + 512_000,
        lastRefresh: now - 388_000,
        lastError: scenario === "refresh-error" ? { kind: "rate_limited", message: "The provider asked us to slow down; retrying in 30 s.", retryable: true } : null,
      },
    ];
  }

  const callbacks = new Map();
  let nextId = 1;
  const channels = []; // { id, index, kind }

  function send(ch, message) {
    const cb = callbacks.get(ch.id);
    if (cb) cb({ message, index: ch.index++ });
  }
  function push(kind, message) {
    for (const ch of channels) if (ch.kind === kind) send(ch, message);
  }
  function shellState() {
    return {
      session: world.session,
      login: world.login,
      mfes: MFES.map(({ id, title, audiences }) => ({ id, title, audiences })),
      activeMfe: world.activeMfe,
      provider: { issuer: "http://127.0.0.1:47100/", dialect: "auth0", embedded: true },
      chromeExpanded: false,
    };
  }
  function channelId(arg) {
    const m = /^__CHANNEL__:(\d+)$/.exec(String(arg));
    if (!m) throw "invalid channel value";
    return Number(m[1]);
  }

  // Which MFE is this page? The real shell knows from the webview; the harness from the path.
  const mfe = MFES.find((m) => q.get("mfe") === m.id || location.pathname.includes(`/mfes/${m.id}/`));

  function fakeJwt(aud, scope) {
    const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    return `${b64({ alg: "RS256", typ: "JWT", kid: "preview" })}.${b64({ aud, scope, sub: SESSION.subject, exp: Math.floor((Date.now() + ttlMs) / 1000) })}.preview-signature`;
  }

  function signInLater() {
    world.login = "pending";
    push("shell", { type: "state", state: shellState() });
    setTimeout(() => {
      world.login = "idle";
      world.session = SESSION;
      push("shell", { type: "state", state: shellState() });
      push("mfe", { type: "sessionChanged", session: SESSION });
    }, 2500);
  }

  const handlers = {
    "plugin:portico|host_state": () => shellState(),
    "plugin:portico|host_token_status": () => world.status,
    "plugin:portico|host_subscribe": ({ channel }) => {
      const ch = { id: channelId(channel), index: 0, kind: "shell" };
      channels.push(ch);
      send(ch, { type: "state", state: shellState() }); // like the shell: current state first
      if (q.get("warning")) setTimeout(() => push("shell", { type: "warning", message: "Ignored a sign-in callback that did not match the pending request" }), 150);
      if (q.get("error")) setTimeout(() => push("shell", { type: "error", error: { kind: "network", message: "Could not reach the identity provider", retryable: true } }), 150);
      if (q.get("drawer")) setTimeout(() => document.querySelector(q.get("drawer") === "account" ? '[data-testid="account-menu"]' : '[data-testid="tokens-toggle"]')?.click(), 250);
      return null;
    },
    "plugin:portico|host_sign_in": () => (signInLater(), null),
    "plugin:portico|host_cancel_sign_in": () => {
      world.login = "idle";
      push("shell", { type: "state", state: shellState() });
      return null;
    },
    "plugin:portico|host_sign_out": () => {
      world.session = null;
      world.status = [];
      push("shell", { type: "state", state: shellState() });
      push("shell", { type: "tokenStatus", status: [] });
      push("mfe", { type: "sessionChanged", session: null });
      return null;
    },
    shell_select_mfe: ({ id }) => {
      world.activeMfe = id;
      push("shell", { type: "state", state: shellState() });
      return null;
    },
    shell_set_chrome_expanded: () => null,

    "plugin:portico|mfe_context": () => {
      if (!mfe) throw "mfe_context not allowed for this webview";
      return { id: mfe.id, title: mfe.title, audiences: mfe.audiences, settings: { apiUrl: `${location.origin}/demo-api/${mfe.audiences[0].split("/").pop()}/` } };
    },
    "plugin:portico|mfe_subscribe": ({ channel }) => {
      const ch = { id: channelId(channel), index: 0, kind: "mfe" };
      channels.push(ch);
      send(ch, { type: "sessionChanged", session: world.session }); // like the shell: current session first
      return null;
    },
    "plugin:portico|mfe_sign_in": () => (signInLater(), null),
    "plugin:portico|get_token": ({ audience }) => {
      world.getTokenCalls = (world.getTokenCalls || 0) + 1;
      document.documentElement.dataset.previewGetTokenCalls = String(world.getTokenCalls);
      if (!mfe) throw "get_token not allowed for this webview";
      if (!mfe.audiences.includes(audience)) {
        throw { kind: "forbidden_audience", message: `${mfe.title} is not registered for ${audience}`, retryable: false, audience };
      }
      if (!world.session) throw { kind: "login_required", message: "Sign in to continue", retryable: false };
      if (scenario === "token-error") throw { kind: "storage_unavailable", message: "The system keyring is locked; unlock it and try again.", retryable: true };
      return { accessToken: fakeJwt(audience, mfe.scope), expiresAt: Date.now() + ttlMs, scope: mfe.scope, tokenType: "Bearer", audience };
    },
  };

  window.__TAURI_INTERNALS__ = {
    transformCallback(cb, once) {
      const id = nextId++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        cb(data);
      });
      return id;
    },
    unregisterCallback(id) {
      callbacks.delete(id);
    },
    invoke(cmd, args = {}) {
      return new Promise((resolve, reject) => {
        setTimeout(() => {
          try {
            const h = handlers[cmd];
            if (!h) throw `Command ${cmd} not found`;
            resolve(h(args));
          } catch (e) {
            reject(e);
          }
        }, 30);
      });
    },
  };
  window.__PORTICO_PREVIEW__ = { world, push };
})();
// Preview conveniences: `click=<data-testid>` clicks that element once the page has settled.
(function () {
  const q = new URLSearchParams(location.search);
  const target = q.get("click");
  if (target) setTimeout(() => document.querySelector(`[data-testid="${target}"]`)?.click(), Number(q.get("clickAfter") || 600));
})();
