//! The one error every configuration and protocol validator returns: which kind of value was
//! refused, the value as it may be shown, and what is wrong with it.
//!
//! The problem is a sentence fragment that follows the value: "`api/billing` is not an absolute
//! URI". Each consumer adds its own frame: the shell's loader the field path
//! (``configuration error at `mfes[1].audiences[0]`: `api/billing` is not an absolute URI``), the
//! broker its error kind (`invalid_audience`, `invalid_scope`, `config_invalid`).

use std::borrow::Cow;
use std::fmt;

/// Longest rendering of a refused value; a longer one is cut (the problem says what is wrong,
/// the value only helps to find it).
const SHOWN_CHARS: usize = 64;

/// Which kind of value a validator refused. The broker maps [`Kind::Audience`] and
/// [`Kind::Scope`] to errors of their own; every other kind is a configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The provider's issuer URL.
    Issuer,
    /// The public client's id.
    ClientId,
    /// The redirect URI of the sign-in.
    Redirect,
    /// An API audience (Auth0 `audience`, RFC 8707 `resource`).
    Audience,
    /// One OAuth scope token.
    Scope,
    /// The name of an extra `/authorize` parameter.
    AuthorizeParam,
    /// Where the provider returns the browser after logout.
    PostLogoutRedirect,
    /// A web page or origin the shell shows (a micro frontend's).
    PageUrl,
    /// An endpoint the provider's discovery document names.
    Endpoint,
    /// The provider dialect's name.
    Dialect,
    /// The refresh-token revocation method's name.
    Revocation,
    /// A feature switch (`auto`, `on`, `off`).
    Mode,
    /// A client capability declared to the provider (Entra's `xms_cc`, e.g. `CP1`).
    ClientCapability,
}

impl Kind {
    /// What the value is, for a sentence: "the issuer".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Issuer => "the issuer",
            Kind::ClientId => "the client id",
            Kind::Redirect => "the redirect URI",
            Kind::Audience => "the audience",
            Kind::Scope => "the scope token",
            Kind::AuthorizeParam => "the authorize parameter",
            Kind::PostLogoutRedirect => "the post-logout redirect",
            Kind::PageUrl => "the URL",
            Kind::Endpoint => "the provider endpoint",
            Kind::Dialect => "the dialect",
            Kind::Mode => "the mode",
            Kind::Revocation => "the revocation method",
            Kind::ClientCapability => "the client capability",
        }
    }
}

/// A value a validator refused.
///
/// ```
/// use portico_types::audience::Audience;
/// use portico_types::invalid::Kind;
/// let e = Audience::parse("api/billing").unwrap_err();
/// assert_eq!(e.kind(), Kind::Audience);
/// assert_eq!(e.problem(), "is not an absolute URI");
/// assert_eq!(e.detail(), "`api/billing` is not an absolute URI");
/// assert_eq!(e.to_string(), "the audience `api/billing` is not an absolute URI");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    kind: Kind,
    shown: String,
    problem: Cow<'static, str>,
}

impl Invalid {
    /// `value` is shown cut to 64 characters with control characters escaped; pass a URL
    /// through [`shown_url`] first so a password never reaches a message.
    pub fn new(kind: Kind, value: &str, problem: impl Into<Cow<'static, str>>) -> Invalid {
        Invalid {
            kind,
            shown: shown(value),
            problem: problem.into(),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// What is wrong, as the predicate of a sentence about the value ("is not an absolute URI").
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// The value as it may be shown (cut, control characters escaped); empty for an empty value.
    pub fn shown_value(&self) -> &str {
        &self.shown
    }

    /// The value and what is wrong with it, for a frame that already says which field it is:
    /// "`api/billing` is not an absolute URI", or "the audience is empty" for an empty value.
    pub fn detail(&self) -> String {
        if self.shown.is_empty() {
            format!("{} {}", self.kind.noun(), self.problem)
        } else {
            format!("`{}` {}", self.shown, self.problem)
        }
    }
}

/// A whole sentence fragment: "the audience `api/billing` is not an absolute URI".
impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.shown.is_empty() {
            write!(f, "{} {}", self.kind.noun(), self.problem)
        } else {
            write!(f, "{} `{}` {}", self.kind.noun(), self.shown, self.problem)
        }
    }
}

impl std::error::Error for Invalid {}

/// A URL as an error may show it: without its password.
pub fn shown_url(url: &url::Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut u = url.clone();
    // Cannot fail: a URL that has a password can hold none.
    let _ = u.set_password(None);
    u.to_string()
}

fn shown(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_control_characters_escaped() {
        let e = Invalid::new(Kind::Audience, &"a".repeat(600), "is too long");
        assert_eq!(e.shown_value().chars().count(), SHOWN_CHARS + 1);
        assert!(e.shown_value().ends_with('…'));
        let e = Invalid::new(Kind::Scope, "a\nb", "is bad");
        assert_eq!(e.detail(), "`a\\nb` is bad");
    }

    #[test]
    fn an_empty_value_is_named_by_its_kind() {
        let e = Invalid::new(Kind::Audience, "", "is empty");
        assert_eq!(e.detail(), "the audience is empty");
        assert_eq!(e.to_string(), "the audience is empty");
    }

    #[test]
    fn passwords_are_not_shown() {
        let u = url::Url::parse("https://user:hunter2@idp.example.com/").unwrap();
        assert_eq!(shown_url(&u), "https://user@idp.example.com/");
    }
}
