//! Entry points for the `cargo fuzz` targets in `fuzz/` and their regression tests: the parsers
//! and validators that see provider or attacker input, driven exactly as the broker drives them.
//! Not part of the API (hidden from the docs); nothing here does I/O.

use crate::broker::sign_in::pending::state_param;
use crate::broker::token_endpoint::{expiry, granted_scopes, TokenResponse};
use crate::config::{ProviderConfig, RedirectUri, ScopeSet};
use crate::dialect::Dialect;
use crate::error::AuthError;
use crate::id_token::{self, Expected};
use crate::secret::PkceVerifier;
use crate::store::StoredSession;
use crate::transaction::{CallbackOutcome, LoginTransaction};
use jsonwebtoken::DecodingKey;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// Issuer the callback and claims targets compare against.
pub const ISSUER: &str = "https://tenant.example.com/";
/// Client id the claims target expects in `aud`.
pub const CLIENT_ID: &str = "portico-desktop";
/// `state` of the fuzzed transaction (a fuzzer can find it in the dictionary/corpus).
pub const STATE: &str = "fuzz-state";
/// `nonce` the claims target expects.
pub const NONCE: &str = "fuzz-nonce";
/// Redirect URIs the callback target checks against: a deep link and a loopback listener.
pub const REDIRECTS: [&str; 2] = [
    "dev.portico.app:/callback",
    "http://127.0.0.1:4567/callback",
];
/// "Now" for expiry decisions, fixed so runs are reproducible.
pub const NOW_SECS: u64 = 1_700_000_000;

/// What a callback URL amounted to.
#[derive(Debug)]
pub enum CallbackVerdict {
    /// Accepted: the code that would be exchanged.
    Code(String),
    /// The provider's `error=` response (sanitized).
    Denied {
        error: String,
        description: Option<String>,
    },
    /// Refused before any exchange.
    Rejected(AuthError),
}

/// Validates `callback` against a pending transaction for each of [`REDIRECTS`], with and without
/// RFC 9207 `iss` required; also runs the cancelled-login state lookup.
pub fn callback(callback: &str) -> Vec<CallbackVerdict> {
    let _ = state_param(callback);
    let mut out = Vec::new();
    for redirect in REDIRECTS {
        let Ok(redirect_uri) = Url::parse(redirect) else {
            continue;
        };
        let tx = LoginTransaction {
            state: STATE.into(),
            nonce: NONCE.into(),
            verifier: PkceVerifier::new("fuzz-verifier"),
            redirect_uri,
            expires_at: UNIX_EPOCH + Duration::from_secs(NOW_SECS + 600),
            dpop: None,
            step_up: None,
        };
        for iss_required in [false, true] {
            out.push(match tx.check_callback(callback, ISSUER, iss_required) {
                Ok(CallbackOutcome::Code(c)) => CallbackVerdict::Code(c.expose_secret().to_owned()),
                Ok(CallbackOutcome::Error { error, description }) => {
                    CallbackVerdict::Denied { error, description }
                }
                Err(e) => CallbackVerdict::Rejected(e),
            });
        }
    }
    out
}

/// What the broker would take from a token-endpoint response body.
#[derive(Debug)]
pub struct TokenVerdict {
    /// The OAuth error code, when the body is an RFC 6749 §5.2 error.
    pub oauth_error: Option<String>,
    /// The provider's `error_description`, sanitized the way errors and logs carry it.
    pub oauth_error_description: Option<String>,
    /// `Some` when the body is a token response.
    pub token: Option<ParsedToken>,
}

/// The parts of a token response the broker uses.
#[derive(Debug)]
pub struct ParsedToken {
    pub audiences: Vec<String>,
    pub granted: ScopeSet,
    pub expires_at: SystemTime,
    pub has_refresh_token: bool,
    pub id_token_header: Option<Result<Option<String>, AuthError>>,
}

/// Parses a token-endpoint body the way a refresh or code exchange does.
pub fn token_response(body: &[u8], requested: &str) -> TokenVerdict {
    let (oauth_error, oauth_error_description) = crate::http::oauth_error(body);
    let requested = ScopeSet::parse(requested).unwrap_or_default();
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    let token = serde_json::from_slice::<TokenResponse>(body).ok().map(|r| {
        let claims = id_token::unverified_claims(&r.access_token);
        let empty = serde_json::Map::new();
        ParsedToken {
            audiences: claims.as_ref().map(id_token::audiences).unwrap_or_default(),
            granted: granted_scopes(
                r.scope.as_deref(),
                claims.as_ref().unwrap_or(&empty),
                &requested,
            ),
            expires_at: expiry(r.expires_in.as_ref(), claims.as_ref(), now),
            has_refresh_token: r.refresh_token.is_some_and(|t| !t.is_empty()),
            id_token_header: r
                .id_token
                .map(|t| id_token::check_header(&t).map(|h| h.kid)),
        }
    });
    TokenVerdict {
        oauth_error,
        oauth_error_description,
        token,
    }
}

/// An RSA public key (2048-bit) for the signature path of the JWT target.
const FUZZ_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

/// What the JWT handling made of a compact token.
#[derive(Debug)]
pub struct JwtVerdict {
    /// Header check (algorithm allow-list, `kid`).
    pub header: Result<Option<String>, AuthError>,
    /// Claim checks on the unverified payload (as after a good signature), login and refresh form.
    pub claims_login: Option<Result<String, AuthError>>,
    pub claims_refresh: Option<Result<String, AuthError>>,
    /// Full verification with a fixed key (signature first).
    pub verified: Result<String, AuthError>,
}

/// Runs an ID token through header checks, claim checks and signature verification.
pub fn jwt(token: &str) -> JwtVerdict {
    let header = id_token::check_header(token).map(|h| h.kid);
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    let login = Expected {
        issuer: ISSUER,
        client_id: CLIENT_ID,
        nonce: Some(NONCE),
        subject: None,
        now,
        leeway: Duration::from_secs(30),
    };
    let refresh = Expected {
        nonce: None,
        subject: Some("auth0|alice"),
        ..login
    };
    let payload = id_token::unverified_claims(token);
    let claims_login = payload
        .as_ref()
        .map(|c| id_token::check_claims(c, &login).map(|c| c.sub));
    let claims_refresh = payload
        .as_ref()
        .map(|c| id_token::check_claims(c, &refresh).map(|c| c.sub));
    let verified = match DecodingKey::from_rsa_components(FUZZ_N, "AQAB") {
        Ok(key) => id_token::verify(token, &key, &login).map(|c| c.sub),
        Err(_) => Err(AuthError::Internal {
            reason: "fixed key".into(),
        }),
    };
    JwtVerdict {
        header,
        claims_login,
        claims_refresh,
        verified,
    }
}

/// The configuration sample the discovery and JWKS parsers are checked against.
fn sample_config() -> Option<ProviderConfig> {
    ProviderConfig::builder(Url::parse(ISSUER).ok()?, CLIENT_ID)
        .redirect(RedirectUri::PrivateScheme(Url::parse(REDIRECTS[0]).ok()?))
        .dialect(Dialect::Auth0)
        .build()
        .ok()
}

/// What the configuration and provider-metadata parsers made of a JSON document.
#[derive(Debug)]
pub struct ConfigVerdict {
    /// `Some` when the bytes deserialize to a `ProviderConfig`; then its validation result.
    pub provider_config: Option<Result<(), AuthError>>,
    /// Discovery document checked against the sample configuration.
    pub discovery: Result<String, AuthError>,
    /// Number of usable JWKS keys, and whether a `kid`-less token would find one.
    pub jwks_keys: Option<usize>,
    /// Stored session decoding, and whether it re-encodes within the size limit.
    pub stored_session: Option<bool>,
}

/// Parses `body` as a provider configuration, a discovery document, a JWKS and a stored session.
pub fn config(body: &[u8]) -> ConfigVerdict {
    let provider_config = crate::config::shape_then_rules(body).map(|r| r.map(|_| ()));
    let discovery = match sample_config() {
        Some(c) => crate::discovery::parse(body, &c).map(|m| m.issuer),
        None => Err(AuthError::Internal {
            reason: "sample config".into(),
        }),
    };
    let jwks_keys = crate::jwks::parse_set(body).map(|keys| {
        let _ = crate::jwks::find(&keys, None);
        keys.len()
    });
    let stored_session = std::str::from_utf8(body)
        .ok()
        .and_then(|s| StoredSession::from_store_json(s).ok())
        .map(|s| s.to_store_json().is_ok());
    ConfigVerdict {
        provider_config,
        discovery,
        jwks_keys,
        stored_session,
    }
}
