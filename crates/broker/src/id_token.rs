//! ID token validation (OIDC Core §3.1.3.7) with jsonwebtoken and the JWKS cache.

use crate::error::{AuthError, IdTokenDefect};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

/// The signature algorithms we accept. Fixed by us, never taken from a token header.
pub(crate) const ALLOWED_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256];

/// What the validated token must match.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce of the login; `None` for refreshed ID tokens (OIDC Core §12.2).
    pub nonce: Option<&'a str>,
    /// The session's subject for refreshed ID tokens.
    pub subject: Option<&'a str>,
    pub now: SystemTime,
    pub leeway: Duration,
}

/// The claims the broker uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdClaims {
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The authentication context class reached (OIDC Core §2), when the provider says.
    pub acr: Option<String>,
    /// When the person authenticated, in seconds since the epoch (OIDC Core §2).
    pub auth_time: Option<u64>,
}

/// Header fields needed to choose a key, checked before any key is looked up.
pub(crate) struct CheckedHeader {
    /// `None`: no `kid`; the JWKS must then hold exactly one signing key (see `JwksCache::key_for`).
    pub kid: Option<String>,
}

fn defect(d: IdTokenDefect) -> AuthError {
    AuthError::id_token(d)
}

fn b64_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Parses the header ourselves so `alg: none` and unknown algorithms get their own reasons.
pub(crate) fn check_header(token: &str) -> Result<CheckedHeader, AuthError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(defect(IdTokenDefect::Malformed));
    }
    let header = b64_json(parts[0]).ok_or(defect(IdTokenDefect::Malformed))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(defect(IdTokenDefect::Malformed))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(defect(IdTokenDefect::Unsigned));
    }
    if !ALLOWED_ALGORITHMS.iter().any(|a| format!("{a:?}") == alg) {
        return Err(defect(IdTokenDefect::AlgorithmNotAllowed));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) if !k.is_empty() => Some(k.clone()),
        // Present but empty or not a string: malformed, never "absent".
        Some(_) => return Err(defect(IdTokenDefect::MissingKeyId)),
    };
    Ok(CheckedHeader { kid })
}

/// Verifies the signature with `key` and checks the claims against `expected`.
pub(crate) fn verify(
    token: &str,
    key: &DecodingKey,
    expected: &Expected<'_>,
) -> Result<IdClaims, AuthError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.algorithms = ALLOWED_ALGORITHMS.to_vec();
    // Time and audience are checked below against the injected clock, with typed reasons.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let data =
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => defect(IdTokenDefect::SignatureInvalid),
                K::InvalidAlgorithm | K::InvalidAlgorithmName => {
                    defect(IdTokenDefect::AlgorithmNotAllowed)
                }
                _ => defect(IdTokenDefect::Malformed),
            }
        })?;
    check_claims(&data.claims, expected)
}

fn num(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// Placeholder of a tenant-independent Entra issuer (`https://login.microsoftonline.com/{tenantid}/v2.0`).
pub(crate) const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// An Entra tenant id: a GUID in its usual 8-4-4-4-12 hexadecimal form.
fn is_tenant_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether `actual` is the issuer `expected` names. A tenant-independent Entra issuer (with
/// `{tenantid}`) is the one of the token's own tenant: the placeholder replaced by `tid`, as
/// Microsoft documents; without a `tid` (a callback's `iss`), by any tenant id.
pub(crate) fn issuer_matches(expected: &str, actual: &str, tid: Option<&str>) -> bool {
    let Some((prefix, suffix)) = expected.split_once(TENANT_PLACEHOLDER) else {
        return actual == expected;
    };
    match tid {
        Some(tid) => is_tenant_id(tid) && actual == format!("{prefix}{tid}{suffix}"),
        None => actual
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(is_tenant_id),
    }
}

pub(crate) fn check_claims(
    c: &Map<String, Value>,
    e: &Expected<'_>,
) -> Result<IdClaims, AuthError> {
    let iss = c.get("iss").and_then(Value::as_str).unwrap_or("");
    let tid = c.get("tid").and_then(Value::as_str);
    if !issuer_matches(e.issuer, iss, Some(tid.unwrap_or(""))) {
        return Err(defect(IdTokenDefect::IssuerMismatch));
    }
    let auds: Vec<&str> = match c.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !auds.contains(&e.client_id) {
        return Err(defect(IdTokenDefect::AudienceMismatch));
    }
    match c.get("azp").map(Value::as_str) {
        Some(Some(azp)) if azp == e.client_id => {}
        Some(_) => return Err(defect(IdTokenDefect::AuthorizedPartyMismatch)),
        None if auds.len() > 1 => return Err(defect(IdTokenDefect::AuthorizedPartyMismatch)),
        None => {}
    }
    let sub = c
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(defect(IdTokenDefect::MissingSubject))?;
    if let Some(expected_sub) = e.subject {
        if sub != expected_sub {
            return Err(defect(IdTokenDefect::SubjectChanged));
        }
    }
    let now = crate::clock::unix_secs(e.now);
    let leeway = e.leeway.as_secs();
    let exp = num(c.get("exp")).ok_or(defect(IdTokenDefect::MissingExpiry))?;
    if exp.saturating_add(leeway) <= now {
        return Err(defect(IdTokenDefect::Expired));
    }
    let iat = num(c.get("iat")).ok_or(defect(IdTokenDefect::MissingIssuedAt))?;
    if iat > now.saturating_add(leeway) {
        return Err(defect(IdTokenDefect::IssuedInFuture));
    }
    if let Some(nonce) = e.nonce {
        if c.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(defect(IdTokenDefect::NonceMismatch));
        }
    }
    let text = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .map(|s| s.chars().take(256).collect())
    };
    Ok(IdClaims {
        sub: sub.to_owned(),
        name: text("name"),
        email: text("email"),
        acr: text("acr"),
        auth_time: c.get("auth_time").and_then(Value::as_u64),
    })
}

/// Claims of a JWT access token, read WITHOUT verification: only used to refuse a token that is
/// obviously not for the requested audience. Never used to trust anything. `None` for opaque tokens.
pub(crate) fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    b64_json(payload)
}

/// `aud` as a list (string or array).
pub(crate) fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tenant_template_is_matched_with_the_tokens_own_tenant_only() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let iss = format!("https://login.microsoftonline.com/{tid}/v2.0");
        assert!(issuer_matches(t, &iss, Some(tid)));
        let other = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert!(
            !issuer_matches(t, &iss, Some(other)),
            "iss of another tenant than tid"
        );
        assert!(!issuer_matches(t, &iss, Some("")), "no tid");
        assert!(!issuer_matches(
            t,
            "https://login.microsoftonline.com/x/v2.0",
            Some("x")
        ));
        assert!(
            issuer_matches(t, &iss, None),
            "a callback's iss: any tenant id"
        );
        assert!(!issuer_matches(
            t,
            "https://evil.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            None
        ));
        // A plain issuer is compared exactly, tid or not.
        assert!(issuer_matches("https://idp/", "https://idp/", Some(tid)));
        assert!(!issuer_matches("https://idp/", "https://idp", None));
    }

    use super::*;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn jwt(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", enc(&header), enc(&claims))
    }

    fn expected(now: u64) -> Expected<'static> {
        Expected {
            issuer: "https://idp/",
            client_id: "cid",
            nonce: Some("n1"),
            subject: None,
            now: UNIX_EPOCH + Duration::from_secs(now),
            leeway: Duration::from_secs(30),
        }
    }

    fn good() -> Map<String, Value> {
        json!({"iss": "https://idp/", "aud": "cid", "sub": "auth0|alice", "exp": 2000, "iat": 1000,
               "nonce": "n1", "name": "Alice", "email": "a@x"})
        .as_object()
        .unwrap()
        .clone()
    }

    fn with(k: &str, v: Value) -> Map<String, Value> {
        let mut m = good();
        m.insert(k.into(), v);
        m
    }

    fn without(k: &str) -> Map<String, Value> {
        let mut m = good();
        m.remove(k);
        m
    }

    fn reason(r: Result<IdClaims, AuthError>) -> IdTokenDefect {
        match r.unwrap_err() {
            AuthError::IdTokenInvalid { reason } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_checks_have_distinct_reasons() {
        let h = |v: Value| {
            check_header(&jwt(v, json!({}))).err().map(|e| match e {
                AuthError::IdTokenInvalid { reason } => reason,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(h(json!({"alg": "none"})), Some(IdTokenDefect::Unsigned));
        assert_eq!(
            h(json!({"alg": "HS256", "kid": "k"})),
            Some(IdTokenDefect::AlgorithmNotAllowed)
        );
        assert_eq!(
            h(json!({"alg": "RS512", "kid": "k"})),
            Some(IdTokenDefect::AlgorithmNotAllowed)
        );
        // No kid: accepted here; the JWKS decides (one signing key) or refuses (several).
        assert_eq!(h(json!({"alg": "RS256"})), None);
        assert_eq!(
            h(json!({"alg": "RS256", "kid": ""})),
            Some(IdTokenDefect::MissingKeyId)
        );
        assert_eq!(
            h(json!({"alg": "RS256", "kid": 7})),
            Some(IdTokenDefect::MissingKeyId)
        );
        assert_eq!(h(json!({"alg": "RS256", "kid": "k"})), None);
        assert!(matches!(
            check_header("only.two"),
            Err(AuthError::IdTokenInvalid {
                reason: IdTokenDefect::Malformed
            })
        ));
        assert!(matches!(
            check_header("!!.e30.x"),
            Err(AuthError::IdTokenInvalid {
                reason: IdTokenDefect::Malformed
            })
        ));
    }

    #[test]
    fn claim_checks_have_distinct_reasons() {
        let e = expected(1500);
        let ok = check_claims(&good(), &e).unwrap();
        assert_eq!(ok.sub, "auth0|alice");
        assert_eq!(ok.name.as_deref(), Some("Alice"));
        assert_eq!(
            reason(check_claims(&with("iss", json!("https://evil/")), &e)),
            IdTokenDefect::IssuerMismatch
        );
        assert_eq!(
            reason(check_claims(&with("aud", json!("other")), &e)),
            IdTokenDefect::AudienceMismatch
        );
        assert_eq!(
            reason(check_claims(&with("aud", json!(["other", "cid"])), &e)),
            IdTokenDefect::AuthorizedPartyMismatch,
            "several audiences need azp"
        );
        let mut multi = with("aud", json!(["other", "cid"]));
        multi.insert("azp".into(), json!("cid"));
        check_claims(&multi, &e).unwrap();
        assert_eq!(
            reason(check_claims(&with("azp", json!("x")), &e)),
            IdTokenDefect::AuthorizedPartyMismatch
        );
        assert_eq!(
            reason(check_claims(&without("sub"), &e)),
            IdTokenDefect::MissingSubject
        );
        assert_eq!(
            reason(check_claims(&without("iat"), &e)),
            IdTokenDefect::MissingIssuedAt
        );
        assert_eq!(
            reason(check_claims(&without("exp"), &e)),
            IdTokenDefect::MissingExpiry
        );
        assert_eq!(
            reason(check_claims(&with("nonce", json!("n2")), &e)),
            IdTokenDefect::NonceMismatch
        );
        assert_eq!(
            reason(check_claims(&without("nonce"), &e)),
            IdTokenDefect::NonceMismatch
        );
        assert_eq!(
            reason(check_claims(&good(), &expected(2031))),
            IdTokenDefect::Expired
        );
        check_claims(&good(), &expected(2029)).unwrap();
        assert_eq!(
            reason(check_claims(&good(), &expected(900))),
            IdTokenDefect::IssuedInFuture
        );
        let refresh = Expected {
            nonce: None,
            subject: Some("auth0|bob"),
            ..expected(1500)
        };
        assert_eq!(
            reason(check_claims(&without("nonce"), &refresh)),
            IdTokenDefect::SubjectChanged
        );
    }

    #[test]
    fn unverified_peek() {
        let t = jwt(
            json!({"alg": "RS256"}),
            json!({"aud": ["a", "b"], "scope": "x"}),
        );
        let c = unverified_claims(&t).unwrap();
        assert_eq!(audiences(&c), vec!["a", "b"]);
        assert!(unverified_claims("opaque-token").is_none());
        assert!(unverified_claims("a.b.c.d").is_none());
    }
}
