//! OAuth scopes (RFC 6749 §3.3): one rule for a scope token, and ordered sets of them.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::invalid::{Invalid, Kind};

/// Longest scope token we accept. RFC 6749 sets no limit; this one bounds what a page or a
/// configuration can make the broker send, and leaves room for URI-shaped scopes
/// (`api://<app id>/access_as_user`, `https://graph.microsoft.com/User.Read`) whose resource
/// part alone may be a long audience.
pub const MAX_SCOPE_TOKEN_LEN: usize = 256;

/// Checks one scope token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3), at most
/// [`MAX_SCOPE_TOKEN_LEN`] bytes.
///
/// ```
/// use portico_types::scope::check_scope_token;
/// assert!(check_scope_token("read:invoices").is_ok());
/// assert!(check_scope_token("bad\"quote").is_err());
/// ```
pub fn check_scope_token(token: &str) -> Result<(), Invalid> {
    if token.is_empty() {
        return Err(Invalid::new(Kind::Scope, token, "is empty"));
    }
    if token.len() > MAX_SCOPE_TOKEN_LEN {
        return Err(Invalid::new(
            Kind::Scope,
            token,
            format!("is longer than {MAX_SCOPE_TOKEN_LEN} characters"),
        ));
    }
    let scope_char = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
    if !token.bytes().all(scope_char) {
        return Err(Invalid::new(
            Kind::Scope,
            token,
            "has characters outside RFC 6749 §3.3 (printable ASCII other than space, double quote and backslash)",
        ));
    }
    Ok(())
}

/// A set of OAuth scopes, ordered, displayed space-separated.
///
/// ```
/// use portico_types::scope::ScopeSet;
/// let big = ScopeSet::parse("read:invoices write:invoices").unwrap();
/// let small = ScopeSet::parse("read:invoices").unwrap();
/// assert!(big.is_superset_of(&small));
/// assert_eq!(big.to_string(), "read:invoices write:invoices");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The empty set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-separated list (runs of spaces allowed); every token must pass
    /// [`check_scope_token`].
    pub fn parse(s: &str) -> Result<ScopeSet, Invalid> {
        Self::from_tokens(s.split(' ').filter(|t| !t.is_empty()))
    }

    /// A set of the given tokens, each checked by [`check_scope_token`].
    pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Result<ScopeSet, Invalid> {
        let mut set = BTreeSet::new();
        for token in tokens {
            check_scope_token(token)?;
            set.insert(token.to_owned());
        }
        Ok(ScopeSet(set))
    }

    /// Whether every scope of `other` is in `self`.
    pub fn is_superset_of(&self, other: &ScopeSet) -> bool {
        self.0.is_superset(&other.0)
    }

    /// Scopes of `other` missing from `self`.
    pub fn missing_from(&self, other: &ScopeSet) -> Vec<String> {
        other.0.difference(&self.0).cloned().collect()
    }

    /// Adds one scope (trusted input: our own constants).
    pub fn insert(&mut self, scope: &str) {
        self.0.insert(scope.to_owned());
    }

    /// Whether the set contains `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Union of two sets.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.union(&other.0).cloned().collect())
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates the scopes in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScopeSet::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_set_parsing_and_superset() {
        let s = ScopeSet::parse("  b a  a ").unwrap();
        assert_eq!(s.to_string(), "a b");
        assert!(ScopeSet::parse("bad\"quote").is_err());
        assert!(ScopeSet::parse("tab\tsep").is_err());
        assert!(s.is_superset_of(&ScopeSet::parse("a").unwrap()));
        assert!(!ScopeSet::parse("a").unwrap().is_superset_of(&s));
        assert!(s.is_superset_of(&ScopeSet::empty()));
        assert_eq!(
            ScopeSet::parse("a").unwrap().missing_from(&s),
            vec!["b".to_string()]
        );
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"a b\"");
    }

    #[test]
    fn one_token_rule_with_one_limit() {
        let longest = "s".repeat(MAX_SCOPE_TOKEN_LEN);
        assert!(check_scope_token(&longest).is_ok());
        assert!(ScopeSet::parse(&longest).is_ok());
        let e = check_scope_token(&format!("{longest}s")).unwrap_err();
        assert_eq!(e.problem(), "is longer than 256 characters");
        assert_eq!(ScopeSet::parse(&format!("a {longest}s")).unwrap_err(), e);
        assert_eq!(check_scope_token("").unwrap_err().problem(), "is empty");
        for bad in ["a b", "é", "back\\slash", "quo\"te", "\u{7f}"] {
            let e = check_scope_token(bad).unwrap_err();
            assert_eq!(e.kind(), Kind::Scope);
            assert!(e.problem().starts_with("has characters outside"), "{bad}");
        }
        // The whole printable range but the three exclusions.
        let all: String = (0x21u8..=0x7e)
            .filter(|b| *b != b'"' && *b != b'\\')
            .map(char::from)
            .collect();
        check_scope_token(&all).unwrap();
    }
}
