//! What the fixture creates: the client, the APIs and their scopes, the people.

/// The OAuth client Portico is registered as: public (no secret), native.
pub const CLIENT_ID: &str = "portico-desktop";
/// The name of the OIDC plugin instance; its endpoints live under `/api/<name>/`.
pub const PLUGIN_NAME: &str = "oidc";
/// The private-use-scheme redirect URI registered by default (RFC 8252 §7.1).
pub const CUSTOM_SCHEME_REDIRECT_URI: &str = "dev.portico.app:/callback";
/// The private-use-scheme post-logout redirect URI registered by default.
pub const CUSTOM_SCHEME_POST_LOGOUT_URI: &str = "dev.portico.app:/signed-out";

/// The billing demo API (resource indicator).
pub const BILLING: &str = "https://api.portico.dev/billing";
/// The dashboard ("core") demo API.
pub const CORE: &str = "https://api.portico.dev/core";
/// The analytics demo API.
pub const ANALYTICS: &str = "https://api.portico.dev/analytics";

/// Each API scope and the one resource it is bound to in the plugin's `resource-scope` table.
/// Glewlwyd accepts `:` in scope names, so these are Portico's names unchanged.
pub const API_SCOPES: [(&str, &str); 5] = [
    ("read:invoices", BILLING),
    ("write:invoices", BILLING),
    ("read:dashboard", CORE),
    ("read:reports", ANALYTICS),
    ("export:reports", ANALYTICS),
];

/// The OpenID scopes Portico asks for. `openid` ships with the schema; the fixture creates the
/// other three as ordinary Glewlwyd scopes (Glewlwyd drops scopes it does not know).
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// A person the fixture creates. Passwords are constants: this is test-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestUser {
    pub username: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    /// API scopes the user holds (besides all of [`OIDC_SCOPES`]).
    pub api_scopes: &'static [&'static str],
}

/// Alice, the admin: all five API scopes.
pub const ALICE: TestUser = TestUser {
    username: "alice",
    password: "alice-glewlwyd-test",
    name: "Alice Admin",
    email: "alice@example.com",
    api_scopes: &[
        "read:invoices",
        "write:invoices",
        "read:dashboard",
        "read:reports",
        "export:reports",
    ],
};

/// Bob, the viewer: read scopes only.
pub const BOB: TestUser = TestUser {
    username: "bob",
    password: "bob-glewlwyd-test",
    name: "Bob Viewer",
    email: "bob@example.com",
    api_scopes: &["read:invoices", "read:dashboard", "read:reports"],
};

/// Everyone the fixture creates.
pub const USERS: [TestUser; 2] = [ALICE, BOB];

/// The test user called `username`, if the fixture creates one.
pub fn user(username: &str) -> Option<TestUser> {
    USERS.into_iter().find(|u| u.username == username)
}
