//! Waiting for conditions instead of sleeping: poll a probe until it is ready or a bounded time
//! passes; the error says what was last seen.

use std::time::{Duration, Instant};

use super::error::{E2eError, Result};

/// Default limit for something the user would see "right away" (a page update, a click's effect).
pub const UI: Duration = Duration::from_secs(30);
/// Limit for an app start (tauri-driver, WebKit, the shell and its webviews).
pub const APP_START: Duration = Duration::from_secs(60);

const POLL: Duration = Duration::from_millis(100);

/// The outcome of one probe.
#[derive(Debug)]
pub enum Check<T> {
    /// The condition holds; the value is handed to the caller.
    Ready(T),
    /// Not yet; the text describes what was seen instead (shown on timeout).
    NotYet(String),
}

/// Poll `probe` until it is [`Check::Ready`] or `limit` passes. A probe error (e.g. an element
/// that went stale while the page re-rendered) counts as "not yet" and is reported on timeout.
pub async fn until<T, F>(what: impl Into<String>, limit: Duration, mut probe: F) -> Result<T>
where
    F: AsyncFnMut() -> Result<Check<T>>,
{
    let what = what.into();
    let start = Instant::now();
    loop {
        let last = match probe().await {
            Ok(Check::Ready(v)) => return Ok(v),
            Ok(Check::NotYet(seen)) => seen,
            Err(e) => format!("error: {e}"),
        };
        if start.elapsed() >= limit {
            return Err(E2eError::Timeout {
                what,
                waited: limit,
                last,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`until`] for a plain condition.
pub async fn until_true<F>(what: impl Into<String>, limit: Duration, mut cond: F) -> Result<()>
where
    F: AsyncFnMut() -> Result<bool>,
{
    until(what, limit, async || {
        Ok(if cond().await? {
            Check::Ready(())
        } else {
            Check::NotYet("condition false".into())
        })
    })
    .await
}
