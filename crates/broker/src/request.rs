//! A token request as the host judged it: who asks (from the webview the call came from, never
//! from the message), for which audience, which scopes, and the most that caller may hold.

use crate::config::{Audience, ScopeSet};
use crate::error::AuthError;

/// The scopes of one audience a caller may hold.
///
/// `registered` are the caller's own; `guarded` are the scopes any caller is registered for at
/// that audience (what Portico knows to mean something at that API). A token is handed to the
/// caller only if it carries no guarded scope beyond the caller's own: a read-only micro
/// frontend never receives the write scope another one registered. Scopes nobody registered for
/// this audience (another API's, from a provider that does not narrow tokens) are not held
/// against it. A caller registered with no scopes gets only what a scope-less request returns.
///
/// ```
/// use portico_broker::{ScopeCeiling, ScopeSet};
/// let s = |x| ScopeSet::parse(x).unwrap();
/// let reader = ScopeCeiling::new(s("read:invoices"), s("read:invoices write:invoices"));
/// assert!(reader.admits(&s("read:invoices read:dashboard"), &s("read:invoices")));
/// assert!(!reader.admits(&s("read:invoices write:invoices"), &s("read:invoices")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeCeiling {
    registered: ScopeSet,
    guarded: ScopeSet,
}

impl ScopeCeiling {
    /// `guarded` is widened to include `registered`.
    pub fn new(registered: ScopeSet, guarded: ScopeSet) -> Self {
        let guarded = guarded.union(&registered);
        Self {
            registered,
            guarded,
        }
    }

    /// What the caller is registered for.
    pub fn registered(&self) -> &ScopeSet {
        &self.registered
    }

    /// Whether a token with `granted` scopes, obtained by a request for `requested`, may be
    /// handed to this caller.
    pub fn admits(&self, granted: &ScopeSet, requested: &ScopeSet) -> bool {
        if self.registered.is_empty() {
            return requested.is_empty();
        }
        self.excess(granted).is_empty()
    }

    /// The guarded scopes in `granted` beyond the caller's registration.
    pub fn excess(&self, granted: &ScopeSet) -> Vec<String> {
        granted
            .iter()
            .filter(|s| self.guarded.contains(s) && !self.registered.contains(s))
            .map(str::to_owned)
            .collect()
    }
}

/// One caller's request for a token. Built only with scopes within the caller's registration,
/// so a request for more than that cannot reach the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    caller: String,
    audience: Audience,
    scopes: ScopeSet,
    ceiling: ScopeCeiling,
}

impl TokenRequest {
    /// `caller` names who asks (a micro frontend's id: per-caller rate limits and messages);
    /// `scopes` empty asks for everything the caller is registered for.
    pub fn new(
        caller: impl Into<String>,
        audience: Audience,
        scopes: ScopeSet,
        ceiling: ScopeCeiling,
    ) -> Result<Self, AuthError> {
        let caller = caller.into();
        let scopes = if scopes.is_empty() {
            ceiling.registered.clone()
        } else {
            scopes
        };
        if !ceiling.registered.is_superset_of(&scopes) {
            return Err(AuthError::InvalidScope {
                reason: format!(
                    "micro frontend `{caller}` is registered for scopes `{}` only",
                    ceiling.registered
                ),
            });
        }
        Ok(Self {
            caller,
            audience,
            scopes,
            ceiling,
        })
    }

    /// Who asks.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// For which audience.
    pub fn audience(&self) -> &Audience {
        &self.audience
    }

    /// The scopes asked for (within the registration).
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The most the caller may hold.
    pub fn ceiling(&self) -> &ScopeCeiling {
        &self.ceiling
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> ScopeSet {
        ScopeSet::parse(x).unwrap()
    }

    const BILLING: &str = "https://api.portico.dev/billing";

    #[test]
    fn a_reader_is_never_admitted_a_writers_token() {
        let reader = ScopeCeiling::new(s("read:invoices"), s("write:invoices"));
        let writer = ScopeCeiling::new(s("read:invoices write:invoices"), s("read:invoices"));
        let wide = s("read:invoices write:invoices");
        assert!(!reader.admits(&wide, &wide));
        assert_eq!(reader.excess(&wide), vec!["write:invoices".to_owned()]);
        assert!(writer.admits(&wide, &wide));
        assert!(reader.admits(&s("read:invoices"), &s("read:invoices")));
        // Scopes nobody registered for this audience mean nothing at its API.
        assert!(reader.admits(
            &s("read:invoices read:dashboard openid"),
            &s("read:invoices")
        ));
    }

    #[test]
    fn a_caller_registered_for_no_scopes_gets_only_scope_less_answers() {
        let none = ScopeCeiling::new(ScopeSet::empty(), s("read:invoices"));
        assert!(none.admits(&s("read:invoices"), &ScopeSet::empty()));
        assert!(!none.admits(&s("read:invoices"), &s("read:invoices")));
    }

    #[test]
    fn a_request_stays_within_the_registration() {
        let aud = Audience::parse(BILLING).unwrap();
        let ceiling = ScopeCeiling::new(s("read:invoices"), s("write:invoices"));
        let all =
            TokenRequest::new("billing", aud.clone(), ScopeSet::empty(), ceiling.clone()).unwrap();
        assert_eq!(
            all.scopes(),
            &s("read:invoices"),
            "none asked: all registered"
        );
        let err = TokenRequest::new("billing", aud, s("write:invoices"), ceiling).unwrap_err();
        assert_eq!(err.kind(), "invalid_scope");
        assert_eq!(
            err.to_string(),
            "The scope is not valid: micro frontend `billing` is registered for scopes `read:invoices` only."
        );
    }
}
