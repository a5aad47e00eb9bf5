//! The broker's secrets, one type per kind, so one cannot be passed for another; none prints
//! its value (see [`portico_types::secret_newtype`]).

use portico_types::secret_newtype;

secret_newtype!(
    /// An OAuth refresh token. Lives in memory and in the session store only.
    pub RefreshToken
);
secret_newtype!(
    /// An OAuth access token. Serializes to its raw value because it is handed to the entitled MFE.
    pub AccessToken
);
secret_newtype!(
    /// A compact-serialized OpenID Connect ID token.
    pub IdToken
);
secret_newtype!(
    /// An authorization code from the callback.
    pub AuthCode
);
secret_newtype!(
    /// A PKCE code verifier (RFC 7636).
    pub PkceVerifier
);
secret_newtype!(
    /// The installation's DPoP private key (base64url PKCS#8). Keyring and memory only.
    pub DpopPrivateKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let rt = RefreshToken::new("rt-very-secret-value");
        assert!(!format!("{rt:?}").contains("very-secret"));
        assert!(!format!("{rt}").contains("very-secret"));
        assert_eq!(format!("{rt}"), "<redacted>");
        assert!(format!("{:?}", AccessToken::new("abc")).starts_with("AccessToken(<redacted"));
        assert!(!format!("{:?}", Some(PkceVerifier::new("v3rifier"))).contains("v3rifier"));
        assert_eq!(rt.expose_secret(), "rt-very-secret-value");
    }

    #[test]
    fn serde_is_transparent() {
        let at = AccessToken::new("tok");
        assert_eq!(serde_json::to_string(&at).unwrap(), "\"tok\"");
        let back: RefreshToken = serde_json::from_str("\"r1\"").unwrap();
        assert_eq!(back.expose_secret(), "r1");
    }
}
