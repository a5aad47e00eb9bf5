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
};
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
