// @portico/client: the guest-js package of tauri-plugin-portico. What a micro frontend imports to
// get access tokens from the Portico plugin, and what the host's own UI uses for the session.
//
// Plain ES module, no runtime dependencies, no bundler needed. It talks to the plugin through
// `globalThis.__TAURI_INTERNALS__` (present in every Tauri webview) rather than @tauri-apps/api,
// so remote MFEs can load it from the host at `/_portico/client.js`.
//
// The page never says who it is: the plugin identifies the calling webview itself and only hands
// out tokens for the audiences in this webview's scope.
var __classPrivateFieldSet = (this && this.__classPrivateFieldSet) || function (receiver, state, value, kind, f) {
    if (kind === "m") throw new TypeError("Private method is not writable");
    if (kind === "a" && !f) throw new TypeError("Private accessor was defined without a setter");
    if (typeof state === "function" ? receiver !== state || !f : !state.has(receiver)) throw new TypeError("Cannot write private member to an object whose class did not declare it");
    return (kind === "a" ? f.call(receiver, value) : f ? f.value = value : state.set(receiver, value)), value;
};
var __classPrivateFieldGet = (this && this.__classPrivateFieldGet) || function (receiver, state, kind, f) {
    if (kind === "a" && !f) throw new TypeError("Private accessor was defined without a getter");
    if (typeof state === "function" ? receiver !== state || !f : !state.has(receiver)) throw new TypeError("Cannot read private member from an object whose class did not declare it");
    return kind === "m" ? f : kind === "a" ? f.call(receiver) : f ? f.value : state.get(receiver);
};
var _PorticoHeaders_entries, _PorticoResponse_instances, _PorticoResponse_body, _PorticoResponse_used, _PorticoResponse_take;
/** The plugin's IPC commands (`plugin:portico|…`). */
export const COMMANDS = {
    getToken: "plugin:portico|get_token",
    fetch: "plugin:portico|fetch",
    fetchAbort: "plugin:portico|fetch_abort",
    mfeSubscribe: "plugin:portico|mfe_subscribe",
    mfeContext: "plugin:portico|mfe_context",
    mfeSignIn: "plugin:portico|mfe_sign_in",
    mfePing: "plugin:portico|mfe_ping",
    hostState: "plugin:portico|host_state",
    hostSubscribe: "plugin:portico|host_subscribe",
    hostSignIn: "plugin:portico|host_sign_in",
    hostCancelSignIn: "plugin:portico|host_cancel_sign_in",
    hostSignOut: "plugin:portico|host_sign_out",
    hostTokenStatus: "plugin:portico|host_token_status",
};
/** Response headers: lower-case names, read-only. */
export class PorticoHeaders {
    constructor(entries) {
        _PorticoHeaders_entries.set(this, void 0);
        __classPrivateFieldSet(this, _PorticoHeaders_entries, entries.map(([k, v]) => [k.toLowerCase(), v]), "f");
    }
    /** All values of `name` joined with ", " (as the Fetch API does), or null. */
    get(name) {
        const n = name.toLowerCase();
        const values = __classPrivateFieldGet(this, _PorticoHeaders_entries, "f").filter(([k]) => k === n).map(([, v]) => v);
        return values.length ? values.join(", ") : null;
    }
    has(name) {
        return this.get(name) !== null;
    }
    forEach(callback) {
        for (const [k, v] of __classPrivateFieldGet(this, _PorticoHeaders_entries, "f"))
            callback(v, k);
    }
    entries() {
        return __classPrivateFieldGet(this, _PorticoHeaders_entries, "f").map(([k, v]) => [k, v])[Symbol.iterator]();
    }
    [(_PorticoHeaders_entries = new WeakMap(), Symbol.iterator)]() {
        return this.entries();
    }
}
/** What `fetch` resolves with: the Fetch API's `Response`, as far as a page reads one. */
export class PorticoResponse {
    constructor(head, body) {
        _PorticoResponse_instances.add(this);
        _PorticoResponse_body.set(this, void 0);
        _PorticoResponse_used.set(this, false);
        this.status = head.status;
        this.statusText = head.statusText;
        this.ok = head.status >= 200 && head.status < 300;
        this.headers = new PorticoHeaders(head.headers);
        this.url = head.url;
        this.redirected = head.redirected;
        __classPrivateFieldSet(this, _PorticoResponse_body, body, "f");
    }
    get bodyUsed() {
        return __classPrivateFieldGet(this, _PorticoResponse_used, "f");
    }
    async arrayBuffer() {
        const b = __classPrivateFieldGet(this, _PorticoResponse_instances, "m", _PorticoResponse_take).call(this);
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    }
    async text() {
        return new TextDecoder().decode(__classPrivateFieldGet(this, _PorticoResponse_instances, "m", _PorticoResponse_take).call(this));
    }
    async json() {
        return JSON.parse(await this.text());
    }
}
_PorticoResponse_body = new WeakMap(), _PorticoResponse_used = new WeakMap(), _PorticoResponse_instances = new WeakSet(), _PorticoResponse_take = function _PorticoResponse_take() {
    if (__classPrivateFieldGet(this, _PorticoResponse_used, "f"))
        throw new TypeError("the body has already been read");
    __classPrivateFieldSet(this, _PorticoResponse_used, true, "f");
    return __classPrivateFieldGet(this, _PorticoResponse_body, "f");
};
export const DEFAULT_MIN_TTL_MS = 60000;
// Tauri's wire format for a `tauri::ipc::Channel` argument (see @tauri-apps/api core.js).
const CHANNEL_PREFIX = "__CHANNEL__:";
function base64(bytes) {
    let binary = "";
    // In slices: String.fromCharCode takes its arguments on the stack.
    for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
}
function headerPairs(init) {
    if (!init)
        return [];
    const out = [];
    if (Array.isArray(init)) {
        for (const [k, v] of init)
            out.push([String(k), String(v)]);
    }
    else if (typeof init.forEach === "function") {
        init.forEach((v, k) => out.push([k, v]));
    }
    else {
        for (const [k, v] of Object.entries(init))
            out.push([k, String(v)]);
    }
    return out;
}
function hasHeader(headers, name) {
    return headers.some(([k]) => k.toLowerCase() === name);
}
/** The body as bytes, and the content type it implies when the page set none. */
function encodeBody(body) {
    if (typeof body === "string")
        return { bytes: new TextEncoder().encode(body), type: "text/plain;charset=UTF-8" };
    if (body instanceof ArrayBuffer)
        return { bytes: new Uint8Array(body) };
    if (ArrayBuffer.isView(body))
        return { bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
    if (typeof URLSearchParams === "function" && body instanceof URLSearchParams) {
        return { bytes: new TextEncoder().encode(body.toString()), type: "application/x-www-form-urlencoded;charset=UTF-8" };
    }
    return { bytes: new TextEncoder().encode(JSON.stringify(body)), type: "application/json" };
}
function resolveUrl(input) {
    const raw = typeof input === "object" && input !== null && "url" in input && typeof input.url === "string" ? input.url : String(input);
    const base = globalThis.location?.href;
    try {
        return base ? new URL(raw, base).href : raw;
    }
    catch {
        return raw; // the shell refuses it with a typed `fetch_refused`
    }
}
/** Reads `fetch`'s raw answer: a 4-byte big-endian head length, the head as JSON, the body. */
export function decodeFetchAnswer(raw) {
    let bytes;
    if (raw instanceof ArrayBuffer)
        bytes = new Uint8Array(raw);
    else if (ArrayBuffer.isView(raw))
        bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    else if (Array.isArray(raw))
        bytes = Uint8Array.from(raw);
    else
        throw ipcError("the shell answered fetch with something that is not bytes");
    if (bytes.length < 4)
        throw ipcError("the shell's fetch answer is truncated");
    const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
    if (4 + len > bytes.length)
        throw ipcError("the shell's fetch answer is truncated");
    let head;
    try {
        head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + len)));
    }
    catch {
        throw ipcError("the shell's fetch answer has an unreadable head");
    }
    return new PorticoResponse(head, bytes.subarray(4 + len));
}
function abortedError() {
    return { kind: "fetch_aborted", message: "The request was aborted.", retryable: false };
}
/** True for any typed error this client rejects with (shell errors and {@link IpcError}). */
export function isAuthError(e) {
    if (typeof e !== "object" || e === null)
        return false;
    const r = e;
    return typeof r.kind === "string" && typeof r.message === "string" && typeof r.retryable === "boolean";
}
function ipcError(message) {
    return { kind: "ipc", message, retryable: false };
}
function notInHost() {
    return ipcError("not running inside a Portico host (no Tauri IPC in this page)");
}
/**
 * Plugin errors cross IPC as tagged objects and are passed on untouched (extra fields included);
 * anything else (Tauri's ACL refusals are plain strings) becomes an {@link IpcError}.
 */
export function toAuthError(e) {
    if (isAuthError(e))
        return e;
    if (typeof e === "string")
        return ipcError(e);
    if (e instanceof Error)
        return ipcError(e.message);
    return ipcError("unexpected response from the Portico shell");
}
function isTokenGrant(v) {
    if (typeof v !== "object" || v === null)
        return false;
    const r = v;
    return (typeof r.accessToken === "string" &&
        typeof r.expiresAt === "number" &&
        typeof r.scope === "string" &&
        typeof r.audience === "string");
}
function scopeSet(scope) {
    return new Set(scope.split(/\s+/).filter((s) => s.length > 0));
}
function normalizeScopes(scopes) {
    if (scopes === undefined)
        return "";
    const list = typeof scopes === "string" ? [...scopeSet(scopes)] : [...new Set(scopes)];
    return list.filter((s) => s.length > 0).sort().join(" ");
}
function findTransport(given) {
    if (given)
        return given;
    const t = globalThis.__TAURI_INTERNALS__;
    if (t && typeof t.invoke === "function" && typeof t.transformCallback === "function") {
        return t;
    }
    return null;
}
async function invokeWith(t, cmd, args) {
    if (!t)
        throw notInHost();
    try {
        return await t.invoke(cmd, args);
    }
    catch (e) {
        throw toAuthError(e);
    }
}
// Replicates @tauri-apps/api's Channel: messages carry an index and are delivered in index order,
// `{ end: true, index }` closes the channel once all arrived.
function openChannelWith(t, onMessage, onClose = () => undefined) {
    let nextIndex = 0;
    let endIndex;
    const pending = new Map();
    let closed = false;
    const close = () => {
        if (closed)
            return;
        closed = true;
        t.unregisterCallback?.(id);
        onClose();
    };
    const id = t.transformCallback((raw) => {
        if (closed || typeof raw !== "object" || raw === null)
            return;
        const frame = raw;
        if (typeof frame.index !== "number")
            return;
        if ("end" in frame) {
            if (frame.index === nextIndex)
                close();
            else
                endIndex = frame.index;
            return;
        }
        if (frame.index < nextIndex)
            return; // duplicate
        pending.set(frame.index, frame.message);
        while (pending.has(nextIndex)) {
            const message = pending.get(nextIndex);
            pending.delete(nextIndex);
            nextIndex += 1;
            onMessage(message);
        }
        if (endIndex !== undefined && nextIndex >= endIndex)
            close();
    });
    return { arg: `${CHANNEL_PREFIX}${id}`, close };
}
/**
 * Invokes any IPC command with the errors this client uses: the host's own app commands (the
 * plugin's have their own functions). Rejects with an {@link AuthError}.
 */
export function invoke(cmd, args, options = {}) {
    return invokeWith(findTransport(options.internals), cmd, args);
}
/** Opens a Tauri channel whose messages go to `onMessage` in order. Throws outside a host. */
export function openChannel(onMessage, options = {}) {
    const t = findTransport(options.internals);
    if (!t)
        throw notInHost();
    return openChannelWith(t, onMessage);
}
/** Creates an independent client. MFEs normally use the module-level functions instead. */
export function createPorticoClient(options = {}) {
    const now = options.now ?? (() => Date.now());
    const reportError = options.reportError ??
        ((error) => {
            // Reported as uncaught, like @tauri-apps/api's Channel does, without stalling delivery.
            setTimeout(() => {
                throw error;
            });
        });
    const cache = new Map();
    const inflight = new Map();
    // Bumped when the session changes so answers to requests made before it are not cached.
    let generation = 0;
    let lastSubject;
    const tokenListeners = new Set();
    const sessionListeners = new Set();
    const refreshFailedListeners = new Set();
    let subscription = null;
    let contextPromise = null;
    const transport = () => findTransport(options.internals);
    const invoke = (cmd, args) => invokeWith(transport(), cmd, args);
    function cacheKey(audience, scopes) {
        return `${audience}\n${scopes}`;
    }
    // Never replace a token with one that dies sooner: a late IPC answer can race a pushed refresh.
    function store(entry) {
        const key = cacheKey(entry.audience, entry.scopes);
        const existing = cache.get(key);
        if (!existing || entry.grant.expiresAt >= existing.grant.expiresAt)
            cache.set(key, entry);
    }
    function emit(listeners, ...args) {
        for (const listener of [...listeners]) {
            try {
                listener(...args);
            }
            catch (error) {
                // A throwing listener must not starve the others.
                reportError(error);
            }
        }
    }
    function handlePush(message) {
        switch (message.type) {
            case "tokenChanged": {
                const grant = message.grant;
                if (!isTokenGrant(grant))
                    return;
                const granted = scopeSet(grant.scope);
                let coveredDefault = false;
                for (const entry of [...cache.values()]) {
                    if (entry.audience !== grant.audience)
                        continue;
                    if (entry.scopes === "")
                        coveredDefault = true;
                    if ([...scopeSet(entry.scopes)].every((s) => granted.has(s)))
                        store({ ...entry, grant });
                }
                // The shell only pushes this webview's own audiences, so it also serves a default request.
                if (!coveredDefault)
                    store({ audience: grant.audience, scopes: "", grant });
                emit(tokenListeners, grant);
                return;
            }
            case "sessionChanged": {
                const session = message.session ?? null;
                const subject = session ? session.subject : null;
                // The shell sends the current session as soon as the channel opens; that snapshot must
                // not throw away a token fetched alongside it. After that, a different user (or no user)
                // means earlier tokens must not be served.
                if (session === null || (lastSubject !== undefined && subject !== lastSubject)) {
                    cache.clear();
                    generation += 1;
                }
                lastSubject = subject;
                emit(sessionListeners, session);
                return;
            }
            case "refreshFailed":
                emit(refreshFailedListeners, message.audience, toAuthError(message.error));
                return;
            default:
                return;
        }
    }
    // One channel per client.
    function subscribe() {
        if (subscription)
            return subscription;
        const t = transport();
        if (!t)
            return Promise.reject(notInHost());
        const channel = openChannelWith(t, (message) => {
            if (typeof message === "object" && message !== null)
                handlePush(message);
        }, () => {
            if (subscription === current)
                subscription = null;
        });
        const current = invoke(COMMANDS.mfeSubscribe, { channel: channel.arg }).then(() => undefined, (e) => {
            channel.close();
            throw e;
        });
        subscription = current;
        return current;
    }
    function subscribeQuietly() {
        // Pushes are an optimisation for the cache and listeners; a failure here resurfaces on the
        // next subscribe attempt, and getToken still works without it.
        subscribe().catch(() => undefined);
    }
    function listen(set, callback) {
        if (typeof callback !== "function")
            throw new TypeError("callback must be a function");
        set.add(callback);
        subscribeQuietly();
        return () => {
            set.delete(callback);
        };
    }
    async function fetchToken(audience, scopes, stepUp) {
        subscribeQuietly();
        const startedIn = generation;
        const args = { audience, ...stepUp };
        if (scopes !== "")
            args.scopes = scopes;
        const grant = await invoke(COMMANDS.getToken, args);
        if (!isTokenGrant(grant))
            throw ipcError("the shell answered get_token with a malformed grant");
        if (startedIn === generation)
            store({ audience, scopes, grant });
        return grant;
    }
    /** The step-up arguments of `opts`, or undefined when it asks for none. */
    function stepUpArgs(opts) {
        const out = {};
        if (opts.acrValues !== undefined) {
            const list = typeof opts.acrValues === "string" ? opts.acrValues.split(/\s+/) : [...opts.acrValues];
            const values = list.filter((v) => v.length > 0);
            if (values.length)
                out.acrValues = values;
        }
        if (opts.maxAge !== undefined)
            out.maxAge = opts.maxAge;
        if (opts.claims !== undefined)
            out.claims = typeof opts.claims === "string" ? opts.claims : JSON.stringify(opts.claims);
        return Object.keys(out).length ? out : undefined;
    }
    function getToken(audience, opts = {}) {
        if (typeof audience !== "string" || audience.length === 0) {
            return Promise.reject(new TypeError("audience must be a non-empty string"));
        }
        const scopes = normalizeScopes(opts.scopes);
        const minTtlMs = Math.max(0, opts.minTtlMs ?? DEFAULT_MIN_TTL_MS);
        const stepUp = stepUpArgs(opts);
        // A step-up skips the page's cache, which does not know what sign-in a token came from
        // (the shell's does); identical calls still share one IPC call.
        const key = stepUp ? `${cacheKey(audience, scopes)}\n${JSON.stringify(stepUp)}` : cacheKey(audience, scopes);
        if (!stepUp && !opts.forceRefresh) {
            const hit = cache.get(key);
            if (hit && hit.grant.expiresAt - now() > minTtlMs)
                return Promise.resolve(hit.grant);
        }
        const running = inflight.get(key);
        if (running)
            return running;
        const request = fetchToken(audience, scopes, stepUp).finally(() => {
            if (inflight.get(key) === request)
                inflight.delete(key);
        });
        inflight.set(key, request);
        return request;
    }
    let abortSeq = 0;
    async function fetchThroughShell(input, init = {}) {
        const signal = init.signal ?? null;
        if (signal?.aborted)
            throw abortedError();
        const headers = headerPairs(init.headers);
        const request = {
            url: resolveUrl(input),
            method: (init.method ?? "GET").toUpperCase(),
            headers,
        };
        if (init.body !== undefined && init.body !== null) {
            const { bytes, type } = encodeBody(init.body);
            if (type && !hasHeader(headers, "content-type"))
                headers.push(["content-type", type]);
            request.body = base64(bytes);
        }
        if (!signal)
            return decodeFetchAnswer(await invoke(COMMANDS.fetch, { request }));
        abortSeq += 1;
        const abortId = `${abortSeq}-${Math.random().toString(36).slice(2)}`;
        request.abortId = abortId;
        let onAbort = () => undefined;
        const aborted = new Promise((_, reject) => {
            onAbort = () => {
                // The shell stops its request; the page does not wait for it to say so.
                invoke(COMMANDS.fetchAbort, { abortId }).catch(() => undefined);
                reject(abortedError());
            };
            signal.addEventListener("abort", onAbort, { once: true });
        });
        try {
            const raw = await Promise.race([invoke(COMMANDS.fetch, { request }), aborted]);
            return decodeFetchAnswer(raw);
        }
        finally {
            signal.removeEventListener("abort", onAbort);
        }
    }
    return {
        getToken,
        fetch: fetchThroughShell,
        onTokenChanged: (callback) => listen(tokenListeners, callback),
        onSessionChanged: (callback) => listen(sessionListeners, callback),
        onRefreshFailed: (callback) => listen(refreshFailedListeners, callback),
        async signIn() {
            await invoke(COMMANDS.mfeSignIn);
        },
        context() {
            if (!contextPromise) {
                contextPromise = invoke(COMMANDS.mfeContext).then((ctx) => ctx, (e) => {
                    contextPromise = null;
                    throw e;
                });
            }
            return contextPromise;
        },
    };
}
let defaultClient = null;
function client() {
    if (!defaultClient)
        defaultClient = createPorticoClient();
    return defaultClient;
}
/**
 * An access token for `audience`, from this page's cache while it has more than `minTtlMs` to
 * live, otherwise from the shell (concurrent calls for the same audience share one request).
 * Rejects with an {@link AuthError}.
 */
export function getToken(audience, options) {
    return client().getToken(audience, options);
}
/**
 * A request to one of this MFE's registered APIs (`apis` in its registry entry), made by the
 * shell with that API's token: the page never holds it. The Fetch API's shape: `init` takes
 * `method`, `headers`, a string / JSON value / ArrayBuffer / URLSearchParams `body` and an
 * `AbortSignal`; the answer has `status`, `ok`, `headers`, `json()`, `text()`,
 * `arrayBuffer()`. Rejects with an {@link AuthError}: `fetch_refused` (a URL outside the APIs,
 * a header the shell sets itself, a body over the limit), `api_unreachable`,
 * `insufficient_scope`, `fetch_aborted`, or a token error such as `login_required`.
 */
export function fetch(input, init) {
    return client().fetch(input, init);
}
/** Called when the shell refreshed one of this MFE's tokens ahead of expiry. */
export function onTokenChanged(callback) {
    return client().onTokenChanged(callback);
}
/**
 * Called with the current session when the page's channel opens, then whenever the user signs in
 * or out (`null`). Cached tokens are dropped on sign-out or a change of user.
 */
export function onSessionChanged(callback) {
    return client().onSessionChanged(callback);
}
/** Called when the shell failed to refresh one of this MFE's tokens in the background. */
export function onRefreshFailed(callback) {
    return client().onRefreshFailed(callback);
}
/** Asks the shell to start sign-in in the system browser; the shell shows the progress. */
export function signIn() {
    return client().signIn();
}
/** This MFE's registration: id, title, audiences and free-form settings. */
export function context() {
    return client().context();
}
/** Creates the host UI's client. */
export function createHostClient(options = {}) {
    const call = (cmd, args) => invokeWith(findTransport(options.internals), cmd, args);
    const reportError = options.reportError ??
        ((error) => {
            setTimeout(() => {
                throw error;
            });
        });
    return {
        state: () => call(COMMANDS.hostState),
        async subscribe(onPush) {
            const t = findTransport(options.internals);
            if (!t)
                throw notInHost();
            const channel = openChannelWith(t, (message) => {
                if (typeof message !== "object" || message === null)
                    return;
                try {
                    onPush(message);
                }
                catch (error) {
                    reportError(error);
                }
            });
            try {
                await call(COMMANDS.hostSubscribe, { channel: channel.arg });
            }
            catch (e) {
                channel.close();
                throw e;
            }
            return channel;
        },
        async signIn() {
            await call(COMMANDS.hostSignIn);
        },
        async cancelSignIn() {
            await call(COMMANDS.hostCancelSignIn);
        },
        async signOut() {
            await call(COMMANDS.hostSignOut);
        },
        tokenStatus: () => call(COMMANDS.hostTokenStatus),
    };
}
