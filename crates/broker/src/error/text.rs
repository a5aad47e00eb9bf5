//! The sentences of [`AuthError`](super::AuthError)'s `Display`, for the variants whose text
//! depends on optional parts. Every text is a sentence a person reads: no debug output, no enum
//! names.

/// Longest provider description we repeat.
pub const MAX_DESCRIPTION: usize = 200;

/// `token` -> `token endpoint`: how a person calls the thing that failed.
pub fn endpoint(endpoint: &str) -> String {
    match endpoint {
        "discovery" => "discovery document".to_owned(),
        "jwks" => "signing keys (JWKS)".to_owned(),
        other => format!("{other} endpoint"),
    }
}

pub fn rate_limited(retry_after_secs: Option<u64>, caller: Option<&str>) -> String {
    let who = match caller {
        Some(c) => format!("The micro frontend {c} asks for new tokens too often"),
        None => "The provider is limiting requests".to_owned(),
    };
    match retry_after_secs {
        Some(1) => format!("{who}; try again in 1 second."),
        Some(s) => format!("{who}; try again in {s} seconds."),
        None => format!("{who}; try again later."),
    }
}

pub fn insufficient_scope(audience: &str, scope: Option<&str>) -> String {
    match scope {
        Some(s) => {
            format!("The API at {audience} needs the scope {s}, which this token does not carry.")
        }
        None => format!("The API at {audience} needs a scope this token does not carry."),
    }
}

pub fn interaction_required(error: &str, description: Option<&str>) -> String {
    let what = match error {
        "consent_required" => "your consent",
        "login_required" => "a new sign-in",
        _ => "you to take part",
    };
    match description {
        Some(d) => format!("The provider needs {what} before it continues ({error}: {d})."),
        None => format!("The provider needs {what} before it continues ({error})."),
    }
}

pub fn provider_error(
    endpoint: &str,
    status: Option<u16>,
    error: Option<&str>,
    description: Option<&str>,
) -> String {
    let what = self::endpoint(endpoint);
    let why = match (error, description) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e.to_owned(),
        (None, Some(d)) => d.to_owned(),
        (None, None) => String::new(),
    };
    match (status, why.is_empty()) {
        (Some(s), false) if s >= 500 => {
            format!("The provider's {what} failed (HTTP {s}, {why}).")
        }
        (Some(s), false) => {
            format!("The provider's {what} refused the request (HTTP {s}, {why}).")
        }
        (Some(s), true) if s >= 500 => {
            format!("The provider's {what} failed (HTTP {s}); it may be down.")
        }
        (Some(s), true) if (200..300).contains(&s) => {
            format!("The provider's {what} sent an answer that could not be read.")
        }
        (Some(s), true) => format!("The provider's {what} refused the request (HTTP {s})."),
        (None, false) => format!("The provider's {what} failed ({why})."),
        (None, true) => format!("The provider's {what} sent an unusable answer."),
    }
}

pub fn audience_not_granted(
    audience: &str,
    granted: &[String],
    description: Option<&str>,
) -> String {
    let mut out = format!("The provider did not grant a token for the audience {audience}");
    if let Some(d) = description {
        out.push_str(&format!(" ({d})"));
    }
    if !granted.is_empty() {
        out.push_str(&format!(
            "; the token it sent is for {}",
            granted.join(", ")
        ));
    }
    out.push('.');
    out
}

pub fn access_denied(error: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("The provider refused the sign-in ({error}: {d})."),
        None => format!("The provider refused the sign-in ({error})."),
    }
}

/// A provider's free-text reason (`error_description`), safe to show and log: control
/// characters dropped, whitespace collapsed, anything that looks like a token or code
/// replaced, at most [`MAX_DESCRIPTION`] characters. `None` if nothing readable is left.
pub fn sanitize_description(raw: &str) -> Option<String> {
    let words: Vec<String> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w: String = w.chars().filter(|c| !c.is_control()).collect();
            if looks_like_secret(&w) {
                "[redacted]".to_owned()
            } else {
                w
            }
        })
        .collect();
    let joined = words.join(" ");
    let trimmed = joined.trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        return None;
    }
    let mut out: String = trimmed.chars().take(MAX_DESCRIPTION).collect();
    if trimmed.chars().count() > MAX_DESCRIPTION {
        out.push('…');
    }
    Some(out)
}

/// A JWT, or a long run of token characters (refresh tokens, codes, hashes).
fn looks_like_secret(word: &str) -> bool {
    let core = word.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | ';' | ':' | '(' | ')'));
    core.contains("eyJ")
        || (core.len() >= 24
            && core.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
            }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{AuthError, CallbackDefect, IdTokenDefect, StoreError};

    #[test]
    fn representative_texts_are_pinned() {
        let pinned = [
            (
                AuthError::ProviderError {
                    endpoint: "token".into(),
                    status: Some(400),
                    error: Some("invalid_target".into()),
                    description: Some("only a single resource indicator value must be requested/resolved during Access Token Request".into()),
                },
                "The provider's token endpoint refused the request (HTTP 400, invalid_target: only a single resource indicator value must be requested/resolved during Access Token Request).",
            ),
            (
                AuthError::ProviderError {
                    endpoint: "token".into(),
                    status: Some(503),
                    error: None,
                    description: None,
                },
                "The provider's token endpoint failed (HTTP 503); it may be down.",
            ),
            (
                AuthError::ProviderError {
                    endpoint: "discovery".into(),
                    status: Some(200),
                    error: None,
                    description: None,
                },
                "The provider's discovery document sent an answer that could not be read.",
            ),
            (
                AuthError::IdTokenInvalid {
                    reason: IdTokenDefect::SignatureInvalid,
                },
                "The provider's ID token was refused: its signature does not verify.",
            ),
            (
                AuthError::login_required("the provider no longer accepts the session (refresh token revoked)"),
                "Sign-in required: the provider no longer accepts the session (refresh token revoked).",
            ),
            (
                AuthError::AudienceNotGranted {
                    audience: "https://api.portico.dev/billing".into(),
                    granted: vec![],
                    description: Some("resource not granted at authorization".into()),
                },
                "The provider did not grant a token for the audience https://api.portico.dev/billing (resource not granted at authorization).",
            ),
            (
                AuthError::AudienceNotGranted {
                    audience: "https://api.portico.dev/billing".into(),
                    granted: vec!["https://api.portico.dev/core".into()],
                    description: None,
                },
                "The provider did not grant a token for the audience https://api.portico.dev/billing; the token it sent is for https://api.portico.dev/core.",
            ),
            (
                AuthError::ScopeNotGranted {
                    audience: "https://api.portico.dev/billing".into(),
                    missing: vec!["write:invoices".into(), "read:invoices".into()],
                },
                "The provider did not grant the scope write:invoices, read:invoices for the audience https://api.portico.dev/billing.",
            ),
            (
                AuthError::provider_rate_limited(Some(30)),
                "The provider is limiting requests; try again in 30 seconds.",
            ),
            (
                AuthError::provider_rate_limited(None),
                "The provider is limiting requests; try again later.",
            ),
            (
                AuthError::Network {
                    endpoint: "token".into(),
                    detail: "could not connect".into(),
                },
                "Could not reach the provider's token endpoint (could not connect).",
            ),
            (
                AuthError::InvalidCallback {
                    reason: CallbackDefect::MissingIssuer,
                },
                "The sign-in response was refused: it does not name its issuer although the provider promises to (RFC 9207).",
            ),
            (
                AuthError::AccessDenied {
                    error: "access_denied".into(),
                    description: Some("User said no".into()),
                },
                "The provider refused the sign-in (access_denied: User said no).",
            ),
            (
                AuthError::from(StoreError::Unavailable("the OS keyring is locked".into())),
                "The system keyring is unavailable: the OS keyring is locked.",
            ),
        ];
        for (e, text) in pinned {
            assert_eq!(e.to_string(), text);
            assert_eq!(serde_json::to_value(&e).unwrap()["message"], text);
        }
    }

    #[test]
    fn provider_descriptions_are_bounded_stripped_and_never_a_token() {
        use super::sanitize_description as clean;
        assert_eq!(
            clean("refresh\ttoken\u{0}  revoked.\r\n").as_deref(),
            Some("refresh token revoked")
        );
        assert_eq!(clean(" \n\t ."), None);
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        assert_eq!(
            clean(&format!("token {jwt} is expired")).as_deref(),
            Some("token [redacted] is expired")
        );
        assert_eq!(
            clean("grant 8xLOxBtZp8QzVd2Wq1Ym9kRj3Hs7Tn0a was revoked").as_deref(),
            Some("grant [redacted] was revoked")
        );
        let long = "word ".repeat(100);
        let out = clean(&long).unwrap();
        assert_eq!(out.chars().count(), MAX_DESCRIPTION + 1);
        assert!(out.ends_with('…'));
        // Multi-byte characters are cut on a character boundary.
        assert!(clean(&"é".repeat(500)).is_some());
    }
}
