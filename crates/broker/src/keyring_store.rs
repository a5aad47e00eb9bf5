//! Session store in the OS keyring (Secret Service / Keychain / Credential Manager) via the `keyring` crate.

use crate::error::StoreError;
use crate::store::{PendingLogin, SessionStore, StoredSession};

/// Stores the session as one secret under `(service, account)`.
///
/// Calls block (D-Bus round trips); the broker runs them on the blocking pool. A locked or
/// missing keyring is reported as [`StoreError::Unavailable`]; there is no plaintext fallback.
///
/// ```no_run
/// use portico_broker::{KeyringStore, SessionStore};
/// let store = KeyringStore::new("dev.portico.app", "portico-desktop@https://tenant.example/");
/// let session = store.load()?;
/// # Ok::<(), portico_broker::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    account: String,
}

impl KeyringStore {
    /// A store for one service/account pair.
    pub fn new(service: &str, account: &str) -> Self {
        Self {
            service: service.to_owned(),
            account: account.to_owned(),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, &self.account).map_err(map_err)
    }

    /// The pending sign-in sits in an entry of its own beside the session.
    fn pending_entry(&self) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, &format!("{}#pending-login", self.account))
            .map_err(map_err)
    }
}

fn map_err(e: keyring::Error) -> StoreError {
    // Platform error texts go to the debug log only; callers get our wording.
    tracing::debug!(error = %e, "keyring operation failed");
    match e {
        keyring::Error::NoStorageAccess(_) => {
            StoreError::Unavailable("the OS keyring refused access (locked?)".into())
        }
        keyring::Error::PlatformFailure(_) => {
            StoreError::Unavailable("the OS keyring is not reachable".into())
        }
        keyring::Error::TooLong(_, n) => StoreError::TooLarge(n as usize),
        keyring::Error::BadEncoding(_) => {
            StoreError::Corrupt("the keyring entry is not UTF-8".into())
        }
        keyring::Error::Ambiguous(_) => StoreError::Corrupt("several keyring entries match".into()),
        keyring::Error::Invalid(..) => {
            StoreError::Unavailable("the keyring rejected the entry attributes".into())
        }
        _ => StoreError::Unavailable("unexpected keyring failure".into()),
    }
}

impl SessionStore for KeyringStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        match self.entry()?.get_password() {
            Ok(json) => StoredSession::from_store_json(&json).map(Some),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        let json = session.to_store_json()?;
        self.entry()?.set_password(&json).map_err(map_err)
    }

    fn clear(&self) -> Result<(), StoreError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    fn load_pending(&self) -> Result<Option<PendingLogin>, StoreError> {
        match self.pending_entry()?.get_password() {
            Ok(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|_| StoreError::Corrupt("not a pending sign-in".into())),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn save_pending(&self, pending: &PendingLogin) -> Result<(), StoreError> {
        let json = serde_json::to_string(pending)
            .map_err(|e| StoreError::Unavailable(format!("encode: {e}")))?;
        self.pending_entry()?.set_password(&json).map_err(map_err)
    }

    fn clear_pending(&self) -> Result<(), StoreError> {
        match self.pending_entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}
