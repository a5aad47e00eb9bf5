//! A real Glewlwyd 2.7 OpenID Provider on 127.0.0.1 for tests.
//!
//! [`Glewlwyd::start`] checks that the Debian package is installed, creates a private temporary
//! directory with an SQLite database built from the schema the package ships
//! (`/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3`, run through `sqlite3`), writes a
//! configuration file, starts `/usr/bin/glewlwyd` on a free loopback port and then configures
//! everything through the admin REST API, logged in as the `admin` user the schema creates:
//!
//! - the OpenID Connect plugin instance [`PLUGIN_NAME`]: RS256 with a key generated here, JWT
//!   access tokens (`typ: at+jwt`), refresh tokens, PKCE S256 (required for public clients),
//!   RFC 8707 resource indicators bound per scope ([`API_SCOPES`]), revocation/introspection,
//!   session management (end-session endpoint), the RFC 9207 `iss` authorization-response
//!   parameter, the access-token lifetime and refresh-token rotation from [`GlewlwydOptions`];
//! - the public native client [`CLIENT_ID`] (`code`, `refresh_token` and Glewlwyd's own
//!   `delete_token`), with the redirect URIs from the options;
//! - the scopes `profile`, `email`, `offline_access` and the five API scopes;
//! - the people [`ALICE`] and [`BOB`].
//!
//! A person signs in through the same REST calls Glewlwyd's login web app makes
//! ([`Glewlwyd::sign_in`], [`sign_in_at`], [`Browser`]); nothing reaches into the database.
//! [`Drop`] kills the process and removes the directory.

mod admin;
mod browser;
mod catalog;
mod setup;

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use sha2::Digest as _;
use url::Url;

pub use browser::{sign_in_at, Browser, EndSession};
pub use catalog::{
    user, TestUser, ALICE, ANALYTICS, API_SCOPES, BILLING, BOB, CLIENT_ID, CORE,
    CUSTOM_SCHEME_POST_LOGOUT_URI, CUSTOM_SCHEME_REDIRECT_URI, OIDC_SCOPES, PLUGIN_NAME, USERS,
};

/// How to set up the provider.
#[derive(Clone, Debug)]
pub struct GlewlwydOptions {
    /// `access-token-duration`; also the ID token's lifetime (Glewlwyd uses one value for both).
    pub access_token_lifetime: Duration,
    /// One-time-use refresh tokens (`refresh-token-one-use: always`): every refresh returns a new
    /// refresh token and disables the old one; replaying an old one disables the chain.
    pub refresh_token_rotation: bool,
    /// The private-use-scheme redirect URI to register (`None` registers none).
    pub custom_scheme_redirect_uri: Option<String>,
    /// Port of the loopback redirect URI `http://127.0.0.1:<port>/callback`. Glewlwyd compares
    /// redirect URIs as exact strings, so the port must be the one the client will use; `None`
    /// picks a free port at start ([`Glewlwyd::loopback_redirect_uri`] tells which).
    pub loopback_redirect_port: Option<u16>,
    /// Further redirect URIs to register as they are.
    pub extra_redirect_uris: Vec<String>,
    /// `post_logout_redirect_uris` of the client; `None` registers
    /// [`CUSTOM_SCHEME_POST_LOGOUT_URI`] and `http://127.0.0.1:<loopback port>/signed-out`.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// How long to wait for the process to answer.
    pub startup_timeout: Duration,
}

impl Default for GlewlwydOptions {
    fn default() -> Self {
        Self {
            access_token_lifetime: Duration::from_secs(300),
            refresh_token_rotation: false,
            custom_scheme_redirect_uri: Some(CUSTOM_SCHEME_REDIRECT_URI.to_string()),
            loopback_redirect_port: None,
            extra_redirect_uris: Vec::new(),
            post_logout_redirect_uris: None,
            startup_timeout: Duration::from_secs(20),
        }
    }
}

/// Everything that can go wrong, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum GlewlwydError {
    #[error(
        "Glewlwyd is not installed: {path} is missing (install it with `apt-get install glewlwyd`)"
    )]
    NotInstalled { path: PathBuf },
    #[error(
        "`{program}` could not be run ({source}); install it with `apt-get install {package}`"
    )]
    ToolMissing {
        program: &'static str,
        package: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("creating the Glewlwyd database with sqlite3 failed ({status}): {stderr}")]
    Database { status: String, stderr: String },
    #[error("generating the RSA signing key failed: {0}")]
    SigningKey(String),
    #[error("Glewlwyd exited during start-up ({status}); last log lines:\n{log_tail}")]
    Exited { status: String, log_tail: String },
    #[error("Glewlwyd did not answer on {url} within {waited:?}; last log lines:\n{log_tail}")]
    StartTimeout {
        url: String,
        waited: Duration,
        log_tail: String,
    },
    #[error(
        "configuring Glewlwyd through its admin API failed: {source}\nlast log lines:\n{log_tail}"
    )]
    Configure {
        #[source]
        source: Box<GlewlwydError>,
        log_tail: String,
    },
    #[error("{context}: {source}")]
    Http {
        context: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{context}: unexpected HTTP {status}: {body:?}")]
    Status {
        context: String,
        status: u16,
        body: String,
    },
    #[error("{context}: {detail}")]
    Protocol { context: String, detail: String },
    #[error("invalid URL {url:?}: {source}")]
    Url {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("no password is known for user {0:?} (the fixture creates alice and bob)")]
    UnknownUser(String),
}

/// A refresh token as `GET /api/<plugin>/token` lists it for a user.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct RefreshTokenInfo {
    /// `{SHA512}` + base64url(SHA-512(token)); see [`refresh_token_hash`].
    pub token_hash: String,
    /// `code`, `password`, ...
    pub authorization_type: String,
    pub client_id: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub last_seen: i64,
    pub rolling_expiration: bool,
    pub issued_for: Option<String>,
    pub user_agent: Option<String>,
    pub enabled: bool,
}

impl RefreshTokenInfo {
    /// Whether this entry describes `refresh_token`.
    pub fn is_for(&self, refresh_token: &str) -> bool {
        self.token_hash == refresh_token_hash(refresh_token)
    }
}

/// How Glewlwyd names a refresh token in its lists, with the fixture's `hash_algorithm = "SHA512"`.
pub fn refresh_token_hash(refresh_token: &str) -> String {
    let digest = sha2::Sha512::digest(refresh_token.as_bytes());
    format!(
        "{{SHA512}}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// A running, configured Glewlwyd. Dropping it stops the process and removes its files.
pub struct Glewlwyd {
    child: Option<Child>,
    dir: PathBuf,
    base_url: Url,
    issuer: Url,
    discovery: serde_json::Value,
    loopback_redirect_uri: Url,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    options: GlewlwydOptions,
    admin: admin::Admin,
    startup: Duration,
}

impl Glewlwyd {
    /// Start and configure a fresh instance: about 0.15 s with the instance directory on tmpfs
    /// (`/dev/shm`, the default), about 1 s on a disk, plus ~0.2 s once per process for the key.
    /// Needs a Tokio runtime.
    pub async fn start(options: GlewlwydOptions) -> Result<Glewlwyd, GlewlwydError> {
        let began = Instant::now();
        setup::check_installed()?;
        let files = tokio::task::spawn_blocking(setup::prepare_files)
            .await
            .map_err(|e| GlewlwydError::Protocol {
                context: "preparing Glewlwyd's files".into(),
                detail: e.to_string(),
            })??;
        let dir = files.dir.clone();
        // From here on the directory exists; a failure must remove it (and stop the process).
        let mut guard = StartGuard {
            dir: Some(dir.clone()),
            child: None,
        };
        let started = setup::spawn_ready(&files, options.startup_timeout).await?;
        guard.child = Some(started.child);
        let base_url = started.base_url;

        let loopback_port = match options.loopback_redirect_port {
            Some(p) => p,
            None => setup::free_port()?,
        };
        let loopback_redirect_uri =
            parse_url(&format!("http://127.0.0.1:{loopback_port}/callback"))?;
        let mut redirect_uris: Vec<String> = Vec::new();
        redirect_uris.extend(options.custom_scheme_redirect_uri.clone());
        redirect_uris.push(loopback_redirect_uri.to_string());
        redirect_uris.extend(options.extra_redirect_uris.iter().cloned());
        let post_logout_redirect_uris =
            options
                .post_logout_redirect_uris
                .clone()
                .unwrap_or_else(|| {
                    vec![
                        CUSTOM_SCHEME_POST_LOGOUT_URI.to_string(),
                        format!("http://127.0.0.1:{loopback_port}/signed-out"),
                    ]
                });
        let issuer = parse_url(&format!("{}api/{PLUGIN_NAME}", base_url))?;

        let plan = admin::Plan {
            issuer: issuer.as_str(),
            signing_key: &files.signing_key,
            access_token_lifetime: options.access_token_lifetime,
            refresh_token_rotation: options.refresh_token_rotation,
            redirect_uris: &redirect_uris,
            post_logout_redirect_uris: &post_logout_redirect_uris,
        };
        let configured = async {
            let admin = admin::Admin::login(&base_url).await?;
            admin.configure(&plan).await?;
            let discovery = admin::fetch_discovery(&issuer).await?;
            Ok::<_, GlewlwydError>((admin, discovery))
        }
        .await;
        let (admin, discovery) = configured.map_err(|e| GlewlwydError::Configure {
            source: Box::new(e),
            log_tail: setup::log_tail(&dir),
        })?;
        if discovery.get("issuer").and_then(|v| v.as_str()) != Some(issuer.as_str()) {
            return Err(GlewlwydError::Protocol {
                context: "reading Glewlwyd's discovery document".into(),
                detail: format!(
                    "issuer is {:?}, expected {:?}",
                    discovery.get("issuer"),
                    issuer.as_str()
                ),
            });
        }

        let child = guard.child.take();
        guard.dir = None;
        Ok(Glewlwyd {
            child,
            dir,
            base_url,
            issuer,
            discovery,
            loopback_redirect_uri,
            redirect_uris,
            post_logout_redirect_uris,
            options,
            admin,
            startup: began.elapsed(),
        })
    }

    /// The issuer, exactly as discovery states it: `http://127.0.0.1:<port>/api/oidc`.
    pub fn issuer(&self) -> &Url {
        &self.issuer
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> Url {
        self.issuer_join(".well-known/openid-configuration")
    }

    /// The discovery document as fetched at start.
    pub fn discovery(&self) -> &serde_json::Value {
        &self.discovery
    }

    /// The client Portico uses: [`CLIENT_ID`].
    pub fn client_id(&self) -> &str {
        CLIENT_ID
    }

    /// `http://127.0.0.1:<port>/`, where Glewlwyd listens.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub fn authorization_endpoint(&self) -> Url {
        self.issuer_join("auth")
    }

    pub fn token_endpoint(&self) -> Url {
        self.issuer_join("token")
    }

    pub fn jwks_uri(&self) -> Url {
        self.issuer_join("jwks")
    }

    /// RFC 7009 endpoint. Note that it refuses public clients (see the crate's tests).
    pub fn revocation_endpoint(&self) -> Url {
        self.issuer_join("revoke")
    }

    pub fn introspection_endpoint(&self) -> Url {
        self.issuer_join("introspect")
    }

    pub fn userinfo_endpoint(&self) -> Url {
        self.issuer_join("userinfo")
    }

    pub fn end_session_endpoint(&self) -> Url {
        self.issuer_join("end_session")
    }

    /// The registered loopback redirect URI, `http://127.0.0.1:<port>/callback`.
    pub fn loopback_redirect_uri(&self) -> &Url {
        &self.loopback_redirect_uri
    }

    /// Every redirect URI registered for [`CLIENT_ID`].
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// Every post-logout redirect URI registered for [`CLIENT_ID`].
    pub fn post_logout_redirect_uris(&self) -> &[String] {
        &self.post_logout_redirect_uris
    }

    pub fn options(&self) -> &GlewlwydOptions {
        &self.options
    }

    /// How long [`Glewlwyd::start`] took.
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// Glewlwyd's log file (DEBUG level).
    pub fn log_path(&self) -> PathBuf {
        setup::log_path(&self.dir)
    }

    /// The last lines of Glewlwyd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        setup::log_tail(&self.dir)
    }

    /// A person's sign-in as Glewlwyd's login web app does it, for [`ALICE`] or [`BOB`]; returns
    /// the redirect to the client (with `code`, `state`, `iss`, or an `error`), never following it.
    pub async fn sign_in(
        &self,
        authorize_url: &str,
        username: &str,
    ) -> Result<String, GlewlwydError> {
        let person =
            user(username).ok_or_else(|| GlewlwydError::UnknownUser(username.to_string()))?;
        sign_in_at(authorize_url, person.username, person.password).await
    }

    /// The user's refresh tokens, enabled or not, as Glewlwyd lists them (`GET /api/oidc/token`
    /// with the admin session impersonating the user).
    pub async fn refresh_tokens(
        &self,
        username: &str,
    ) -> Result<Vec<RefreshTokenInfo>, GlewlwydError> {
        self.admin.refresh_tokens(username).await
    }

    fn issuer_join(&self, rest: &str) -> Url {
        let mut url = self.issuer.clone();
        url.set_path(&format!(
            "{}/{rest}",
            self.issuer.path().trim_end_matches('/')
        ));
        url
    }
}

impl Drop for Glewlwyd {
    fn drop(&mut self) {
        setup::stop(self.child.take());
        setup::remove_dir(&self.dir);
    }
}

/// Cleans up after a failed start.
struct StartGuard {
    dir: Option<PathBuf>,
    child: Option<Child>,
}

impl Drop for StartGuard {
    fn drop(&mut self) {
        setup::stop(self.child.take());
        if let Some(dir) = self.dir.take() {
            setup::remove_dir(&dir);
        }
    }
}

fn parse_url(s: &str) -> Result<Url, GlewlwydError> {
    Url::parse(s).map_err(|source| GlewlwydError::Url {
        url: s.to_string(),
        source,
    })
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> GlewlwydError {
    let context = context.into();
    move |source| GlewlwydError::Io { context, source }
}

fn http_err(context: impl Into<String>) -> impl FnOnce(reqwest::Error) -> GlewlwydError {
    let context = context.into();
    move |source| GlewlwydError::Http { context, source }
}

/// Turn a non-success response into [`GlewlwydError::Status`].
async fn expect_success(
    response: reqwest::Response,
    context: &str,
) -> Result<reqwest::Response, GlewlwydError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Err(GlewlwydError::Status {
        context: context.to_string(),
        status,
        body,
    })
}
