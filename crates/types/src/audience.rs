//! API audiences: the identifiers a token is asked for (Auth0 `audience`, RFC 8707 `resource`).

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::invalid::{Invalid, Kind};

/// Longest audience identifier we accept.
pub const MAX_AUDIENCE_LEN: usize = 512;

/// An API audience: a validated absolute URI, kept verbatim.
///
/// ```
/// use portico_types::audience::Audience;
/// let a = Audience::parse("https://api.portico.dev/billing").unwrap();
/// assert_eq!(a.as_str(), "https://api.portico.dev/billing");
/// assert!(Audience::parse("not a uri").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Audience(String);

impl Audience {
    /// Validates: non-empty, at most [`MAX_AUDIENCE_LEN`] bytes, no whitespace or control
    /// characters, an absolute URI without a fragment (RFC 8707 §2).
    pub fn parse(s: &str) -> Result<Audience, Invalid> {
        let bad = |problem: &'static str| Invalid::new(Kind::Audience, s, problem);
        if s.is_empty() {
            return Err(bad("is empty"));
        }
        if s.len() > MAX_AUDIENCE_LEN {
            return Err(Invalid::new(
                Kind::Audience,
                s,
                format!("is longer than {MAX_AUDIENCE_LEN} characters"),
            ));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let url = Url::parse(s).map_err(|_| bad("is not an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(bad("has a fragment (RFC 8707 §2)"));
        }
        Ok(Audience(s.to_owned()))
    }

    /// The identifier exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Audience::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(s: &str) -> String {
        Audience::parse(s).unwrap_err().problem().to_owned()
    }

    #[test]
    fn audience_validation() {
        assert_eq!(problem(""), "is empty");
        assert_eq!(
            problem("https://a b"),
            "contains whitespace or control characters"
        );
        assert_eq!(
            problem("https://a\u{7f}b"),
            "contains whitespace or control characters"
        );
        assert_eq!(problem("relative/path"), "is not an absolute URI");
        assert_eq!(problem("https://x/#frag"), "has a fragment (RFC 8707 §2)");
        assert_eq!(
            problem(&format!("https://x/{}", "a".repeat(600))),
            "is longer than 512 characters"
        );
        assert!(Audience::parse(&format!("https://x/{}", "a".repeat(500))).is_ok());
        assert!(Audience::parse("urn:portico:api").is_ok());
        // Kept verbatim: no trailing slash added.
        assert_eq!(
            Audience::parse("https://api.x").unwrap().as_str(),
            "https://api.x"
        );
    }

    #[test]
    fn serde_is_the_plain_string_and_validates() {
        let a: Audience = serde_json::from_str("\"https://api.x/\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"https://api.x/\"");
        let e = serde_json::from_str::<Audience>("\"nope\"").unwrap_err();
        assert!(e.to_string().contains("is not an absolute URI"), "{e}");
    }
}
