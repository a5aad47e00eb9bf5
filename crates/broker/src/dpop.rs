//! DPoP (RFC 9449): one ES256 key pair per installation, whose private half lives in the OS
//! keyring only, and the proofs that bind tokens to it. Key generation and signing are `ring`'s
//! and `jsonwebtoken`'s; nothing here does arithmetic on keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::SystemTime;
use url::Url;

use crate::clock::unix_secs;
use crate::secret::DpopPrivateKey;

/// Why a DPoP key could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("the DPoP key could not be generated")]
    Generate,
    #[error("the stored DPoP key is not a P-256 PKCS#8 key")]
    Corrupt,
    #[error("a DPoP proof could not be signed")]
    Sign,
}

/// The installation's DPoP key pair. `Debug` shows the thumbprint only.
#[derive(Clone)]
pub struct DpopKey {
    pkcs8: DpopPrivateKey,
    /// `{"crv","kty","x","y"}` of the public key.
    jwk: Value,
    thumbprint: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A fresh P-256 key pair.
    pub fn generate() -> Result<DpopKey, DpopError> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| DpopError::Generate)?;
        Self::from_pkcs8(&URL_SAFE_NO_PAD.encode(doc.as_ref()))
    }

    /// Back from its stored form (base64url PKCS#8).
    pub fn from_pkcs8(encoded: &str) -> Result<DpopKey, DpopError> {
        let der = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| DpopError::Corrupt)?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|_| DpopError::Corrupt)?;
        // An uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err(DpopError::Corrupt);
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // RFC 7638 §3.2: the required members, lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        Ok(DpopKey {
            pkcs8: DpopPrivateKey::new(encoded),
            jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            thumbprint,
        })
    }

    /// The stored form: base64url PKCS#8 (for the keyring only).
    pub fn to_pkcs8(&self) -> &DpopPrivateKey {
        &self.pkcs8
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The JWK SHA-256 thumbprint (RFC 7638), what `cnf.jkt` binds tokens to.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for one request (RFC 9449 §4.2): `htm`, `htu` (without query and fragment),
    /// `iat`, a fresh `jti`; `nonce` when the server asked for one; `ath` (the access token's
    /// hash) when a token goes along to a resource server.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        now: SystemTime,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, DpopError> {
        let der = URL_SAFE_NO_PAD
            .decode(self.pkcs8.expose_secret())
            .map_err(|_| DpopError::Corrupt)?;
        let key = EncodingKey::from_ec_der(&der);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = serde_json::from_value(self.jwk.clone()).ok();
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut claims = json!({
            "jti": crate::pkce::random_urlsafe(16),
            "htm": method.to_ascii_uppercase(),
            "htu": htu.as_str(),
            "iat": unix_secs(now),
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(at) = access_token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(at.as_bytes())));
        }
        jsonwebtoken::encode(&header, &claims, &key).map_err(|_| DpopError::Sign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    #[test]
    fn a_proof_verifies_with_its_own_public_key_and_says_what_it_covers() {
        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://billing.example.com/api/invoices?page=2#x").unwrap();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let proof = key
            .proof("get", &url, now, Some("n-1"), Some("at-123"))
            .unwrap();
        let header = decode_header(&proof).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        let jwk = header.jwk.expect("the public key travels in the header");
        let jwk_json = serde_json::to_value(&jwk).unwrap();
        assert!(jwk_json.get("d").is_none(), "never the private part");
        let x = jwk_json["x"].as_str().unwrap();
        let y = jwk_json["y"].as_str().unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let claims = decode::<Value>(&proof, &DecodingKey::from_ec_components(x, y).unwrap(), &v)
            .unwrap()
            .claims;
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://billing.example.com/api/invoices");
        assert_eq!(claims["iat"], 1_800_000_000u64);
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"at-123"))
        );
        let again = key.proof("GET", &url, now, None, None).unwrap();
        let c2 = decode::<Value>(&again, &DecodingKey::from_ec_components(x, y).unwrap(), &v)
            .unwrap()
            .claims;
        assert_ne!(claims["jti"], c2["jti"], "a fresh jti each time");
        assert!(c2.get("nonce").is_none() && c2.get("ath").is_none());
    }

    #[test]
    fn the_key_survives_its_stored_form_and_its_thumbprint_is_stable() {
        let key = DpopKey::generate().unwrap();
        let back = DpopKey::from_pkcs8(key.to_pkcs8().expose_secret()).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint());
        assert_eq!(back.public_jwk(), key.public_jwk());
        assert_eq!(key.thumbprint().len(), 43, "base64url of 32 bytes");
        assert_ne!(DpopKey::generate().unwrap().thumbprint(), key.thumbprint());
        assert_eq!(
            DpopKey::from_pkcs8("not-a-key").unwrap_err(),
            DpopError::Corrupt
        );
        assert!(!format!("{key:?}").contains(key.to_pkcs8().expose_secret()));
    }
}
