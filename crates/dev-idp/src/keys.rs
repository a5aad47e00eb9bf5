//! RS256 signing keys and the JWKS. The newest key signs; older ones stay published until retired.

use std::sync::{Arc, OnceLock, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::IdpError;

/// One RSA key pair with its JWK.
pub(crate) struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Value,
    /// SubjectPublicKeyInfo PEM, for the HS256 algorithm-confusion tamper.
    pub public_pem: String,
}

impl SigningKey {
    /// Generate a 2048-bit key. Slow-ish (RSA prime search), call off the async threads if you can.
    pub fn generate() -> Result<SigningKey, IdpError> {
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
            .map_err(|e| IdpError::Key(e.to_string()))?;
        let der = private
            .to_pkcs1_der()
            .map_err(|e| IdpError::Key(e.to_string()))?;
        let public = private.to_public_key();
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| IdpError::Key(e.to_string()))?;
        let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
        // RFC 7638 thumbprint: members in lexicographic order, no whitespace.
        let thumb_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumb_input.as_bytes()));
        let decoding =
            DecodingKey::from_rsa_components(&n, &e).map_err(|e| IdpError::Key(e.to_string()))?;
        let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
        Ok(SigningKey {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding,
            jwk,
            public_pem,
        })
    }

    /// Sign `claims` with RS256. `kid` is the header's `kid` (normally this key's own).
    pub fn sign(
        &self,
        kid: Option<&str>,
        typ: &str,
        claims: &Value,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_owned);
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

/// The published keys; the last one is current.
pub(crate) struct KeyStore {
    keys: RwLock<Vec<Arc<SigningKey>>>,
    /// A key never published, for the `OtherKey` tamper; generated on first use.
    foreign: OnceLock<Arc<SigningKey>>,
}

impl KeyStore {
    pub fn new(first: SigningKey) -> Self {
        KeyStore {
            keys: RwLock::new(vec![Arc::new(first)]),
            foreign: OnceLock::new(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<SigningKey>>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<SigningKey>>> {
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn current(&self) -> Arc<SigningKey> {
        // The store is never empty: `new` takes a key and `retire_old` keeps the last.
        let keys = self.read();
        Arc::clone(&keys[keys.len() - 1])
    }

    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.read().iter().find(|k| k.kid == kid).cloned()
    }

    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.read().iter().map(|k| k.jwk.clone()).collect();
        json!({ "keys": keys })
    }

    pub fn add(&self, key: SigningKey) -> String {
        let kid = key.kid.clone();
        self.write().push(Arc::new(key));
        kid
    }

    pub fn retire_old(&self) {
        let mut keys = self.write();
        let n = keys.len();
        keys.drain(..n - 1);
    }

    pub fn foreign(&self) -> Result<Arc<SigningKey>, IdpError> {
        if let Some(k) = self.foreign.get() {
            return Ok(Arc::clone(k));
        }
        let k = Arc::new(SigningKey::generate()?);
        Ok(Arc::clone(self.foreign.get_or_init(|| k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, Validation};

    #[test]
    fn sign_verify_rotate_retire() {
        let store = KeyStore::new(SigningKey::generate().expect("key"));
        let first = store.current();
        let token = first
            .sign(
                Some(&first.kid),
                "JWT",
                &json!({"sub": "x", "exp": 4_000_000_000u64}),
            )
            .expect("sign");
        assert_eq!(
            decode_header(&token).expect("header").kid.as_deref(),
            Some(first.kid.as_str())
        );
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_aud = false;
        decode::<Value>(&token, &first.decoding, &v).expect("verifies");

        let kid2 = store.add(SigningKey::generate().expect("key"));
        assert_ne!(kid2, first.kid);
        assert_eq!(store.current().kid, kid2);
        assert_eq!(store.jwks()["keys"].as_array().map(Vec::len), Some(2));
        assert!(store.find(&first.kid).is_some());
        // A token from the first key does not verify with the second.
        assert!(decode::<Value>(&token, &store.current().decoding, &v).is_err());
        store.retire_old();
        assert!(store.find(&first.kid).is_none());
        assert_eq!(store.jwks()["keys"][0]["kid"], json!(kid2));
        assert_eq!(store.jwks()["keys"][0]["alg"], json!("RS256"));
        assert!(store
            .current()
            .public_pem
            .starts_with("-----BEGIN PUBLIC KEY-----"));
    }
}
