/** An access token the shell minted for one audience. `expiresAt` is unix time in milliseconds. */
export type TokenGrant = {
    accessToken: string;
    expiresAt: number;
    scope: string;
    tokenType: "Bearer";
    audience: string;
};
/** Typed failure of a shell token operation, tagged by `kind`. */
export type AuthError = {
    kind: "login_required";
    message: string;
    retryable: boolean;
} | {
    kind: "forbidden_audience";
    message: string;
    retryable: boolean;
} | {
    kind: "audience_not_granted";
    message: string;
    retryable: boolean;
} | {
    kind: "invalid_audience";
    message: string;
    retryable: boolean;
} | {
    kind: "network";
    message: string;
    retryable: boolean;
} | {
    kind: "timeout";
    message: string;
    retryable: boolean;
} | {
    kind: "rate_limited";
    message: string;
    retryable: boolean;
} | {
    kind: "provider_error";
    message: string;
    retryable: boolean;
} | {
    kind: "storage_unavailable";
    message: string;
    retryable: boolean;
};
