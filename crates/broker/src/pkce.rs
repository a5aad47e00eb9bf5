//! PKCE S256 (RFC 7636), `state` and `nonce` generation from the OS RNG.

use crate::secret::PkceVerifier;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS, base64url without padding.
pub fn random_urlsafe(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

/// A fresh code verifier: 32 random bytes → 43 characters, the RFC 7636 §4.1 recommendation.
pub fn new_verifier() -> PkceVerifier {
    PkceVerifier::new(random_urlsafe(32))
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge.
pub fn s256_challenge(verifier: &PkceVerifier) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_shape() {
        let v = new_verifier();
        let s = v.expose_secret();
        assert_eq!(s.len(), 43);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(new_verifier(), v, "fresh randomness each time");
    }

    #[test]
    fn s256_matches_an_independent_computation() {
        // Value computed with Python's hashlib/base64 for this verifier.
        let v = PkceVerifier::new("dBjftJeZ4CVP-mJ92K9Ay3T5Ydwb4Djbr5PU0eD6-WU");
        assert_eq!(
            s256_challenge(&v),
            "cLYHthYosa2nfEWkwC2HkCgL06AxSWzrj3iLYB0JhG8"
        );
    }

    #[test]
    fn state_and_nonce_are_unpredictable() {
        let a = random_urlsafe(32);
        let b = random_urlsafe(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }
}
