import type { AuthError as ShellAuthError, TokenGrant } from "./types.gen.js";
export type { TokenGrant } from "./types.gen.js";
/**
 * Raised by the client itself when the shell could not be reached or refused the IPC command
 * (e.g. the page is not running inside Portico, or the command is not allowed for this webview).
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
/** The signed-in user as the shell reports it (from the ID token). */
export interface Session {
    name: string | null;
    email: string | null;
    subject: string;
}
/** What the shell's registry says about the calling MFE. */
export interface MfeContext {
    id: string;
    title: string;
    audiences: string[];
    /** Scopes this MFE is registered for (what `getToken` asks for by default). */
    scopes?: string[];
    /** Free-form per-MFE configuration from the registry, e.g. `{ "apiUrl": "..." }`. */
    settings: Record<string, unknown>;
}
export interface GetTokenOptions {
    /** Scopes to ask for, space-separated or as a list. Omit for the MFE's registered defaults. */
    scopes?: string | readonly string[];
    /** A cached token is reused only while it has more than this left to live. Default 60 000. */
    minTtlMs?: number;
    /** Skip this page's cache and ask the shell. */
    forceRefresh?: boolean;
}
/** Messages the shell pushes to this webview over its `mfe_subscribe` channel. */
export type MfePush = {
    type: "tokenChanged";
    grant: TokenGrant;
} | {
    type: "sessionChanged";
    session: Session | null;
} | {
    type: "refreshFailed";
    audience: string;
    error: AuthError;
};
export type Unsubscribe = () => void;
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
    onTokenChanged(callback: (grant: TokenGrant) => void): Unsubscribe;
    onSessionChanged(callback: (session: Session | null) => void): Unsubscribe;
    onRefreshFailed(callback: (audience: string, error: AuthError) => void): Unsubscribe;
    signIn(): Promise<void>;
    context(): Promise<MfeContext>;
}
export declare const DEFAULT_MIN_TTL_MS = 60000;
/** True for any typed error this client rejects with (shell errors and {@link IpcError}). */
export declare function isAuthError(e: unknown): e is AuthError;
/** Creates an independent client. MFEs normally use the module-level functions instead. */
export declare function createPorticoClient(options?: ClientOptions): PorticoClient;
/**
 * An access token for `audience`, from this page's cache while it has more than `minTtlMs` to
 * live, otherwise from the shell (concurrent calls for the same audience share one request).
 * Rejects with an {@link AuthError}.
 */
export declare function getToken(audience: string, options?: GetTokenOptions): Promise<TokenGrant>;
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
