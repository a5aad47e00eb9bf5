//! Locking.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, recovering from poisoning.
///
/// For the short critical sections of Portico's crates, none of which can panic half-way through
/// an update: the data behind a poisoned lock is still consistent, and one panicking thread must
/// not take token service (or the shell) down with it.
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poisoned_lock_still_serves_its_data() {
        let m = Arc::new(Mutex::new(vec![1]));
        let held = m.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            panic!("poison the lock on purpose");
        })
        .join();
        assert!(panicked.is_err());
        assert!(m.is_poisoned());
        lock(&m).push(2);
        assert_eq!(*lock(&m), vec![1, 2]);
    }
}
