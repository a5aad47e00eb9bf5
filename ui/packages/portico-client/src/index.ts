// @portico/client: the guest-js package of tauri-plugin-portico. What a micro frontend imports to
// get access tokens from the Portico plugin, and what the host's own UI uses for the session.
//
// Plain ES module, no runtime dependencies, no bundler needed. It talks to the plugin through
// `globalThis.__TAURI_INTERNALS__` (present in every Tauri webview) rather than @tauri-apps/api,
// so remote MFEs can load it from the host at `/_portico/client.js`.
//
// The page never says who it is: the plugin identifies the calling webview itself and only hands
// out tokens for the audiences in this webview's scope.

import type { AuthError as ShellAuthError, SessionInfo, TokenGrant } from "./types.gen.js";
import type { FetchHead, HostPush, HostState, MfeContext, MfePush, TokenStatus } from "./plugin.gen.js";

export type { TokenGrant, SessionInfo, AudienceStatus } from "./types.gen.js";
export type {
  AudienceScope,
  FetchAbortArgs,
  FetchHead,
  FetchRequest,
  GetTokenArgs,
  HostPush,
  HostState,
  LoginPhase,
  MfeApiView,
  MfeContext,
  MfePush,
  MfeSummary,
  ProviderView,
  SubscribeArgs,
  TokenExposureView,
  TokenStatus,
} from "./plugin.gen.js";

/**
 * Raised by the client itself when the plugin could not be reached or refused the IPC command
 * (e.g. the page is not running inside a Portico host, or the command is not allowed for this
 * webview).
 */
export type IpcError = { kind: "ipc"; message: string; retryable: false };

/** Every typed failure a client call can reject with. Branch on `kind`. */
export type AuthError = ShellAuthError | IpcError;

/** The `kind` tags of {@link AuthError}. */
export type AuthErrorKind = AuthError["kind"];

/** The signed-in user as the plugin reports it (from the ID token). */
export type Session = SessionInfo;

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
} as const;

export interface GetTokenOptions {
  /** Scopes to ask for, space-separated or as a list. Omit for the MFE's registered defaults. */
  scopes?: string | readonly string[];
  /** A cached token is reused only while it has more than this left to live. Default 60 000. */
  minTtlMs?: number;
  /** Skip this page's cache and ask the plugin. */
  forceRefresh?: boolean;
  /**
   * Step-up: the authentication context classes the sign-in behind the token must reach
   * (OIDC `acr_values`, e.g. `["mfa"]`), as an API's `insufficient_user_authentication`
   * challenge names them. When the current sign-in does not, the shell asks the person to sign
   * in again in the browser (the call waits; it rejects with `step_up_cancelled` if they
   * cancel).
   */
  acrValues?: string | readonly string[];
  /** Step-up: the most seconds since the person last authenticated (OIDC `max_age`). */
  maxAge?: number;
  /** Step-up: an OIDC claims request, e.g. from an Entra claims challenge (JSON text or object). */
  claims?: string | Record<string, unknown>;
}

export type Unsubscribe = () => void;

/** Header names and values, in any of the shapes the Fetch API takes. */
export type PorticoHeadersInit =
  | Record<string, string>
  | ReadonlyArray<readonly [string, string]>
  | { forEach(callback: (value: string, name: string) => void): void };

/** What `fetch` sends as the body; a plain object or array is sent as JSON. */
export type PorticoBody =
  | string
  | ArrayBuffer
  | ArrayBufferView
  | URLSearchParams
  | Record<string, unknown>
  | unknown[];

/** The Fetch API's `init`, as far as a request through the shell goes. */
export interface PorticoFetchInit {
  method?: string;
  headers?: PorticoHeadersInit;
  body?: PorticoBody | null;
  /** Aborting rejects with the typed `fetch_aborted` and stops the shell's request. */
  signal?: AbortSignal | null;
}

/** The `AbortSignal` slice this client uses. */
export interface AbortSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** Response headers: lower-case names, read-only. */
export class PorticoHeaders {
  readonly #entries: ReadonlyArray<readonly [string, string]>;
  constructor(entries: ReadonlyArray<readonly [string, string]>) {
    this.#entries = entries.map(([k, v]) => [k.toLowerCase(), v] as const);
  }
  /** All values of `name` joined with ", " (as the Fetch API does), or null. */
  get(name: string): string | null {
    const n = name.toLowerCase();
    const values = this.#entries.filter(([k]) => k === n).map(([, v]) => v);
    return values.length ? values.join(", ") : null;
  }
  has(name: string): boolean {
    return this.get(name) !== null;
  }
  forEach(callback: (value: string, name: string) => void): void {
    for (const [k, v] of this.#entries) callback(v, k);
  }
  entries(): IterableIterator<[string, string]> {
    return this.#entries.map(([k, v]) => [k, v] as [string, string])[Symbol.iterator]();
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/** What `fetch` resolves with: the Fetch API's `Response`, as far as a page reads one. */
export class PorticoResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: PorticoHeaders;
  readonly url: string;
  readonly redirected: boolean;
  readonly #body: Uint8Array;
  #used = false;
  constructor(head: FetchHead, body: Uint8Array) {
    this.status = head.status;
    this.statusText = head.statusText;
    this.ok = head.status >= 200 && head.status < 300;
    this.headers = new PorticoHeaders(head.headers);
    this.url = head.url;
    this.redirected = head.redirected;
    this.#body = body;
  }
  get bodyUsed(): boolean {
    return this.#used;
  }
  #take(): Uint8Array {
    if (this.#used) throw new TypeError("the body has already been read");
    this.#used = true;
    return this.#body;
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.#take();
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }
  async text(): Promise<string> {
    return new TextDecoder().decode(this.#take());
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

/** The slice of Tauri's injected IPC object this client uses. */
export interface TauriInternals {
  invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown>;
  transformCallback(callback: (message: unknown) => void, once?: boolean): number;
  unregisterCallback?(id: number): void;
}

export interface ClientOptions {
  /** Clock in unix milliseconds; injectable so expiry can be tested. Defaults to `Date.now`. */
  now?: () => number;
  /** IPC transport; defaults to `globalThis.__TAURI_INTERNALS__`, looked up at call time. */
  internals?: TauriInternals;
  /** Where exceptions thrown by listeners go. Defaults to rethrowing them asynchronously. */
  reportError?: (error: unknown) => void;
}

export interface PorticoClient {
  getToken(audience: string, options?: GetTokenOptions): Promise<TokenGrant>;
  fetch(input: string | { toString(): string } | { url: string }, init?: PorticoFetchInit): Promise<PorticoResponse>;
  onTokenChanged(callback: (grant: TokenGrant) => void): Unsubscribe;
  onSessionChanged(callback: (session: Session | null) => void): Unsubscribe;
  onRefreshFailed(callback: (audience: string, error: AuthError) => void): Unsubscribe;
  signIn(): Promise<void>;
  context(): Promise<MfeContext>;
}

export const DEFAULT_MIN_TTL_MS = 60_000;

// Tauri's wire format for a `tauri::ipc::Channel` argument (see @tauri-apps/api core.js).
const CHANNEL_PREFIX = "__CHANNEL__:";

declare function setTimeout(callback: () => void, ms?: number): unknown;
declare function btoa(data: string): string;
declare class TextEncoder {
  encode(input: string): Uint8Array;
}
declare class TextDecoder {
  decode(input: Uint8Array): string;
}
declare class URLSearchParams {
  toString(): string;
}
declare const URL: { new (url: string, base?: string): { href: string } };

function base64(bytes: Uint8Array): string {
  let binary = "";
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function headerPairs(init: PorticoHeadersInit | undefined): [string, string][] {
  if (!init) return [];
  const out: [string, string][] = [];
  if (Array.isArray(init)) {
    for (const [k, v] of init as ReadonlyArray<readonly [string, string]>) out.push([String(k), String(v)]);
  } else if (typeof (init as { forEach?: unknown }).forEach === "function") {
    (init as { forEach(cb: (v: string, k: string) => void): void }).forEach((v, k) => out.push([k, v]));
  } else {
    for (const [k, v] of Object.entries(init as Record<string, string>)) out.push([k, String(v)]);
  }
  return out;
}

function hasHeader(headers: [string, string][], name: string): boolean {
  return headers.some(([k]) => k.toLowerCase() === name);
}

/** The body as bytes, and the content type it implies when the page set none. */
function encodeBody(body: PorticoBody): { bytes: Uint8Array; type?: string } {
  if (typeof body === "string") return { bytes: new TextEncoder().encode(body), type: "text/plain;charset=UTF-8" };
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body) };
  if (ArrayBuffer.isView(body)) return { bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
  if (typeof URLSearchParams === "function" && body instanceof URLSearchParams) {
    return { bytes: new TextEncoder().encode(body.toString()), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  return { bytes: new TextEncoder().encode(JSON.stringify(body)), type: "application/json" };
}

function resolveUrl(input: string | { toString(): string } | { url: string }): string {
  const raw = typeof input === "object" && input !== null && "url" in input && typeof input.url === "string" ? input.url : String(input);
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return base ? new URL(raw, base).href : raw;
  } catch {
    return raw; // the shell refuses it with a typed `fetch_refused`
  }
}

/** Reads `fetch`'s raw answer: a 4-byte big-endian head length, the head as JSON, the body. */
export function decodeFetchAnswer(raw: unknown): PorticoResponse {
  let bytes: Uint8Array;
  if (raw instanceof ArrayBuffer) bytes = new Uint8Array(raw);
  else if (ArrayBuffer.isView(raw)) bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  else if (Array.isArray(raw)) bytes = Uint8Array.from(raw as number[]);
  else throw ipcError("the shell answered fetch with something that is not bytes");
  if (bytes.length < 4) throw ipcError("the shell's fetch answer is truncated");
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (4 + len > bytes.length) throw ipcError("the shell's fetch answer is truncated");
  let head: FetchHead;
  try {
    head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + len))) as FetchHead;
  } catch {
    throw ipcError("the shell's fetch answer has an unreadable head");
  }
  return new PorticoResponse(head, bytes.subarray(4 + len));
}

function abortedError(): AuthError {
  return { kind: "fetch_aborted", message: "The request was aborted.", retryable: false } as AuthError;
}

/** True for any typed error this client rejects with (shell errors and {@link IpcError}). */
export function isAuthError(e: unknown): e is AuthError {
  if (typeof e !== "object" || e === null) return false;
  const r = e as Record<string, unknown>;
  return typeof r.kind === "string" && typeof r.message === "string" && typeof r.retryable === "boolean";
}

function ipcError(message: string): IpcError {
  return { kind: "ipc", message, retryable: false };
}

function notInHost(): IpcError {
  return ipcError("not running inside a Portico host (no Tauri IPC in this page)");
}

/**
 * Plugin errors cross IPC as tagged objects and are passed on untouched (extra fields included);
 * anything else (Tauri's ACL refusals are plain strings) becomes an {@link IpcError}.
 */
export function toAuthError(e: unknown): AuthError {
  if (isAuthError(e)) return e;
  if (typeof e === "string") return ipcError(e);
  if (e instanceof Error) return ipcError(e.message);
  return ipcError("unexpected response from the Portico shell");
}

function isTokenGrant(v: unknown): v is TokenGrant {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.accessToken === "string" &&
    typeof r.expiresAt === "number" &&
    typeof r.scope === "string" &&
    typeof r.audience === "string"
  );
}

function scopeSet(scope: string): Set<string> {
  return new Set(scope.split(/\s+/).filter((s) => s.length > 0));
}

function normalizeScopes(scopes: string | readonly string[] | undefined): string {
  if (scopes === undefined) return "";
  const list = typeof scopes === "string" ? [...scopeSet(scopes)] : [...new Set(scopes)];
  return list.filter((s) => s.length > 0).sort().join(" ");
}

interface CacheEntry {
  audience: string;
  scopes: string; // normalized requested scopes, "" = registered defaults
  grant: TokenGrant;
}

function findTransport(given: TauriInternals | undefined): TauriInternals | null {
  if (given) return given;
  const t = (globalThis as { __TAURI_INTERNALS__?: Partial<TauriInternals> }).__TAURI_INTERNALS__;
  if (t && typeof t.invoke === "function" && typeof t.transformCallback === "function") {
    return t as TauriInternals;
  }
  return null;
}

async function invokeWith(t: TauriInternals | null, cmd: string, args?: Record<string, unknown>): Promise<unknown> {
  if (!t) throw notInHost();
  try {
    return await t.invoke(cmd, args);
  } catch (e) {
    throw toAuthError(e);
  }
}

/** A Tauri channel: `arg` is what to pass as the command's `Channel` argument. */
export interface OpenChannel {
  arg: string;
  close(): void;
}

// Replicates @tauri-apps/api's Channel: messages carry an index and are delivered in index order,
// `{ end: true, index }` closes the channel once all arrived.
function openChannelWith(
  t: TauriInternals,
  onMessage: (message: unknown) => void,
  onClose: () => void = () => undefined,
): OpenChannel {
  let nextIndex = 0;
  let endIndex: number | undefined;
  const pending = new Map<number, unknown>();
  let closed = false;

  const close = (): void => {
    if (closed) return;
    closed = true;
    t.unregisterCallback?.(id);
    onClose();
  };

  const id = t.transformCallback((raw: unknown) => {
    if (closed || typeof raw !== "object" || raw === null) return;
    const frame = raw as { index?: unknown; message?: unknown; end?: unknown };
    if (typeof frame.index !== "number") return;
    if ("end" in frame) {
      if (frame.index === nextIndex) close();
      else endIndex = frame.index;
      return;
    }
    if (frame.index < nextIndex) return; // duplicate
    pending.set(frame.index, frame.message);
    while (pending.has(nextIndex)) {
      const message = pending.get(nextIndex);
      pending.delete(nextIndex);
      nextIndex += 1;
      onMessage(message);
    }
    if (endIndex !== undefined && nextIndex >= endIndex) close();
  });
  return { arg: `${CHANNEL_PREFIX}${id}`, close };
}

/**
 * Invokes any IPC command with the errors this client uses: the host's own app commands (the
 * plugin's have their own functions). Rejects with an {@link AuthError}.
 */
export function invoke(cmd: string, args?: Record<string, unknown>, options: ClientOptions = {}): Promise<unknown> {
  return invokeWith(findTransport(options.internals), cmd, args);
}

/** Opens a Tauri channel whose messages go to `onMessage` in order. Throws outside a host. */
export function openChannel(onMessage: (message: unknown) => void, options: ClientOptions = {}): OpenChannel {
  const t = findTransport(options.internals);
  if (!t) throw notInHost();
  return openChannelWith(t, onMessage);
}

/** Creates an independent client. MFEs normally use the module-level functions instead. */
export function createPorticoClient(options: ClientOptions = {}): PorticoClient {
  const now = options.now ?? (() => Date.now());
  const reportError =
    options.reportError ??
    ((error: unknown) => {
      // Reported as uncaught, like @tauri-apps/api's Channel does, without stalling delivery.
      setTimeout(() => {
        throw error;
      });
    });
  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<TokenGrant>>();
  // Bumped when the session changes so answers to requests made before it are not cached.
  let generation = 0;
  let lastSubject: string | null | undefined;

  const tokenListeners = new Set<(grant: TokenGrant) => void>();
  const sessionListeners = new Set<(session: Session | null) => void>();
  const refreshFailedListeners = new Set<(audience: string, error: AuthError) => void>();

  let subscription: Promise<void> | null = null;
  let contextPromise: Promise<MfeContext> | null = null;

  const transport = (): TauriInternals | null => findTransport(options.internals);
  const invoke = (cmd: string, args?: Record<string, unknown>): Promise<unknown> =>
    invokeWith(transport(), cmd, args);

  function cacheKey(audience: string, scopes: string): string {
    return `${audience}\n${scopes}`;
  }

  // Never replace a token with one that dies sooner: a late IPC answer can race a pushed refresh.
  function store(entry: CacheEntry): void {
    const key = cacheKey(entry.audience, entry.scopes);
    const existing = cache.get(key);
    if (!existing || entry.grant.expiresAt >= existing.grant.expiresAt) cache.set(key, entry);
  }

  function emit<A extends unknown[]>(listeners: Set<(...args: A) => void>, ...args: A): void {
    for (const listener of [...listeners]) {
      try {
        listener(...args);
      } catch (error) {
        // A throwing listener must not starve the others.
        reportError(error);
      }
    }
  }

  function handlePush(message: MfePush): void {
    switch (message.type) {
      case "tokenChanged": {
        const grant = message.grant;
        if (!isTokenGrant(grant)) return;
        const granted = scopeSet(grant.scope);
        let coveredDefault = false;
        for (const entry of [...cache.values()]) {
          if (entry.audience !== grant.audience) continue;
          if (entry.scopes === "") coveredDefault = true;
          if ([...scopeSet(entry.scopes)].every((s) => granted.has(s))) store({ ...entry, grant });
        }
        // The shell only pushes this webview's own audiences, so it also serves a default request.
        if (!coveredDefault) store({ audience: grant.audience, scopes: "", grant });
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
  function subscribe(): Promise<void> {
    if (subscription) return subscription;
    const t = transport();
    if (!t) return Promise.reject(notInHost());
    const channel = openChannelWith(t, (message: unknown) => {
      if (typeof message === "object" && message !== null) handlePush(message as MfePush);
    }, () => {
      if (subscription === current) subscription = null;
    });
    const current: Promise<void> = invoke(COMMANDS.mfeSubscribe, { channel: channel.arg }).then(
      () => undefined,
      (e: unknown) => {
        channel.close();
        throw e;
      },
    );
    subscription = current;
    return current;
  }

  function subscribeQuietly(): void {
    // Pushes are an optimisation for the cache and listeners; a failure here resurfaces on the
    // next subscribe attempt, and getToken still works without it.
    subscribe().catch(() => undefined);
  }

  function listen<F>(set: Set<F>, callback: F): Unsubscribe {
    if (typeof callback !== "function") throw new TypeError("callback must be a function");
    set.add(callback);
    subscribeQuietly();
    return () => {
      set.delete(callback);
    };
  }

  async function fetchToken(audience: string, scopes: string, stepUp?: Record<string, unknown>): Promise<TokenGrant> {
    subscribeQuietly();
    const startedIn = generation;
    const args: Record<string, unknown> = { audience, ...stepUp };
    if (scopes !== "") args.scopes = scopes;
    const grant = await invoke(COMMANDS.getToken, args);
    if (!isTokenGrant(grant)) throw ipcError("the shell answered get_token with a malformed grant");
    if (startedIn === generation) store({ audience, scopes, grant });
    return grant;
  }

  /** The step-up arguments of `opts`, or undefined when it asks for none. */
  function stepUpArgs(opts: GetTokenOptions): Record<string, unknown> | undefined {
    const out: Record<string, unknown> = {};
    if (opts.acrValues !== undefined) {
      const list = typeof opts.acrValues === "string" ? opts.acrValues.split(/\s+/) : [...opts.acrValues];
      const values = list.filter((v) => v.length > 0);
      if (values.length) out.acrValues = values;
    }
    if (opts.maxAge !== undefined) out.maxAge = opts.maxAge;
    if (opts.claims !== undefined) out.claims = typeof opts.claims === "string" ? opts.claims : JSON.stringify(opts.claims);
    return Object.keys(out).length ? out : undefined;
  }

  function getToken(audience: string, opts: GetTokenOptions = {}): Promise<TokenGrant> {
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
      if (hit && hit.grant.expiresAt - now() > minTtlMs) return Promise.resolve(hit.grant);
    }
    const running = inflight.get(key);
    if (running) return running;

    const request = fetchToken(audience, scopes, stepUp).finally(() => {
      if (inflight.get(key) === request) inflight.delete(key);
    });
    inflight.set(key, request);
    return request;
  }

  let abortSeq = 0;
  async function fetchThroughShell(
    input: string | { toString(): string } | { url: string },
    init: PorticoFetchInit = {},
  ): Promise<PorticoResponse> {
    const signal = init.signal ?? null;
    if (signal?.aborted) throw abortedError();
    const headers = headerPairs(init.headers);
    const request: Record<string, unknown> = {
      url: resolveUrl(input),
      method: (init.method ?? "GET").toUpperCase(),
      headers,
    };
    if (init.body !== undefined && init.body !== null) {
      const { bytes, type } = encodeBody(init.body);
      if (type && !hasHeader(headers, "content-type")) headers.push(["content-type", type]);
      request.body = base64(bytes);
    }
    if (!signal) return decodeFetchAnswer(await invoke(COMMANDS.fetch, { request }));
    abortSeq += 1;
    const abortId = `${abortSeq}-${Math.random().toString(36).slice(2)}`;
    request.abortId = abortId;
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
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
    } finally {
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
        contextPromise = invoke(COMMANDS.mfeContext).then(
          (ctx) => ctx as MfeContext,
          (e: unknown) => {
            contextPromise = null;
            throw e;
          },
        );
      }
      return contextPromise;
    },
  };
}

let defaultClient: PorticoClient | null = null;

function client(): PorticoClient {
  if (!defaultClient) defaultClient = createPorticoClient();
  return defaultClient;
}

/**
 * An access token for `audience`, from this page's cache while it has more than `minTtlMs` to
 * live, otherwise from the shell (concurrent calls for the same audience share one request).
 * Rejects with an {@link AuthError}.
 */
export function getToken(audience: string, options?: GetTokenOptions): Promise<TokenGrant> {
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
export function fetch(
  input: string | { toString(): string } | { url: string },
  init?: PorticoFetchInit,
): Promise<PorticoResponse> {
  return client().fetch(input, init);
}

/** Called when the shell refreshed one of this MFE's tokens ahead of expiry. */
export function onTokenChanged(callback: (grant: TokenGrant) => void): Unsubscribe {
  return client().onTokenChanged(callback);
}

/**
 * Called with the current session when the page's channel opens, then whenever the user signs in
 * or out (`null`). Cached tokens are dropped on sign-out or a change of user.
 */
export function onSessionChanged(callback: (session: Session | null) => void): Unsubscribe {
  return client().onSessionChanged(callback);
}

/** Called when the shell failed to refresh one of this MFE's tokens in the background. */
export function onRefreshFailed(callback: (audience: string, error: AuthError) => void): Unsubscribe {
  return client().onRefreshFailed(callback);
}

/** Asks the shell to start sign-in in the system browser; the shell shows the progress. */
export function signIn(): Promise<void> {
  return client().signIn();
}

/** This MFE's registration: id, title, audiences and free-form settings. */
export function context(): Promise<MfeContext> {
  return client().context();
}

/** What the host's own UI (granted `portico:host-ui`) uses to show and drive the session. */
export interface HostClient {
  /** Everything the host UI shows; no secrets. */
  state(): Promise<HostState>;
  /** Pushes (state, token status, warnings, errors); the current state is sent first. */
  subscribe(onPush: (push: HostPush) => void): Promise<OpenChannel>;
  signIn(): Promise<void>;
  cancelSignIn(): Promise<void>;
  signOut(): Promise<void>;
  /** Per audience: what the plugin holds (no tokens) and which MFEs use it. */
  tokenStatus(): Promise<TokenStatus[]>;
}

/** Creates the host UI's client. */
export function createHostClient(options: ClientOptions = {}): HostClient {
  const call = (cmd: string, args?: Record<string, unknown>): Promise<unknown> =>
    invokeWith(findTransport(options.internals), cmd, args);
  const reportError =
    options.reportError ??
    ((error: unknown) => {
      setTimeout(() => {
        throw error;
      });
    });
  return {
    state: () => call(COMMANDS.hostState) as Promise<HostState>,
    async subscribe(onPush) {
      const t = findTransport(options.internals);
      if (!t) throw notInHost();
      const channel = openChannelWith(t, (message) => {
        if (typeof message !== "object" || message === null) return;
        try {
          onPush(message as HostPush);
        } catch (error) {
          reportError(error);
        }
      });
      try {
        await call(COMMANDS.hostSubscribe, { channel: channel.arg });
      } catch (e) {
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
    tokenStatus: () => call(COMMANDS.hostTokenStatus) as Promise<TokenStatus[]>,
  };
}
