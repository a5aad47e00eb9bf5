//! JWKS cache: keys by `kid`, refetched on an unknown `kid` at most once per interval.

use crate::clock::Clock;
use crate::error::{AuthError, IdTokenDefect};
use crate::http::Http;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;
use url::Url;

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

struct Cached {
    keys: Vec<Jwk>,
    fetched_at: SystemTime,
}

/// Signing keys of the provider.
pub(crate) struct JwksCache {
    state: Mutex<Option<Cached>>,
    min_refetch: Duration,
}

impl JwksCache {
    pub(crate) fn new(min_refetch: Duration) -> Self {
        Self {
            state: Mutex::new(None),
            min_refetch,
        }
    }

    /// The verification key for `kid`; fetches the JWKS first time and again (rate-limited) on a miss.
    ///
    /// Without a `kid` (OpenID RP tests `kid-absent-single-jwks` / `-multiple-jwks`) the key is
    /// used only when the set holds exactly one RSA signing key; with several the choice would
    /// be ours to guess, so the token is refused (`MissingKeyId`) instead of trying each.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        http: &Http,
        jwks_uri: &Url,
        clock: &dyn Clock,
    ) -> Result<DecodingKey, AuthError> {
        // Held across the fetch: concurrent misses share one request.
        let mut state = self.state.lock().await;
        if let Some(c) = state.as_ref() {
            if let Some(k) = find(&c.keys, kid) {
                return k;
            }
            let since = clock
                .now()
                .duration_since(c.fetched_at)
                .unwrap_or(Duration::ZERO);
            if since < self.min_refetch {
                tracing::warn!("ID token names an unknown key id; JWKS refetch rate-limited");
                return Err(AuthError::id_token(IdTokenDefect::UnknownKeyId));
            }
        }
        let fresh = fetch(http, jwks_uri).await?;
        let result = find(&fresh, kid);
        *state = Some(Cached {
            keys: fresh,
            fetched_at: clock.now(),
        });
        result.unwrap_or(Err(AuthError::id_token(IdTokenDefect::UnknownKeyId)))
    }
}

async fn fetch(http: &Http, jwks_uri: &Url) -> Result<Vec<Jwk>, AuthError> {
    let raw: RawSet = http.get_json(jwks_uri, "jwks").await.map_err(|e| match e {
        AuthError::ProviderError {
            status: Some(s), ..
        } if s < 500 => AuthError::discovery("the JWKS could not be read"),
        other => other,
    })?;
    // Skip keys this library cannot represent instead of failing the whole set.
    Ok(raw
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .collect())
}

fn usable(k: &Jwk) -> bool {
    !matches!(k.common.public_key_use, Some(PublicKeyUse::Encryption))
        && matches!(k.algorithm, AlgorithmParameters::RSA(_))
}

/// The RSA signature key with this `kid` (or the only one when `kid` is absent), or `None`.
pub(crate) fn find(keys: &[Jwk], kid: Option<&str>) -> Option<Result<DecodingKey, AuthError>> {
    let jwk = match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid) && usable(k))?,
        None => {
            let mut signing = keys.iter().filter(|k| usable(k));
            match (signing.next(), signing.next()) {
                (Some(only), None) => only,
                (Some(_), Some(_)) => {
                    return Some(Err(AuthError::id_token(IdTokenDefect::MissingKeyId)))
                }
                (None, _) => return None,
            }
        }
    };
    Some(DecodingKey::from_jwk(jwk).map_err(|_| AuthError::discovery("a JWKS key cannot be used")))
}

/// The keys of a JWKS document this library can represent (others are skipped).
pub(crate) fn parse_set(body: &[u8]) -> Option<Vec<Jwk>> {
    let raw: RawSet = serde_json::from_slice(body).ok()?;
    Some(
        raw.keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: serde_json::Value) -> Vec<Jwk> {
        let raw: RawSet = serde_json::from_value(json).unwrap();
        raw.keys
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect()
    }

    #[test]
    fn finds_rsa_signing_keys_by_kid_only() {
        // A real 2048-bit modulus is not needed to build a DecodingKey; base64url of small numbers is.
        let keys = set(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "sig1", "use": "sig", "alg": "RS256", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc1", "use": "enc", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "weird-future-type", "kid": "x"}
        ]}));
        assert_eq!(keys.len(), 3, "unknown key types are skipped, not fatal");
        assert!(matches!(find(&keys, Some("sig1")), Some(Ok(_))));
        assert!(
            find(&keys, Some("enc1")).is_none(),
            "encryption keys never verify signatures"
        );
        assert!(
            find(&keys, Some("hmac")).is_none(),
            "symmetric keys never verify ID tokens"
        );
        assert!(find(&keys, Some("nope")).is_none());
        // No kid: the one signing key is unambiguous (the encryption and HMAC keys do not count).
        assert!(matches!(find(&keys, None), Some(Ok(_))));
    }

    #[test]
    fn absent_kid_with_several_signing_keys_is_refused() {
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let keys = set(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "use": "sig", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": n, "e": "AQAB"}
        ]}));
        assert!(matches!(
            find(&keys, None),
            Some(Err(AuthError::IdTokenInvalid {
                reason: IdTokenDefect::MissingKeyId
            }))
        ));
        assert!(find(&[], None).is_none(), "empty set: a miss, refetchable");
    }
}
