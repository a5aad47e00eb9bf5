//! Query / form parameter access with OAuth's rules: empty values count as absent
//! (RFC 6749 §3.1) and a repeated parameter is an error unless it is meant to repeat.

use axum::http::{header, HeaderMap};

use crate::error::OAuthError;

#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Self {
        Params {
            pairs: url::form_urlencoded::parse(raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        }
    }

    /// Entra's form of a request (see [`crate::IdpConfig::entra`]) in the form the endpoints
    /// understand: the API named by `{api}/.default` (all the API's scopes) or `{api}/{s}`
    /// (scope `s`) becomes `audience={api}` — one refresh token for every API, as Auth0's
    /// multi-resource refresh tokens. Scopes of two APIs in one request (Entra refuses them)
    /// become `audience` plus `resource`, which the endpoints refuse.
    pub fn translate_entra(self, apis: &[crate::config::ApiConfig]) -> Params {
        let Some(scope) = self.one("scope").ok().flatten().map(str::to_owned) else {
            return self;
        };
        let mut scopes: Vec<String> = Vec::new();
        let mut resources: Vec<String> = Vec::new();
        for token in scope.split_whitespace() {
            let api = apis.iter().find(|a| {
                token
                    .strip_prefix(a.identifier.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            });
            let Some(api) = api else {
                scopes.push(token.to_owned());
                continue;
            };
            if !resources.contains(&api.identifier) {
                resources.push(api.identifier.clone());
            }
            let short = &token[api.identifier.len() + 1..];
            let add: Vec<String> = if short == ".default" {
                api.scopes.clone()
            } else {
                vec![short.to_owned()]
            };
            for s in add {
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
        }
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .into_iter()
            .filter(|(k, _)| k != "scope")
            .collect();
        if !scopes.is_empty() {
            pairs.push(("scope".into(), scopes.join(" ")));
        }
        for (i, r) in resources.into_iter().enumerate() {
            let name = if i == 0 { "audience" } else { "resource" };
            pairs.push((name.to_owned(), r));
        }
        Params { pairs }
    }

    /// A parameter that may appear at most once.
    pub fn one(&self, name: &str) -> Result<Option<&str>, String> {
        let mut it = self.pairs.iter().filter(|(k, _)| k == name);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(format!("parameter {name} given more than once"));
        }
        Ok(first)
    }

    /// A repeatable parameter (e.g. RFC 8707 `resource`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `one` for the token endpoints: errors become `invalid_request`.
    pub fn opt(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        self.one(name).map_err(OAuthError::invalid_request)
    }

    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.opt(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }
}

/// Parse an `application/x-www-form-urlencoded` body (RFC 6749 §3.2).
pub(crate) fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "body must be application/x-www-form-urlencoded",
        ));
    }
    Ok(Params::parse(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn entra_scopes_name_their_resources() {
        let apis = crate::IdpConfig::portico_demo().apis;
        let p = Params::parse(
            b"scope=openid+offline_access+https%3A%2F%2Fapi.portico.dev%2Fbilling%2F.default\
              +https%3A%2F%2Fapi.portico.dev%2Fcore%2Fread%3Adashboard&client_id=c",
        )
        .translate_entra(&apis);
        assert_eq!(
            p.one("scope"),
            Ok(Some(
                "openid offline_access read:invoices write:invoices read:dashboard"
            ))
        );
        assert_eq!(
            p.one("audience"),
            Ok(Some("https://api.portico.dev/billing"))
        );
        assert_eq!(p.all("resource"), vec!["https://api.portico.dev/core"]);
        assert_eq!(p.one("client_id"), Ok(Some("c")));
        // A scope of no known API (Microsoft Graph's, say) stays as it is.
        let p =
            Params::parse(b"scope=https%3A%2F%2Fgraph.example%2FUser.Read").translate_entra(&apis);
        assert_eq!(p.one("scope"), Ok(Some("https://graph.example/User.Read")));
        assert_eq!(p.one("audience"), Ok(None));
    }

    #[test]
    fn empty_is_absent_and_duplicates_are_errors() {
        let p = Params::parse(b"a=1&b=&c=x&c=y&resource=r1&resource=r2");
        assert_eq!(p.one("a"), Ok(Some("1")));
        assert_eq!(p.one("b"), Ok(None));
        assert!(p.one("c").is_err());
        assert_eq!(p.all("resource"), vec!["r1", "r2"]);
        assert_eq!(
            p.required("zzz").map_err(|e| e.error),
            Err("invalid_request")
        );
    }

    #[test]
    fn form_requires_urlencoded_content_type() {
        let mut h = HeaderMap::new();
        assert!(form(&h, b"a=1").is_err());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(form(&h, b"a=1").is_err());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        assert_eq!(
            form(&h, b"a=1")
                .ok()
                .and_then(|p| p.one("a").ok().flatten().map(str::to_owned)),
            Some("1".into())
        );
    }
}
