//! DPoP proofs (RFC 9449): the rules a server applies to the `DPoP` header, shared by the token
//! endpoint and the demo APIs. Each server owns one [`DpopChecker`] (its replay cache and nonce).
//! The signature is jsonwebtoken's (ring underneath); nothing here does arithmetic on keys.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::secret::random_token;
use portico_types::sync::lock;

/// The one signing algorithm we accept, as advertised in `dpop_signing_alg_values_supported`.
pub(crate) const ALG: &str = "ES256";
/// The request and response header names (RFC 9449 §4.1, §8.1).
pub(crate) const DPOP: &str = "dpop";
pub(crate) const DPOP_NONCE: &str = "dpop-nonce";
/// How far `iat` may be from our clock, either way (RFC 9449 §4.3 check 11, §11.1).
pub(crate) const IAT_WINDOW_SECS: u64 = 60;
/// A proof is a few hundred bytes; anything much larger is not one.
const MAX_PROOF_LEN: usize = 8 * 1024;
const MAX_JTI_LEN: usize = 256;
/// Remembered jtis are bounded so proofs signed with throw-away keys cannot grow memory without
/// limit; when full (after pruning) new proofs are refused rather than replays let through.
const MAX_REMEMBERED_JTIS: usize = 100_000;
/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProofError {
    /// `invalid_dpop_proof`, with a description.
    Invalid(String),
    /// `use_dpop_nonce`: the proof lacks the server's current nonce (RFC 9449 §8, §9).
    UseNonce,
}

fn invalid(d: impl Into<String>) -> ProofError {
    ProofError::Invalid(d.into())
}

/// An accepted proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proof {
    /// The JWK SHA-256 thumbprint of the proof's key (RFC 7638): the key's identity.
    pub jkt: String,
}

/// The request the proof must be about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The URL as this server is addressed (query and fragment are ignored).
    pub url: &'a Url,
    /// At a resource server: the access token the proof must hash in `ath` (RFC 9449 §4.3 check 12).
    pub access_token: Option<&'a str>,
}

/// Counts of one checker's decisions (the demo APIs expose them; the provider has its own
/// counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DpopCounters {
    /// Proofs accepted.
    pub proofs: u64,
    /// Requests refused for a DPoP reason (bad or missing proof, key not the bound one).
    pub refusals: u64,
    /// `use_dpop_nonce` answers.
    pub nonce_challenges: u64,
}

/// The `DPoP` header of a request: `None` when absent. RFC 9449 §4.3 check 1: more than one is
/// an error, as is a value that is not visible ASCII.
pub(crate) fn single_header(headers: &HeaderMap) -> Result<Option<&str>, ProofError> {
    let mut values = headers.get_all(DPOP).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("more than one DPoP header"));
    }
    first
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| invalid("the DPoP header is not ASCII"))
}

/// RFC 7638 §3.2 for a P-256 key: the required members crv, kty, x, y in that order, no
/// whitespace, SHA-256, base64url.
pub(crate) fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// `ath`: base64url(SHA-256(ASCII access token)) (RFC 9449 §4.2).
pub(crate) fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// `scheme://host:port/path` of a URL: what `htu` is compared on (RFC 9449 §4.3 check 9 ignores
/// query and fragment; `Url` applies RFC 3986 §6.2.2–6.2.3 normalization, as §4.3 recommends).
fn without_query(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u
}

fn b64_json(segment: &str, what: &str) -> Result<Map<String, Value>, ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| invalid(format!("the proof's {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid(format!("the proof's {what} is not a JSON object"))),
    }
}

/// A P-256 coordinate: base64url without padding, exactly 32 bytes, so the thumbprint is over
/// the one canonical spelling.
fn coordinate<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, ProofError> {
    let v = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("the jwk has no {name}")))?;
    match URL_SAFE_NO_PAD.decode(v) {
        Ok(b) if b.len() == 32 => Ok(v),
        _ => Err(invalid(format!(
            "the jwk's {name} is not a 32-byte base64url value"
        ))),
    }
}

/// The stateless part of RFC 9449 §4.3: syntax, header, signature, `htm`, `htu`, `iat`, `ath`.
/// Returns the proof's thumbprint, `jti`, `iat` and `nonce`.
fn verify(
    proof: &str,
    target: &Target<'_>,
    now: u64,
) -> Result<(Proof, String, u64, Option<String>), ProofError> {
    // Check 2: one well-formed compact JWS.
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN {
        return Err(invalid("the DPoP proof is empty or too large"));
    }
    let parts: Vec<&str> = proof.split('.').collect();
    let [head, _, _] = parts.as_slice() else {
        return Err(invalid("the DPoP proof is not a compact JWS"));
    };
    let header = b64_json(head, "header")?;
    // Check 4: typ dpop+jwt (media types compare case-insensitively, RFC 7515 §4.1.9).
    if !header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(invalid("typ must be dpop+jwt"));
    }
    // Check 5: an asymmetric algorithm we support; never none, never a MAC.
    match header.get("alg").and_then(Value::as_str) {
        Some(ALG) => {}
        Some(other) => return Err(invalid(format!("alg {other} not accepted, ES256 only"))),
        None => return Err(invalid("the proof has no alg")),
    }
    // We understand no JWS extensions (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(invalid("crit header parameters are not supported"));
    }
    // Check 7: the public key, and nothing but the public key.
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err(invalid("the proof has no jwk header"));
    };
    if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(invalid(format!(
            "the jwk carries the private member {m}; a proof must hold the public key only"
        )));
    }
    if jwk.get("kty").and_then(Value::as_str) != Some("EC")
        || jwk.get("crv").and_then(Value::as_str) != Some("P-256")
    {
        return Err(invalid("the jwk must be an EC P-256 key for ES256"));
    }
    let (x, y) = (coordinate(jwk, "x")?, coordinate(jwk, "y")?);
    // Check 6: the signature, with the key from the header.
    let key = DecodingKey::from_ec_components(x, y)
        .map_err(|_| invalid("the jwk is not a usable P-256 key"))?;
    let mut v = Validation::new(Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = decode::<Map<String, Value>>(proof, &key, &v)
        .map_err(|e| invalid(format!("bad DPoP proof signature or payload: {e}")))?
        .claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    // Check 8: htm is the request's method (methods are case-sensitive, RFC 9110 §9.1).
    match text("htm") {
        Some(m) if m == target.method => {}
        Some(m) => {
            return Err(invalid(format!(
                "htm {m} does not match the request method {}",
                target.method
            )))
        }
        None => return Err(invalid("the proof has no htm")),
    }
    // Check 9: htu is this request's URI, ignoring query and fragment.
    let htu = text("htu").ok_or_else(|| invalid("the proof has no htu"))?;
    let expected = without_query(target.url);
    match Url::parse(htu) {
        Ok(u) if without_query(&u) == expected => {}
        _ => {
            return Err(invalid(format!(
                "htu {htu} does not match the request URI {expected}"
            )))
        }
    }
    // Check 11: iat within the window, either way (NumericDate may be fractional).
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .filter(|f| f.is_finite() && *f >= 0.0)
        .ok_or_else(|| invalid("the proof has no numeric iat"))? as u64;
    if iat.abs_diff(now) > IAT_WINDOW_SECS {
        return Err(invalid(format!(
            "iat is more than {IAT_WINDOW_SECS} s from the server's time"
        )));
    }
    // Check 3 (required claims): jti, bounded.
    let jti = match text("jti") {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI_LEN => j.to_owned(),
        _ => return Err(invalid("the proof has no usable jti")),
    };
    // Check 12: at a resource server, the proof covers this very access token.
    if let Some(at) = target.access_token {
        match text("ath") {
            Some(h) if h == ath(at) => {}
            Some(_) => return Err(invalid("ath does not match the access token")),
            None => return Err(invalid("the proof has no ath")),
        }
    }
    let nonce = text("nonce").map(str::to_owned);
    Ok((
        Proof {
            jkt: thumbprint(x, y),
        },
        jti,
        iat,
        nonce,
    ))
}

/// jtis seen within the iat window (RFC 9449 §11.1): a proof outside the window is refused
/// anyway, so an entry can be forgotten once its `iat` has left the window.
#[derive(Debug, Default)]
struct ReplayCache {
    /// jti → unix second after which a proof with that jti is too old to be accepted.
    seen: HashMap<String, u64>,
}

impl ReplayCache {
    /// Remember `jti`; `Err` if it was seen before (or there is no room to remember it).
    fn insert(&mut self, jti: String, iat: u64, now: u64) -> Result<(), ProofError> {
        self.seen.retain(|_, until| *until >= now);
        if self.seen.contains_key(&jti) {
            return Err(invalid("the proof's jti was used before (replay)"));
        }
        if self.seen.len() >= MAX_REMEMBERED_JTIS {
            return Err(invalid("too many DPoP proofs in flight; retry shortly"));
        }
        self.seen
            .insert(jti, iat.max(now).saturating_add(IAT_WINDOW_SECS));
        Ok(())
    }
}

/// One server's DPoP state: the replay cache, its nonce (RFC 9449 §8/§9) and counters.
#[derive(Debug)]
pub(crate) struct DpopChecker {
    replay: Mutex<ReplayCache>,
    nonce_required: AtomicBool,
    nonce: Mutex<String>,
    proofs: AtomicU64,
    refusals: AtomicU64,
    nonce_challenges: AtomicU64,
}

impl DpopChecker {
    pub fn new(nonce_required: bool) -> Self {
        DpopChecker {
            replay: Mutex::default(),
            nonce_required: AtomicBool::new(nonce_required),
            nonce: Mutex::new(random_token()),
            proofs: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            nonce_challenges: AtomicU64::new(0),
        }
    }

    /// The nonce proofs must carry, when nonces are required.
    pub fn required_nonce(&self) -> Option<String> {
        self.nonce_required
            .load(Ordering::Relaxed)
            .then(|| lock(&self.nonce).clone())
    }

    pub fn set_nonce_required(&self, on: bool) {
        self.nonce_required.store(on, Ordering::Relaxed);
    }

    /// A fresh nonce; the previous one is refused from now on (with a challenge for the new one).
    pub fn rotate_nonce(&self) -> String {
        let fresh = random_token();
        *lock(&self.nonce) = fresh.clone();
        fresh
    }

    /// Check a proof for `target` at unix time `now`. Order: the proof itself, then the nonce
    /// (so a client only hears `use_dpop_nonce` for an otherwise good proof), then the jti, which
    /// is remembered only for proofs that pass everything else.
    pub fn check(&self, proof: &str, target: &Target<'_>, now: u64) -> Result<Proof, ProofError> {
        let (accepted, jti, iat, nonce) = verify(proof, target, now)?;
        // RFC 9449 §8 (authorization server) / §9 (resource server): only the current nonce.
        if let Some(current) = self.required_nonce() {
            if nonce.as_deref() != Some(current.as_str()) {
                return Err(ProofError::UseNonce);
            }
        }
        lock(&self.replay).insert(jti, iat, now)?;
        Ok(accepted)
    }

    /// Count a decision (the caller knows whether a refusal was about DPoP).
    pub fn count_proof(&self) {
        self.proofs.fetch_add(1, Ordering::Relaxed);
    }
    pub fn count_refusal(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }
    pub fn count_nonce_challenge(&self) {
        self.nonce_challenges.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counters(&self) -> DpopCounters {
        DpopCounters {
            proofs: self.proofs.load(Ordering::Relaxed),
            refusals: self.refusals.load(Ordering::Relaxed),
            nonce_challenges: self.nonce_challenges.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use jsonwebtoken::EncodingKey;
    use portico_broker::dpop::DpopKey;
    use serde_json::json;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const NOW: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn url() -> Url {
        Url::parse("http://127.0.0.1:4000/oauth/token").expect("url")
    }

    fn target(u: &Url) -> Target<'_> {
        Target {
            method: "POST",
            url: u,
            access_token: None,
        }
    }

    /// A JWS with any header and claims, signed ES256 by `key` (for proofs DpopKey never makes).
    fn forge(key: &DpopKey, header: Value, claims: Value) -> String {
        let der = URL_SAFE_NO_PAD
            .decode(key.to_pkcs8().expose_secret())
            .expect("pkcs8");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_ec_der(&der),
            Algorithm::ES256,
        )
        .expect("sign");
        format!("{input}.{sig}")
    }

    fn good_claims() -> Value {
        json!({"jti": random_token(), "htm": "POST", "htu": url().as_str(), "iat": NOW})
    }

    fn good_header(key: &DpopKey) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()})
    }

    fn refused(c: &DpopChecker, proof: &str, why: &str) {
        let u = url();
        match c.check(proof, &target(&u), NOW) {
            Err(ProofError::Invalid(d)) => assert!(d.contains(why), "{why}: {d}"),
            other => panic!("{why}: {other:?}"),
        }
    }

    #[test]
    fn thumbprint_is_rfc7638_and_matches_the_broker() {
        // RFC 7638 gives no EC example; RFC 9449 §6.1's key and its published jkt.
        assert_eq!(
            thumbprint(
                "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
                "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
            ),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        let key = DpopKey::generate().expect("key");
        let jwk = key.public_jwk();
        assert_eq!(
            thumbprint(jwk["x"].as_str().expect("x"), jwk["y"].as_str().expect("y")),
            key.thumbprint()
        );
    }

    #[test]
    fn a_broker_proof_is_accepted_once() {
        let key = DpopKey::generate().expect("key");
        let c = DpopChecker::new(false);
        let u = url();
        let p = key.proof("POST", &u, at(NOW), None, None).expect("proof");
        let ok = c.check(&p, &target(&u), NOW).expect("accepted");
        assert_eq!(ok.jkt, key.thumbprint());
        // RFC 9449 §11.1: the same jti again is a replay.
        refused(&c, &p, "replay");
        // Query and fragment of the request are not part of htu.
        let with_query = Url::parse("http://127.0.0.1:4000/oauth/token?x=1#f").expect("url");
        let p = key
            .proof("POST", &with_query, at(NOW), None, None)
            .expect("proof");
        assert!(c.check(&p, &target(&with_query), NOW).is_ok());
    }

    #[test]
    fn htm_htu_and_iat_must_match_the_request() {
        let key = DpopKey::generate().expect("key");
        let c = DpopChecker::new(false);
        let u = url();
        let p = key.proof("GET", &u, at(NOW), None, None).expect("proof");
        refused(&c, &p, "htm");
        let other = Url::parse("http://127.0.0.1:4001/oauth/token").expect("url");
        let p = key.proof("POST", &other, at(NOW), None, None).expect("p");
        refused(&c, &p, "htu");
        let path = Url::parse("http://127.0.0.1:4000/oauth/par").expect("url");
        let p = key.proof("POST", &path, at(NOW), None, None).expect("p");
        refused(&c, &p, "htu");
        for iat in [NOW - IAT_WINDOW_SECS - 1, NOW + IAT_WINDOW_SECS + 1] {
            let p = key.proof("POST", &u, at(iat), None, None).expect("p");
            refused(&c, &p, "iat");
        }
        for iat in [NOW - IAT_WINDOW_SECS, NOW + IAT_WINDOW_SECS] {
            let p = key.proof("POST", &u, at(iat), None, None).expect("p");
            assert!(c.check(&p, &target(&u), NOW).is_ok(), "iat {iat} in window");
        }
        // Default port and host case are normalized away (RFC 3986 §6.2.3).
        let spelled = forge(
            &key,
            good_header(&key),
            json!({"jti": "j-norm", "htm": "POST", "htu": "HTTP://127.0.0.1:4000/oauth/token", "iat": NOW}),
        );
        assert!(c.check(&spelled, &target(&u), NOW).is_ok());
    }

    #[test]
    fn header_defects_are_refused() {
        let key = DpopKey::generate().expect("key");
        let c = DpopChecker::new(false);
        let mut h = good_header(&key);
        h["typ"] = json!("JWT");
        refused(&c, &forge(&key, h, good_claims()), "typ");
        let mut h = good_header(&key);
        h.as_object_mut().expect("obj").remove("jwk");
        refused(&c, &forge(&key, h, good_claims()), "jwk");
        let mut h = good_header(&key);
        h["jwk"]["d"] = json!("c2VjcmV0");
        refused(&c, &forge(&key, h, good_claims()), "private member d");
        let mut h = good_header(&key);
        h["crit"] = json!(["exp"]);
        refused(&c, &forge(&key, h, good_claims()), "crit");
        // Another key in the header than the one that signed.
        let other = DpopKey::generate().expect("key");
        refused(
            &c,
            &forge(&key, good_header(&other), good_claims()),
            "signature",
        );
        // alg none: header says none, no signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD
                .encode(json!({"typ":"dpop+jwt","alg":"none","jwk":key.public_jwk()}).to_string()),
            URL_SAFE_NO_PAD.encode(good_claims().to_string())
        );
        refused(&c, &none, "alg none");
        // HS256 keyed with something public.
        let mut h = good_header(&key);
        h["alg"] = json!("HS256");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            URL_SAFE_NO_PAD.encode(good_claims().to_string())
        );
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(key.thumbprint().as_bytes()),
            Algorithm::HS256,
        )
        .expect("hmac");
        refused(&c, &format!("{input}.{sig}"), "HS256");
        for garbage in ["", "a.b", "a.b.c", "not a jwt at all"] {
            let u = url();
            assert!(matches!(
                c.check(garbage, &target(&u), NOW),
                Err(ProofError::Invalid(_))
            ));
        }
    }

    #[test]
    fn claims_defects_are_refused() {
        let key = DpopKey::generate().expect("key");
        let c = DpopChecker::new(false);
        for (drop, why) in [
            ("jti", "jti"),
            ("htm", "htm"),
            ("htu", "htu"),
            ("iat", "iat"),
        ] {
            let mut claims = good_claims();
            claims.as_object_mut().expect("obj").remove(drop);
            refused(&c, &forge(&key, good_header(&key), claims), why);
        }
    }

    #[test]
    fn ath_binds_the_proof_to_the_access_token() {
        let key = DpopKey::generate().expect("key");
        let c = DpopChecker::new(false);
        let u = Url::parse("http://127.0.0.1:5000/data").expect("url");
        let t = Target {
            method: "GET",
            url: &u,
            access_token: Some("the-token"),
        };
        let p = key
            .proof("GET", &u, at(NOW), None, Some("the-token"))
            .expect("p");
        assert!(c.check(&p, &t, NOW).is_ok());
        let p = key
            .proof("GET", &u, at(NOW), None, Some("another-token"))
            .expect("p");
        assert_eq!(
            c.check(&p, &t, NOW),
            Err(invalid("ath does not match the access token"))
        );
        let p = key.proof("GET", &u, at(NOW), None, None).expect("p");
        assert_eq!(c.check(&p, &t, NOW), Err(invalid("the proof has no ath")));
    }

    #[test]
    fn nonce_is_demanded_and_rotates() {
        let key = DpopKey::generate().expect("key");
        let c = DpopChecker::new(true);
        let u = url();
        let n1 = c.required_nonce().expect("nonce on");
        let p = key.proof("POST", &u, at(NOW), None, None).expect("p");
        assert_eq!(c.check(&p, &target(&u), NOW), Err(ProofError::UseNonce));
        // A challenged proof's jti is not burned: nothing was accepted.
        let p = key.proof("POST", &u, at(NOW), Some(&n1), None).expect("p");
        assert!(c.check(&p, &target(&u), NOW).is_ok());
        let n2 = c.rotate_nonce();
        assert_ne!(n1, n2);
        let p = key.proof("POST", &u, at(NOW), Some(&n1), None).expect("p");
        assert_eq!(c.check(&p, &target(&u), NOW), Err(ProofError::UseNonce));
        let p = key.proof("POST", &u, at(NOW), Some(&n2), None).expect("p");
        assert!(c.check(&p, &target(&u), NOW).is_ok());
        c.set_nonce_required(false);
        assert_eq!(c.required_nonce(), None);
        let p = key.proof("POST", &u, at(NOW), None, None).expect("p");
        assert!(c.check(&p, &target(&u), NOW).is_ok());
    }

    #[test]
    fn replay_cache_forgets_after_the_window() {
        let mut r = ReplayCache::default();
        r.insert("a".into(), NOW, NOW).expect("first");
        assert!(r.insert("a".into(), NOW, NOW + IAT_WINDOW_SECS).is_err());
        // Once iat has left the window the proof is refused on iat; the entry may go.
        r.insert("b".into(), NOW, NOW + IAT_WINDOW_SECS + 1)
            .expect("b");
        assert!(!r.seen.contains_key("a"));
    }

    #[test]
    fn one_dpop_header_at_most() {
        let mut h = HeaderMap::new();
        assert_eq!(single_header(&h), Ok(None));
        h.append(DPOP, HeaderValue::from_static("x.y.z"));
        assert_eq!(single_header(&h), Ok(Some("x.y.z")));
        h.append(DPOP, HeaderValue::from_static("x.y.z"));
        assert!(single_header(&h).is_err());
    }
}
