export type TokenGrant = {
    /**
     * The raw token (serialized as-is: it goes to the MFE that asked for this audience).
     */
    accessToken: string;
    /**
     * Expiry, Unix milliseconds.
     */
    expiresAt: number;
    /**
     * Granted scopes, space-separated.
     */
    scope: string;
    /**
     * Usually `Bearer`.
     */
    tokenType: string;
    /**
     * The audience the token is for.
     */
    audience: string;
};
export type SessionInfo = {
    subject: string;
    name: string | null;
    email: string | null;
    issuer: string;
};
export type AudienceStatus = {
    audience: string;
    /**
     * Scopes of the cached token, if any.
     */
    scope: string | null;
    /**
     * Expiry of the cached token, Unix ms.
     */
    expiresAt: number | null;
    /**
     * When a token was last obtained for this audience, Unix ms.
     */
    lastRefresh: number | null;
    /**
     * The last failure for this audience (cleared by the next success).
     */
    lastError: AuthError | null;
};
export type IdTokenDefect = "malformed" | "unsigned" | "algorithm_not_allowed" | "missing_key_id" | "unknown_key_id" | "signature_invalid" | "issuer_mismatch" | "audience_mismatch" | "authorized_party_mismatch" | "missing_subject" | "subject_changed" | "missing_issued_at" | "issued_in_future" | "missing_expiry" | "expired" | "nonce_mismatch";
export type CallbackDefect = "malformed" | "redirect_mismatch" | "duplicate_parameter" | "missing_state" | "missing_code" | "missing_issuer";
export type FetchDefect = "not_a_url" | "userinfo" | "not_an_api" | "encoded_separator" | "forbidden_header" | "invalid_header" | "method" | "request_too_large" | "response_too_large" | "redirect_outside" | "too_many_redirects" | "invalid_request";
export type AuthError = {
    message: string;
    retryable: boolean;
} & ({
    "kind": "login_required";
    reason: string;
} | {
    "kind": "forbidden_audience";
    audience: string;
} | {
    "kind": "audience_not_granted";
    audience: string;
    granted: Array<string>;
    description: string | null;
} | {
    "kind": "scope_not_granted";
    audience: string;
    missing: Array<string>;
} | {
    "kind": "invalid_audience";
    reason: string;
} | {
    "kind": "invalid_scope";
    reason: string;
} | {
    "kind": "not_permitted";
    reason: string;
} | {
    "kind": "network";
    endpoint: string;
    detail: string;
} | {
    "kind": "timeout";
    endpoint: string;
} | {
    "kind": "rate_limited";
    retryAfterSecs: number | null;
    caller: string | null;
    until: number | null;
} | {
    "kind": "scope_too_broad";
    audience: string;
    extra: Array<string>;
} | {
    "kind": "provider_error";
    endpoint: string;
    status: number | null;
    error: string | null;
    description: string | null;
} | {
    "kind": "invalid_callback";
    reason: CallbackDefect;
} | {
    "kind": "state_mismatch";
} | {
    "kind": "issuer_mismatch";
} | {
    "kind": "no_pending_login";
} | {
    "kind": "login_expired";
} | {
    "kind": "login_cancelled";
} | {
    "kind": "access_denied";
    error: string;
    description: string | null;
} | {
    "kind": "id_token_invalid";
    reason: IdTokenDefect;
} | {
    "kind": "discovery_invalid";
    reason: string;
} | {
    "kind": "storage_unavailable";
    reason: string;
} | {
    "kind": "config_invalid";
    reason: string;
} | {
    "kind": "fetch_refused";
    reason: FetchDefect;
    detail: string;
} | {
    "kind": "api_unreachable";
    origin: string;
    detail: string;
} | {
    "kind": "fetch_aborted";
} | {
    "kind": "insufficient_scope";
    audience: string;
    scope: string | null;
} | {
    "kind": "invalid_step_up";
    reason: string;
} | {
    "kind": "interaction_required";
    error: string;
    description: string | null;
} | {
    "kind": "step_up_cancelled";
} | {
    "kind": "step_up_not_met";
    reason: string;
} | {
    "kind": "step_up_wrong_user";
} | {
    "kind": "token_not_exposed";
} | {
    "kind": "internal";
    reason: string;
});
