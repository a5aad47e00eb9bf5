//! Browser-side state of the provider: SSO sessions (cookie) and sign-in transactions (the
//! `/authorize` request waiting for the user to pick an account).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::grants::AuthRequest;
use crate::secret::random_token;
use portico_types::Secret;

pub(crate) const SESSION_COOKIE: &str = "portico_idp_session";
/// A person has this long to submit the sign-in page.
const TX_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub sub: String,
    pub auth_time: u64,
    /// `pwd`, or `mfa` once the second factor was done in this session.
    pub acr: String,
}

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    sessions: HashMap<Secret, Session>,
    pending: HashMap<String, (AuthRequest, Instant)>,
}

impl Sessions {
    pub fn create(&mut self, session: Session) -> Secret {
        let id = Secret::new(random_token());
        self.sessions.insert(id.clone(), session);
        id
    }

    pub fn get(&self, id: &str) -> Option<Session> {
        self.sessions.get(&Secret::new(id.to_owned())).cloned()
    }

    pub fn end(&mut self, id: &str) {
        self.sessions.remove(&Secret::new(id.to_owned()));
    }

    /// Park an authorization request until the sign-in form comes back; returns its id.
    pub fn begin(&mut self, req: AuthRequest, now: Instant) -> String {
        self.pending
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < TX_TTL);
        let tx = random_token();
        self.pending.insert(tx.clone(), (req, now));
        tx
    }

    pub fn peek(&self, tx: &str, now: Instant) -> Option<AuthRequest> {
        self.pending
            .get(tx)
            .filter(|(_, at)| now.saturating_duration_since(*at) < TX_TTL)
            .map(|(r, _)| r.clone())
    }

    pub fn finish(&mut self, tx: &str, now: Instant) -> Option<AuthRequest> {
        let (req, at) = self.pending.remove(tx)?;
        (now.saturating_duration_since(at) < TX_TTL).then_some(req)
    }
}

/// The session id from a `Cookie` header, if any.
pub(crate) fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn req() -> AuthRequest {
        AuthRequest {
            client_id: "c".into(),
            redirect_uri: "dev.portico.app:/callback".into(),
            state: None,
            nonce: None,
            scopes: vec![],
            audience: None,
            resources: vec![],
            acr_values: vec![],
            code_challenge: "x".into(),
        }
    }

    #[test]
    fn transactions_are_single_use_and_expire() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let tx = s.begin(req(), t0);
        assert!(s.peek(&tx, t0).is_some());
        assert!(s.finish(&tx, t0).is_some());
        assert!(s.finish(&tx, t0).is_none());
        let tx = s.begin(req(), t0);
        assert!(s.finish(&tx, t0 + TX_TTL).is_none());
    }

    #[test]
    fn sessions_and_cookie_parsing() {
        let mut s = Sessions::default();
        let id = s.create(Session {
            sub: "auth0|alice".into(),
            auth_time: 5,
            acr: "pwd".into(),
        });
        let mut h = HeaderMap::new();
        let cookie = format!("a=b; {SESSION_COOKIE}={}; c=d", id.expose_secret());
        h.insert("cookie", HeaderValue::from_str(&cookie).expect("header"));
        let found = session_cookie(&h).expect("cookie");
        assert_eq!(s.get(&found).map(|x| x.sub), Some("auth0|alice".into()));
        s.end(&found);
        assert!(s.get(&found).is_none());
        assert!(session_cookie(&HeaderMap::new()).is_none());
    }
}
