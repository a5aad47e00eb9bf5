import type { AuthError as ShellAuthError, SessionInfo, TokenGrant } from "./types.gen.js";
import type { FetchHead, HostPush, HostState, MfeContext, TokenStatus } from "./plugin.gen.js";
export type { TokenGrant, SessionInfo, AudienceStatus } from "./types.gen.js";
export type { AudienceScope, FetchAbortArgs, FetchHead, FetchRequest, GetTokenArgs, HostPush, HostState, LoginPhase, MfeApiView, MfeContext, MfePush, MfeSummary, ProviderView, SubscribeArgs, TokenExposureView, TokenStatus, } from "./plugin.gen.js";
/**
 * Raised by the client itself when the plugin could not be reached or refused the IPC command
 * (e.g. the page is not running inside a Portico host, or the command is not allowed for this
 * webview).
 */
export type IpcError = {
    kind: "ipc";
    message: string;
    retryable: false;
};
/** Every typed failure a client call can reject with. Branch on `kind`. */
export type AuthError = ShellAuthError | IpcError;
/** The `kind` tags of {@link AuthError}. */
export type AuthErrorKind = AuthError["kind"];
/** The signed-in user as the plugin reports it (from the ID token). */
export type Session = SessionInfo;
/** The plugin's IPC commands (`plugin:portico|…`). */
export declare const COMMANDS: {
    readonly getToken: "plugin:portico|get_token";
    readonly fetch: "plugin:portico|fetch";
    readonly fetchAbort: "plugin:portico|fetch_abort";
    readonly mfeSubscribe: "plugin:portico|mfe_subscribe";
    readonly mfeContext: "plugin:portico|mfe_context";
    readonly mfeSignIn: "plugin:portico|mfe_sign_in";
    readonly mfePing: "plugin:portico|mfe_ping";
    readonly hostState: "plugin:portico|host_state";
    readonly hostSubscribe: "plugin:portico|host_subscribe";
    readonly hostSignIn: "plugin:portico|host_sign_in";
    readonly hostCancelSignIn: "plugin:portico|host_cancel_sign_in";
    readonly hostSignOut: "plugin:portico|host_sign_out";
    readonly hostTokenStatus: "plugin:portico|host_token_status";
};
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
export type PorticoHeadersInit = Record<string, string> | ReadonlyArray<readonly [string, string]> | {
    forEach(callback: (value: string, name: string) => void): void;
};
/** What `fetch` sends as the body; a plain object or array is sent as JSON. */
export type PorticoBody = string | ArrayBuffer | ArrayBufferView | URLSearchParams | Record<string, unknown> | unknown[];
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
    addEventListener(type: "abort", listener: () => void, options?: {
        once?: boolean;
    }): void;
    removeEventListener(type: "abort", listener: () => void): void;
}
/** Response headers: lower-case names, read-only. */
export declare class PorticoHeaders {
    #private;
    constructor(entries: ReadonlyArray<readonly [string, string]>);
    /** All values of `name` joined with ", " (as the Fetch API does), or null. */
    get(name: string): string | null;
    has(name: string): boolean;
    forEach(callback: (value: string, name: string) => void): void;
    entries(): IterableIterator<[string, string]>;
    [Symbol.iterator](): IterableIterator<[string, string]>;
}
/** What `fetch` resolves with: the Fetch API's `Response`, as far as a page reads one. */
export declare class PorticoResponse {
    #private;
    readonly status: number;
    readonly statusText: string;
    readonly ok: boolean;
    readonly headers: PorticoHeaders;
    readonly url: string;
    readonly redirected: boolean;
    constructor(head: FetchHead, body: Uint8Array);
    get bodyUsed(): boolean;
    arrayBuffer(): Promise<ArrayBuffer>;
    text(): Promise<string>;
    json(): Promise<unknown>;
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
    fetch(input: string | {
        toString(): string;
    } | {
        url: string;
    }, init?: PorticoFetchInit): Promise<PorticoResponse>;
    onTokenChanged(callback: (grant: TokenGrant) => void): Unsubscribe;
    onSessionChanged(callback: (session: Session | null) => void): Unsubscribe;
    onRefreshFailed(callback: (audience: string, error: AuthError) => void): Unsubscribe;
    signIn(): Promise<void>;
    context(): Promise<MfeContext>;
}
export declare const DEFAULT_MIN_TTL_MS = 60000;
declare class URLSearchParams {
    toString(): string;
}
/** Reads `fetch`'s raw answer: a 4-byte big-endian head length, the head as JSON, the body. */
export declare function decodeFetchAnswer(raw: unknown): PorticoResponse;
/** True for any typed error this client rejects with (shell errors and {@link IpcError}). */
export declare function isAuthError(e: unknown): e is AuthError;
/**
 * Plugin errors cross IPC as tagged objects and are passed on untouched (extra fields included);
 * anything else (Tauri's ACL refusals are plain strings) becomes an {@link IpcError}.
 */
export declare function toAuthError(e: unknown): AuthError;
/** A Tauri channel: `arg` is what to pass as the command's `Channel` argument. */
export interface OpenChannel {
    arg: string;
    close(): void;
}
/**
 * Invokes any IPC command with the errors this client uses: the host's own app commands (the
 * plugin's have their own functions). Rejects with an {@link AuthError}.
 */
export declare function invoke(cmd: string, args?: Record<string, unknown>, options?: ClientOptions): Promise<unknown>;
/** Opens a Tauri channel whose messages go to `onMessage` in order. Throws outside a host. */
export declare function openChannel(onMessage: (message: unknown) => void, options?: ClientOptions): OpenChannel;
/** Creates an independent client. MFEs normally use the module-level functions instead. */
export declare function createPorticoClient(options?: ClientOptions): PorticoClient;
/**
 * An access token for `audience`, from this page's cache while it has more than `minTtlMs` to
 * live, otherwise from the shell (concurrent calls for the same audience share one request).
 * Rejects with an {@link AuthError}.
 */
export declare function getToken(audience: string, options?: GetTokenOptions): Promise<TokenGrant>;
/**
 * A request to one of this MFE's registered APIs (`apis` in its registry entry), made by the
 * shell with that API's token: the page never holds it. The Fetch API's shape: `init` takes
 * `method`, `headers`, a string / JSON value / ArrayBuffer / URLSearchParams `body` and an
 * `AbortSignal`; the answer has `status`, `ok`, `headers`, `json()`, `text()`,
 * `arrayBuffer()`. Rejects with an {@link AuthError}: `fetch_refused` (a URL outside the APIs,
 * a header the shell sets itself, a body over the limit), `api_unreachable`,
 * `insufficient_scope`, `fetch_aborted`, or a token error such as `login_required`.
 */
export declare function fetch(input: string | {
    toString(): string;
} | {
    url: string;
}, init?: PorticoFetchInit): Promise<PorticoResponse>;
/** Called when the shell refreshed one of this MFE's tokens ahead of expiry. */
export declare function onTokenChanged(callback: (grant: TokenGrant) => void): Unsubscribe;
/**
 * Called with the current session when the page's channel opens, then whenever the user signs in
 * or out (`null`). Cached tokens are dropped on sign-out or a change of user.
 */
export declare function onSessionChanged(callback: (session: Session | null) => void): Unsubscribe;
/** Called when the shell failed to refresh one of this MFE's tokens in the background. */
export declare function onRefreshFailed(callback: (audience: string, error: AuthError) => void): Unsubscribe;
/** Asks the shell to start sign-in in the system browser; the shell shows the progress. */
export declare function signIn(): Promise<void>;
/** This MFE's registration: id, title, audiences and free-form settings. */
export declare function context(): Promise<MfeContext>;
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
export declare function createHostClient(options?: ClientOptions): HostClient;
