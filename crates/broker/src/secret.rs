//! Redacted newtypes for secrets: tokens, codes and verifiers never print their value.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! secret_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The raw value. Call sites are few and deliberate: the wire, the store, the MFE.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted {} bytes>)"), self.0.len())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
    };
}

secret_newtype!(
    /// An OAuth refresh token. Lives in memory and in the session store only.
    RefreshToken
);
secret_newtype!(
    /// An OAuth access token. Serializes to its raw value because it is handed to the entitled MFE.
    AccessToken
);
secret_newtype!(
    /// A compact-serialized OpenID Connect ID token.
    IdToken
);
secret_newtype!(
    /// An authorization code from the callback.
    AuthCode
);
secret_newtype!(
    /// A PKCE code verifier (RFC 7636).
    PkceVerifier
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
