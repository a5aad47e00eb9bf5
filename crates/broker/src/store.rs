//! Session persistence: the trait, the stored record, and an in-memory implementation.

use crate::error::StoreError;
use crate::secret::{DpopPrivateKey, IdToken, PkceVerifier, RefreshToken};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// Largest serialized session we store: Windows Credential Manager caps a secret at ~2.5 KB.
pub const MAX_SESSION_BYTES: usize = 2048;

/// What survives a restart: the refresh token and small, non-secret session metadata.
/// Access tokens are never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    pub refresh_token: RefreshToken,
    pub issuer: String,
    pub client_id: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Kept for RP-initiated logout when it fits the size limit.
    #[serde(default)]
    pub id_token_hint: Option<IdToken>,
    /// The DPoP key the refresh token is bound to (RFC 9449 §5), when DPoP is on: without it
    /// the refresh token is useless, so it lives exactly where the refresh token lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<DpopPrivateKey>,
}

impl StoredSession {
    /// JSON for the store, dropping the ID token hint if that is what it takes to fit [`MAX_SESSION_BYTES`].
    ///
    /// ```
    /// use portico_broker::{IdToken, RefreshToken, StoredSession};
    /// let s = StoredSession {
    ///     refresh_token: RefreshToken::new("rt"), issuer: "https://idp/".into(), client_id: "c".into(),
    ///     subject: "u1".into(), name: None, email: None, id_token_hint: Some(IdToken::new("x".repeat(4000))),
    ///     dpop_key: None,
    /// };
    /// let json = s.to_store_json().unwrap();
    /// assert!(json.len() <= portico_broker::MAX_SESSION_BYTES);
    /// assert!(!json.contains("xxxx"));
    /// ```
    pub fn to_store_json(&self) -> Result<String, StoreError> {
        let json = serde_json::to_string(self)
            .map_err(|e| StoreError::Unavailable(format!("encode: {e}")))?;
        if json.len() <= MAX_SESSION_BYTES {
            return Ok(json);
        }
        let slim = StoredSession {
            id_token_hint: None,
            ..self.clone()
        };
        let json = serde_json::to_string(&slim)
            .map_err(|e| StoreError::Unavailable(format!("encode: {e}")))?;
        if json.len() <= MAX_SESSION_BYTES {
            Ok(json)
        } else {
            Err(StoreError::TooLarge(json.len()))
        }
    }

    /// Parses what [`StoredSession::to_store_json`] wrote.
    pub fn from_store_json(s: &str) -> Result<StoredSession, StoreError> {
        serde_json::from_str(s).map_err(|_| StoreError::Corrupt("not a stored session".into()))
    }
}

/// A sign-in begun but not finished: what the callback must match. Persisted so that a deep
/// link that starts the app (after it was closed mid-sign-in) can still complete it. Holds the
/// PKCE verifier, so it lives in the same secure store as the session and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub verifier: PkceVerifier,
    pub redirect_uri: String,
    /// Unix seconds after which the callback is refused.
    pub expires_at: u64,
    /// The key the code exchange will prove, when DPoP is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<DpopPrivateKey>,
}

/// Where the broker keeps the session between runs. Implementations may block;
/// the broker calls them on the blocking thread pool.
pub trait SessionStore: Send + Sync + 'static {
    /// The stored session, if any.
    fn load(&self) -> Result<Option<StoredSession>, StoreError>;
    /// Replaces the stored session.
    fn save(&self, session: &StoredSession) -> Result<(), StoreError>;
    /// Removes the stored session (no error if there is none).
    fn clear(&self) -> Result<(), StoreError>;

    /// The persisted pending sign-in, if any. Stores that cannot hold one return `None`, and a
    /// sign-in then only completes in the process that began it.
    fn load_pending(&self) -> Result<Option<PendingLogin>, StoreError> {
        Ok(None)
    }
    /// Replaces the persisted pending sign-in.
    fn save_pending(&self, _pending: &PendingLogin) -> Result<(), StoreError> {
        Ok(())
    }
    /// Removes the persisted pending sign-in (no error if there is none).
    fn clear_pending(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Keeps the session in memory only: for tests, and for running without a keyring (session lost on exit).
///
/// ```
/// use portico_broker::{MemoryStore, SessionStore};
/// let store = MemoryStore::new();
/// assert!(store.load().unwrap().is_none());
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    // Stored as JSON so the same size limit and encoding apply as for the keyring.
    inner: Mutex<Option<String>>,
    pending: Mutex<Option<PendingLogin>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SessionStore for MemoryStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        let g = self
            .inner
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        g.as_deref().map(StoredSession::from_store_json).transpose()
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        let json = session.to_store_json()?;
        *self
            .inner
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))? = Some(json);
        Ok(())
    }

    fn clear(&self) -> Result<(), StoreError> {
        *self
            .inner
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))? = None;
        Ok(())
    }

    fn load_pending(&self) -> Result<Option<PendingLogin>, StoreError> {
        Ok(self
            .pending
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?
            .clone())
    }

    fn save_pending(&self, pending: &PendingLogin) -> Result<(), StoreError> {
        *self
            .pending
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))? = Some(pending.clone());
        Ok(())
    }

    fn clear_pending(&self) -> Result<(), StoreError> {
        *self
            .pending
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))? = None;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn session(rt: &str) -> StoredSession {
        StoredSession {
            refresh_token: RefreshToken::new(rt),
            issuer: "https://idp/".into(),
            client_id: "portico-desktop".into(),
            subject: "auth0|alice".into(),
            name: Some("Alice".into()),
            email: Some("alice@portico.dev".into()),
            id_token_hint: Some(IdToken::new("a.b.c")),
            dpop_key: None,
        }
    }

    #[test]
    fn memory_store_round_trip_and_clear() {
        let s = MemoryStore::new();
        assert_eq!(s.load().unwrap(), None);
        s.save(&session("rt1")).unwrap();
        assert_eq!(s.load().unwrap(), Some(session("rt1")));
        s.save(&session("rt2")).unwrap();
        assert_eq!(
            s.load().unwrap().unwrap().refresh_token.expose_secret(),
            "rt2"
        );
        s.clear().unwrap();
        assert_eq!(s.load().unwrap(), None);
        s.clear().unwrap();
    }

    #[test]
    fn size_limit() {
        let mut big = session("rt");
        big.id_token_hint = Some(IdToken::new("h".repeat(3000)));
        let json = big.to_store_json().unwrap();
        let back = StoredSession::from_store_json(&json).unwrap();
        assert_eq!(back.id_token_hint, None, "hint dropped to fit");
        assert_eq!(back.refresh_token.expose_secret(), "rt");

        let mut huge = session(&"r".repeat(3000));
        huge.id_token_hint = None;
        assert!(matches!(huge.to_store_json(), Err(StoreError::TooLarge(_))));
        assert!(matches!(
            MemoryStore::new().save(&huge),
            Err(StoreError::TooLarge(_))
        ));
    }

    #[test]
    fn corrupt_json_is_typed() {
        assert!(matches!(
            StoredSession::from_store_json("{nope"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn debug_of_a_session_hides_the_refresh_token() {
        let dbg = format!("{:?}", session("super-secret-rt"));
        assert!(!dbg.contains("super-secret-rt"));
    }
}
