//! Why an ID token or a callback was refused: one reason per defect, each readable as the end of
//! a sentence.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why an ID token was rejected. Each defect has its own reason so callers and tests can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename_all = "snake_case")]
pub enum IdTokenDefect {
    /// Not a three-part compact JWS, or header/payload not valid base64url JSON.
    Malformed,
    /// `alg: none`: an unsigned token.
    Unsigned,
    /// A signature algorithm outside the configured allow-list (e.g. HS256 keyed with the public key).
    AlgorithmNotAllowed,
    /// No usable `kid`: empty or not a string, or absent while the JWKS holds several signing keys.
    MissingKeyId,
    /// `kid` not in the provider's JWKS, even after a (rate-limited) refetch.
    UnknownKeyId,
    /// Signature does not verify with the key the `kid` names.
    SignatureInvalid,
    /// `iss` differs from the discovered issuer.
    IssuerMismatch,
    /// `aud` does not contain the client id.
    AudienceMismatch,
    /// `azp` present (or required because of several audiences) and not the client id.
    AuthorizedPartyMismatch,
    /// No `sub`.
    MissingSubject,
    /// `sub` differs from the session's subject (refreshed ID token).
    SubjectChanged,
    /// No `iat`.
    MissingIssuedAt,
    /// `iat` lies in the future beyond the leeway.
    IssuedInFuture,
    /// No `exp`.
    MissingExpiry,
    /// `exp` passed (beyond the leeway).
    Expired,
    /// `nonce` missing or not the one sent at /authorize.
    NonceMismatch,
}

/// Why a callback URL was rejected before the state was even compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename_all = "snake_case")]
pub enum CallbackDefect {
    /// Not a parsable absolute URL.
    Malformed,
    /// Scheme, host, port or path differ from the redirect URI of the pending login.
    RedirectMismatch,
    /// A response parameter appears more than once (RFC 6749 §3.1).
    DuplicateParameter,
    /// No `state` parameter.
    MissingState,
    /// No `code` and no `error` parameter.
    MissingCode,
    /// The provider advertises RFC 9207 but the callback carries no `iss`.
    MissingIssuer,
}

impl IdTokenDefect {
    /// What is wrong with the token, as the end of a sentence a person reads.
    pub fn describe(self) -> &'static str {
        match self {
            IdTokenDefect::Malformed => "it is not a well-formed signed JWT",
            IdTokenDefect::Unsigned => "it is not signed (alg none)",
            IdTokenDefect::AlgorithmNotAllowed => "it is signed with an algorithm we do not accept",
            IdTokenDefect::MissingKeyId => "it does not say which of the provider's keys signed it",
            IdTokenDefect::UnknownKeyId => "it names a signing key the provider does not publish",
            IdTokenDefect::SignatureInvalid => "its signature does not verify",
            IdTokenDefect::IssuerMismatch => "it was issued by a different issuer",
            IdTokenDefect::AudienceMismatch => "it was issued to a different client",
            IdTokenDefect::AuthorizedPartyMismatch => {
                "its authorized party (azp) is a different client"
            }
            IdTokenDefect::MissingSubject => "it names no user (no sub)",
            IdTokenDefect::SubjectChanged => "it names a different user than the signed-in one",
            IdTokenDefect::MissingIssuedAt => "it has no issue time (no iat)",
            IdTokenDefect::IssuedInFuture => "it was issued in the future",
            IdTokenDefect::MissingExpiry => "it has no expiry (no exp)",
            IdTokenDefect::Expired => "it has expired",
            IdTokenDefect::NonceMismatch => "its nonce is not the one this sign-in sent",
        }
    }
}

impl CallbackDefect {
    /// What is wrong with the callback, as the end of a sentence a person reads.
    pub fn describe(self) -> &'static str {
        match self {
            CallbackDefect::Malformed => "it is not a valid URL",
            CallbackDefect::RedirectMismatch => "it is not addressed to this app's redirect URI",
            CallbackDefect::DuplicateParameter => "a parameter appears more than once",
            CallbackDefect::MissingState => "it carries no state",
            CallbackDefect::MissingCode => "it carries neither a code nor an error",
            CallbackDefect::MissingIssuer => {
                "it does not name its issuer although the provider promises to (RFC 9207)"
            }
        }
    }
}

/// Why a native fetch was not sent, or its answer not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename_all = "snake_case")]
pub enum FetchDefect {
    /// Not an absolute http(s) URL.
    NotAUrl,
    /// A user name or password in the URL.
    Userinfo,
    /// Not under any of the caller's API base URLs.
    NotAnApi,
    /// A separator or dot segment hidden in percent-escapes.
    EncodedSeparator,
    /// A header the shell sets itself, or one that frames the request.
    ForbiddenHeader,
    /// A header that is not valid HTTP.
    InvalidHeader,
    /// A method a page may not use.
    Method,
    /// The request body is over the limit.
    RequestTooLarge,
    /// The response body is over the limit.
    ResponseTooLarge,
    /// A redirect outside the API.
    RedirectOutside,
    /// Too many redirects.
    TooManyRedirects,
    /// The request itself is malformed (not the Fetch API's shape, a body that is not base64).
    InvalidRequest,
}

impl From<&crate::fetch::rules::FetchRefusal> for FetchDefect {
    fn from(r: &crate::fetch::rules::FetchRefusal) -> Self {
        use crate::fetch::rules::FetchRefusal as R;
        match r {
            R::NotAUrl { .. } => FetchDefect::NotAUrl,
            R::Userinfo => FetchDefect::Userinfo,
            R::NotAnApi { .. } => FetchDefect::NotAnApi,
            R::EncodedSeparator => FetchDefect::EncodedSeparator,
            R::ForbiddenHeader { .. } => FetchDefect::ForbiddenHeader,
            R::InvalidHeader { .. } => FetchDefect::InvalidHeader,
            R::Method { .. } => FetchDefect::Method,
            R::RequestTooLarge { .. } => FetchDefect::RequestTooLarge,
            R::RedirectOutside { .. } => FetchDefect::RedirectOutside,
            R::TooManyRedirects { .. } => FetchDefect::TooManyRedirects,
        }
    }
}
