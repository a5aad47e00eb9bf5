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

    fn entry_raw(&self) -> keyring::Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &self.account)
    }

    /// The pending sign-in sits in an entry of its own beside the session.
    fn pending_entry_raw(&self) -> keyring::Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &format!("{}#pending-login", self.account))
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

/// Waits before the retries of an operation the platform failed (not a locked keyring).
const RETRY_DELAYS: [std::time::Duration; 2] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(200),
];

/// Runs `op`, again after a short wait when the platform failed (the Secret Service busy or a
/// D-Bus call timing out under load): such a failure says nothing about the entry, and giving up
/// at once would cost a sign-in. A locked keyring or a missing entry is answered at once.
/// The broker calls stores on the blocking pool, so waiting here blocks no async thread.
fn with_retry<T>(mut op: impl FnMut() -> keyring::Result<T>) -> keyring::Result<T> {
    let mut delays = RETRY_DELAYS.iter();
    loop {
        match op() {
            Err(keyring::Error::PlatformFailure(e)) => match delays.next() {
                Some(d) => {
                    tracing::debug!(error = %e, "keyring platform failure; retrying");
                    std::thread::sleep(*d);
                }
                None => return Err(keyring::Error::PlatformFailure(e)),
            },
            other => return other,
        }
    }
}

impl SessionStore for KeyringStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        match with_retry(|| self.entry_raw()?.get_password()) {
            Ok(json) => StoredSession::from_store_json(&json).map(Some),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        let json = session.to_store_json()?;
        with_retry(|| self.entry_raw()?.set_password(&json)).map_err(map_err)
    }

    fn clear(&self) -> Result<(), StoreError> {
        match with_retry(|| self.entry_raw()?.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    fn load_pending(&self) -> Result<Option<PendingLogin>, StoreError> {
        match with_retry(|| self.pending_entry_raw()?.get_password()) {
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
        with_retry(|| self.pending_entry_raw()?.set_password(&json)).map_err(map_err)
    }

    fn clear_pending(&self) -> Result<(), StoreError> {
        match with_retry(|| self.pending_entry_raw()?.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> keyring::Error {
        keyring::Error::PlatformFailure("busy".into())
    }

    #[test]
    fn a_platform_failure_is_retried_and_a_locked_keyring_is_not() {
        let mut calls = 0;
        let r = with_retry(|| {
            calls += 1;
            if calls < 3 {
                Err(platform())
            } else {
                Ok(7)
            }
        });
        assert_eq!((r.ok(), calls), (Some(7), 3));

        let mut calls = 0;
        let r: keyring::Result<()> = with_retry(|| {
            calls += 1;
            Err(platform())
        });
        assert!(matches!(r, Err(keyring::Error::PlatformFailure(_))));
        assert_eq!(calls, 1 + RETRY_DELAYS.len(), "bounded");

        let mut calls = 0;
        let r: keyring::Result<()> = with_retry(|| {
            calls += 1;
            Err(keyring::Error::NoStorageAccess("locked".into()))
        });
        assert!(matches!(r, Err(keyring::Error::NoStorageAccess(_))));
        assert_eq!(calls, 1, "a locked keyring is answered at once");
    }
}
