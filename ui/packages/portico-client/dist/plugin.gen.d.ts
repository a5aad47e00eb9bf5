import type { AuthError, SessionInfo, TokenGrant } from "./types.gen.js";
export type AudienceScope = {
    /**
     * The audience (API identifier) exactly as the provider knows it.
     */
    audience: string;
};
export type GetTokenArgs = {
    /**
     * The URI of the API the token is for.
     */
    audience: string;
    /**
     * Space-separated scopes within the MFE's registration; omitted: all of them.
     */
    scopes?: string;
    /**
     * Step-up: the authentication context classes the sign-in must reach (OIDC `acr_values`).
     */
    acr_values?: Array<string>;
    /**
     * Step-up: the most seconds since the person last authenticated (OIDC `max_age`).
     */
    max_age?: number;
    /**
     * Step-up: an OIDC claims request (a JSON object as a string; Entra's claims challenge).
     */
    claims?: string;
};
export type FetchRequest = {
    /**
     * Absolute: the client resolves a relative URL against its page first.
     */
    url: string;
    /**
     * `GET` when omitted.
     */
    method?: string;
    /**
     * Name and value pairs, in order.
     */
    headers: Array<[string, string]>;
    /**
     * The body's bytes in standard base64.
     */
    body?: string;
    /**
     * Chosen by the page, so that `fetch_abort` can cancel this request.
     */
    abortId?: string;
};
export type FetchAbortArgs = {
    abortId: string;
};
export type FetchHead = {
    status: number;
    statusText: string;
    /**
     * Lower-case names; `Set-Cookie` never reaches the page.
     */
    headers: Array<[string, string]>;
    /**
     * Where the answer came from, after redirects within the API.
     */
    url: string;
    redirected: boolean;
};
export type SubscribeArgs = {
    channel: string;
};
export type MfeContext = {
    id: string;
    title: string;
    audiences: Array<string>;
    /**
     * Scopes this MFE is registered for (what `getToken` asks for by default).
     */
    scopes: Array<string>;
    /**
     * Free-form per-MFE configuration from the registry, e.g. `{ "apiUrl": "..." }`.
     */
    settings: Record<string, unknown>;
    /**
     * The APIs `fetch` reaches for this MFE, each with the audience whose token it gets.
     */
    apis: Array<MfeApiView>;
    /**
     * `fetch-only`: `getToken` is refused and no token is pushed; use `fetch`.
     */
    tokenExposure: TokenExposureView;
};
export type MfeApiView = {
    baseUrl: string;
    audience: string;
};
export type TokenExposureView = "page" | "fetch-only";
export type MfePush = {
    "type": "tokenChanged";
    grant: TokenGrant;
} | {
    "type": "sessionChanged";
    session: SessionInfo | null;
} | {
    "type": "refreshFailed";
    audience: string;
    error: AuthError;
};
export type LoginPhase = "idle" | "pending" | "completing";
export type ProviderView = {
    issuer: string;
    dialect: "auth0" | "rfc8707";
    /**
     * The embedded development provider.
     */
    embedded: boolean;
};
export type MfeSummary = {
    id: string;
    title: string;
    audiences: Array<string>;
};
export type HostState = {
    session: SessionInfo | null;
    login: LoginPhase;
    mfes: Array<MfeSummary>;
    /**
     * The MFE the host shows (set by the host with `Portico::set_active_mfe`).
     */
    activeMfe: string | null;
    provider: ProviderView;
    /**
     * An additional sign-in an MFE asked for, waiting in the browser (cancel it with
     * `host_cancel_sign_in`).
     */
    stepUp: StepUpStatus | null;
};
export type StepUpStatus = {
    /**
     * The MFE that asked (its id) and its title.
     */
    mfe: string;
    mfeTitle: string;
    audience: string;
    /**
     * What the sign-in must reach (`acr_values`), in order of preference.
     */
    acrValues: Array<string>;
    /**
     * How recent it must be, in seconds.
     */
    maxAge: number | null;
};
export type TokenStatus = {
    audience: string;
    mfes: Array<string>;
    scope: string | null;
    /**
     * Unix ms.
     */
    expiresAt: number | null;
    /**
     * Unix ms.
     */
    lastRefresh: number | null;
    lastError: AuthError | null;
};
export type HostPush = {
    "type": "state";
    state: HostState;
} | {
    "type": "tokenStatus";
    status: Array<TokenStatus>;
} | {
    "type": "warning";
    message: string;
} | {
    "type": "error";
    error: AuthError;
};
