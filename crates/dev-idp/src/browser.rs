//! A scripted person in a browser, for tests and the E2E "system browser".

/// What went wrong while signing in.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Transport failure.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
}

/// GET `authorize_url`, submit the sign-in form as `username`, and return the redirect
/// `Location` (the callback URL with `code`/`state`/`iss`, or with `error=...`). Does not follow it.
pub async fn sign_in(authorize_url: &str, username: &str) -> Result<String, BrowserError> {
    let _ = (authorize_url, username);
    todo!("skeleton")
}
