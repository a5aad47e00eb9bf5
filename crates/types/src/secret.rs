//! Secrets that never print their value: tokens, codes, verifiers, session ids.
//!
//! One kind of secret, one type: [`secret_newtype!`](crate::secret_newtype) defines it, so a
//! refresh token cannot be passed where an access token is expected, and [`Secret`] is for a
//! credential of no more particular kind.

/// Defines a newtype over `String` holding one kind of secret.
///
/// `Debug` shows only the type and the length, `Display` shows nothing, and the raw value is
/// read through `expose_secret` alone, so every place a secret leaves its wrapper can be found.
/// Serde passes the raw value through unchanged: the wire and the store are where it has to go.
///
/// ```
/// portico_types::secret_newtype!(
///     /// An API key.
///     pub ApiKey
/// );
/// let key = ApiKey::new("k-123");
/// assert_eq!(format!("{key:?}"), "ApiKey(<redacted 5 bytes>)");
/// assert_eq!(key.to_string(), "<redacted>");
/// assert_eq!(key.expose_secret(), "k-123");
/// ```
#[macro_export]
macro_rules! secret_newtype {
    ($(#[$meta:meta])* $vis:vis $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        $vis struct $name(::std::string::String);

        impl $name {
            /// Wraps a raw secret value.
            pub fn new(value: impl ::std::convert::Into<::std::string::String>) -> Self {
                Self(value.into())
            }

            /// The raw value. Call sites are few and deliberate: the wire, the store, the MFE.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::write!(f, concat!(stringify!($name), "(<redacted {} bytes>)"), self.0.len())
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str("<redacted>")
            }
        }

        // Written out rather than derived: a derive would need `serde` in the calling crate.
        impl $crate::secret::__private::Serialize for $name {
            fn serialize<S: $crate::secret::__private::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> $crate::secret::__private::Deserialize<'de> for $name {
            fn deserialize<D: $crate::secret::__private::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                <::std::string::String as $crate::secret::__private::Deserialize>::deserialize(
                    deserializer,
                )
                .map(Self)
            }
        }
    };
}

/// What [`secret_newtype!`](crate::secret_newtype) expands to refers to; not an API.
#[doc(hidden)]
pub mod __private {
    pub use serde::{Deserialize, Deserializer, Serialize, Serializer};
}

crate::secret_newtype!(
    /// A credential of no more particular kind (an opaque code, a session id, a signed token).
    pub Secret
);

/// Whether `text` holds something shaped like a JWT (compact JWS or JWE): a base64url JSON
/// header (`{"` encodes as `eyJ`), a dot, a payload, a dot. For the leak checks of tests and
/// tools. The dots matter: a random base64url value (a `state`, a key thumbprint) contains
/// `eyJ` about once in 6,000 and would otherwise count as a leaked token.
///
/// ```
/// use portico_types::secret::contains_jwt;
/// assert!(contains_jwt("id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.&x=1"));
/// assert!(!contains_jwt("state=Q2xeyJ0bG9naW4tc3RhdGUtdmFsdWU"));
/// ```
pub fn contains_jwt(text: &str) -> bool {
    fn base64url_run(s: &str) -> usize {
        s.bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            .count()
    }
    text.match_indices("eyJ").any(|(i, _)| {
        let rest = &text[i..];
        // The shortest header is `{"a":1}` (10 characters). The second part may be empty (a
        // JWE's encrypted key under `dir`).
        let header = base64url_run(rest);
        if header < 10 || !rest[header..].starts_with('.') {
            return false;
        }
        let rest = &rest[header + 1..];
        let payload = base64url_run(rest);
        rest[payload..].starts_with('.')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    crate::secret_newtype!(
        /// A kind of secret of this test's own.
        Token
    );

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("rt-very-secret-value");
        assert!(!format!("{s:?}").contains("very-secret"));
        assert!(!format!("{s}").contains("very-secret"));
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{s:?}"), "Secret(<redacted 20 bytes>)");
        assert!(format!("{:?}", Token::new("abc")).starts_with("Token(<redacted"));
        assert!(!format!("{:?}", Some(Token::new("v3rifier"))).contains("v3rifier"));
        assert_eq!(s.expose_secret(), "rt-very-secret-value");
    }

    #[test]
    fn serde_is_transparent() {
        let t = Token::new("tok");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"tok\"");
        assert_eq!(t.expose_secret(), "tok");
        let back: Secret = serde_json::from_str("\"r1\"").unwrap();
        assert_eq!(back.expose_secret(), "r1");
        assert!(serde_json::from_str::<Secret>("42").is_err());
    }

    #[test]
    fn usable_as_a_key_by_value() {
        let mut seen = HashSet::new();
        assert!(seen.insert(Secret::new("a")));
        assert!(!seen.insert(Secret::new(String::from("a"))));
        assert!(seen.contains(&Secret::new("a")));
    }

    #[test]
    fn a_jwt_is_found_by_its_shape_not_by_three_letters() {
        let jws = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        for text in [
            jws.to_owned(),
            format!("Bearer {jws}"),
            format!("{{\"url\":\"https://op/logout?id_token_hint={jws}&x=1\"}}"),
            // alg "none" has an empty signature; a JWE has five parts.
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_owned(),
            "eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn".to_owned(),
        ] {
            assert!(contains_jwt(&text), "{text}");
        }
        for text in [
            // Random base64url values that happen to hold `eyJ`.
            "state=abceyJxYzdefghijklmnopqrstuvwxyz0123456789&nonce=x",
            "/portico/handoff/gU9zZxjIjeyJzWPs0JAFyIq7qqj1ndFTgOzLBGCeAwU",
            // A token cut short, a header alone, a word.
            "eyJhbGciOiJSUzI1NiIs",
            "eyJhbGciOiJSUzI1NiJ9.",
            "eyJ",
        ] {
            assert!(!contains_jwt(text), "{text}");
        }
    }
}
