// Part 2 of `cargo xtask bench`: four ways an MFE gets a token, an API call through the shell's
// native fetch against the page's own fetch with a bearer token, and the real auth0-spa-js
// (served by the bench at /vendor/auth0-spa-js.js) beside Portico's client, timed in one page,
// one run. Everything is driven from WebDriver through `window.porticoBench`; nothing runs on
// its own.
import { context, fetch as shellFetch, getToken } from "/_portico/client.js";

const status = document.getElementById("status");
const ipc = () => globalThis.__TAURI_INTERNALS__;

// ---------- (d) the seed article's web bridge, shell side ----------
// The article's ShellAuthOrchestrator: an allow-list of MFE origins, a token manager holding
// tokens per audience in memory, and a message handler answering GET_TOKEN to the sender only.
const bridge = {
  allowedOrigins: new Set(),
  tokens: new Map(), // audience -> { token, expiresAt }
  async getTokenForAudience(audience) {
    const hit = this.tokens.get(audience);
    if (hit && hit.expiresAt - Date.now() > 60000) return hit.token;
    const grant = await getToken(audience);
    this.tokens.set(audience, { token: grant.accessToken, expiresAt: grant.expiresAt });
    return grant.accessToken;
  },
};

window.addEventListener("message", async (event) => {
  // Validate origin (the article's getMicroFrontendByOrigin) and message structure.
  if (!bridge.allowedOrigins.has(event.origin)) return;
  const data = event.data;
  if (!data || typeof data !== "object" || typeof data.type !== "string") return;
  if (data.type === "GET_TOKEN" && typeof data.audience === "string") {
    const token = await bridge.getTokenForAudience(data.audience);
    event.source?.postMessage({ type: "TOKEN_RESPONSE", token, audience: data.audience }, event.origin);
  }
});

function loadFrame(frameOrigin) {
  return new Promise((resolve, reject) => {
    const frame = document.createElement("iframe");
    const url = new URL("/", frameOrigin);
    url.searchParams.set("shell", location.origin);
    frame.src = url.href;
    const timer = setTimeout(() => reject(new Error("the bridge iframe did not load")), 15000);
    const onReady = (event) => {
      if (event.origin !== frameOrigin || event.data?.type !== "FRAME_READY") return;
      window.removeEventListener("message", onReady);
      clearTimeout(timer);
      resolve(frame);
    };
    window.addEventListener("message", onReady);
    document.body.append(frame);
  });
}

// Ask the iframe to time `n` GET_TOKEN round trips; it answers with its own measurements.
function frameBatch(frame, frameOrigin, audience, n) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the bridge iframe did not answer")), 60000);
    const onDone = (event) => {
      if (event.origin !== frameOrigin || event.data?.type !== "BENCH_DONE") return;
      window.removeEventListener("message", onDone);
      clearTimeout(timer);
      if (event.data.failures) reject(new Error(`${event.data.failures} GET_TOKEN calls got no token`));
      else resolve(event.data);
    };
    window.addEventListener("message", onDone);
    frame.contentWindow.postMessage({ type: "BENCH_RUN", audience, n }, frameOrigin);
  });
}

// ---------- (j), (k): auth0-spa-js in this page, against the same provider ----------
// A single-page application as Auth0 documents it: its own client (`portico-spa`), its page as
// redirect URI, refresh tokens, the in-memory cache. It never navigates (the shell pins this
// webview to its origins): `openUrl` hands the authorization URL to the bench, whose scripted
// browser signs in and gives the callback URL back to `auth0Callback`.
const spa = { client: null, authorizeUrl: null };

async function auth0Login({ domain, clientId, audience, scope }) {
  const { Auth0Client } = await import("/vendor/auth0-spa-js.js");
  spa.client = new Auth0Client({
    domain,
    clientId,
    cacheLocation: "memory",
    useRefreshTokens: true,
    authorizationParams: { audience, scope, redirect_uri: `${location.origin}/` },
  });
  await spa.client.loginWithRedirect({
    openUrl: (url) => {
      spa.authorizeUrl = url;
    },
  });
  if (!spa.authorizeUrl) throw new Error("auth0-spa-js opened no authorization URL");
  return { authorizeUrl: spa.authorizeUrl, secureContext: window.isSecureContext };
}

// (k): one call past auth0-spa-js's cache (`cacheMode: 'off'`): its lock, a refresh-token grant
// at the provider's token endpoint from its worker, the ID token checked, the tokens cached.
// The bench calls it once a round, alternating with the shell's miss (l) in another webview.
async function auth0Refresh() {
  const start = performance.now();
  const token = await spa.client.getTokenSilently({ cacheMode: "off" });
  const ms = performance.now() - start;
  // Its cache now hands out what this refresh brought.
  const cached = await spa.client.getTokenSilently();
  return { ms, token, cached: cached === token };
}

async function auth0Callback(url) {
  await spa.client.handleRedirectCallback(url);
  const token = await spa.client.getTokenSilently();
  if (typeof token !== "string" || token.split(".").length !== 3) {
    throw new Error("auth0-spa-js holds no access token after the callback");
  }
  return true;
}

// ---------- timing ----------

function timerResolution() {
  let smallest = Infinity;
  for (let i = 0; i < 200; i++) {
    const a = performance.now();
    let b = performance.now();
    while (b === a) b = performance.now();
    smallest = Math.min(smallest, b - a);
  }
  return smallest;
}

// `batch` calls back to back; returns [total ms, per-call ms of each call].
async function timed(batch, call) {
  const each = new Array(batch);
  const start = performance.now();
  let last = start;
  for (let i = 0; i < batch; i++) {
    await call();
    const t = performance.now();
    each[i] = t - last;
    last = t;
  }
  return [last - start, each];
}

/**
 * Interleaved rounds of the four cases, so drift and background load hit all of them alike.
 * Returns, per case, the mean per-call time of every batch and every single call's time.
 */
async function run({ rounds, batch, frameOrigin, warmup }) {
  status.textContent = "running";
  const ctx = await context();
  const audience = ctx.audiences[0];
  const t = ipc();
  if (!spa.client) throw new Error("auth0-spa-js is not signed in (auth0Login, auth0Callback)");
  // Fill both caches: the native one (broker) and the page's (client).
  await t.invoke("plugin:portico|get_token", { audience });
  await getToken(audience);
  bridge.allowedOrigins.add(frameOrigin);
  await bridge.getTokenForAudience(audience);
  const frame = await loadFrame(frameOrigin);

  // The same loopback API both ways; the body is read in full and its size checked.
  const api = String(ctx.settings.apiUrl ?? "");
  const bytes = (n) => `${api}bytes?n=${n}`;
  const expectSize = (buf, n) => {
    if (buf.byteLength !== n) throw new Error(`got ${buf.byteLength} bytes, expected ${n}`);
  };
  const nativeFetch = (n) => async () => {
    const r = await shellFetch(bytes(n));
    if (r.status !== 200) throw new Error(`native fetch: HTTP ${r.status}`);
    expectSize(await r.arrayBuffer(), n);
  };
  const pageFetch = (n) => async () => {
    const g = await getToken(audience);
    const r = await fetch(bytes(n), { headers: { Authorization: `Bearer ${g.accessToken}` } });
    if (r.status !== 200) throw new Error(`page fetch: HTTP ${r.status}`);
    expectSize(await r.arrayBuffer(), n);
  };

  const cases = {
    a_client_cache: () => getToken(audience),
    // auth0-spa-js's cache hit: the token for its client's audience and scope, from memory.
    j_auth0_cache: () => spa.client.getTokenSilently(),
    f_native_fetch_1k: nativeFetch(1024),
    g_page_fetch_1k: pageFetch(1024),
    h_native_fetch_100k: nativeFetch(100 * 1024),
    i_page_fetch_100k: pageFetch(100 * 1024),
    b_ipc_get_token: () => t.invoke("plugin:portico|get_token", { audience }),
    c_ipc_ping: () => t.invoke("plugin:portico|mfe_ping"),
    // Diagnostic: an IPC command that identifies its caller (webview URL, registry) like
    // get_token does, but neither asks the broker nor pushes the token status to the chrome.
    e_ipc_context: () => t.invoke("plugin:portico|mfe_context"),
  };
  const out = {};
  for (const name of [...Object.keys(cases), "d_web_bridge"]) out[name] = { batch: [], single: [] };
  const once = async (name, n) => {
    if (name === "d_web_bridge") {
      const r = await frameBatch(frame, frameOrigin, audience, n);
      return [r.total, r.each];
    }
    return timed(n, cases[name]);
  };
  for (let r = 0; r < warmup + rounds; r++) {
    for (const name of Object.keys(out)) {
      const n = batch[name];
      const [total, each] = await once(name, n);
      if (r < warmup) continue;
      out[name].batch.push(total / n);
      out[name].single.push(...each);
    }
  }
  // Sanity: every case hands out the same token (no case measured an error path).
  const viaClient = (await getToken(audience)).accessToken;
  const viaIpc = (await t.invoke("plugin:portico|get_token", { audience })).accessToken;
  const viaBridge = (await bridge.getTokenForAudience(audience));
  const viaAuth0 = await spa.client.getTokenSilently();
  status.textContent = "done";
  return {
    audience,
    resolution_ms: timerResolution(),
    same_token: viaClient === viaIpc && viaIpc === viaBridge,
    // (j) handed out a token for the same API from auth0-spa-js's own sign-in.
    auth0_token_is_a_jwt: typeof viaAuth0 === "string" && viaAuth0.split(".").length === 3,
    ping_result: await t.invoke("plugin:portico|mfe_ping"),
    cases: out,
    user_agent: navigator.userAgent,
  };
}

window.porticoBench = { run, auth0Login, auth0Callback, auth0Refresh };
status.textContent = "ready";
