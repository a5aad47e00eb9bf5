//! Files and process: the database from the packaged schema, the configuration file, the
//! signing key, a free port, start-up and shutdown.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::Rng as _;
use url::Url;

use super::admin::{ADMIN_PASSWORD, ADMIN_USERNAME};
use super::{io_err, parse_url, GlewlwydError};

/// The binary the Debian package installs.
pub(super) const GLEWLWYD_BIN: &str = "/usr/bin/glewlwyd";
/// Where the package puts its modules (`user`, `client`, `scheme`, `plugin`).
const MODULE_DIR: &str = "/usr/lib/glewlwyd";
/// The SQLite schema the package's own installer (dbconfig-common) runs.
const SQLITE_SCHEMA: &str = "/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3";

const LOG_FILE: &str = "glewlwyd.log";
const CONSOLE_FILE: &str = "console.log";
const DB_FILE: &str = "glewlwyd.db";
const CONFIG_FILE: &str = "glewlwyd.conf";
/// How often start-up retries with another port if the process dies at once (a port race).
const START_ATTEMPTS: usize = 3;

/// The RS256 key pair the OIDC plugin signs with, PEM encoded.
#[derive(Clone)]
pub(super) struct SigningKey {
    pub(super) private_pem: String,
    pub(super) public_pem: String,
}

pub(super) struct Files {
    pub(super) dir: PathBuf,
    pub(super) signing_key: SigningKey,
    /// The session cookie's name, unique to this instance: how start-up tells its own Glewlwyd
    /// from whatever else might answer on a port it lost in a race.
    pub(super) session_key: String,
}

pub(super) struct Started {
    pub(super) child: Child,
    pub(super) base_url: Url,
}

pub(super) fn check_installed() -> Result<(), GlewlwydError> {
    for path in [
        PathBuf::from(GLEWLWYD_BIN),
        Path::new(MODULE_DIR).join("plugin/libprotocol_oidc.so"),
        Path::new(MODULE_DIR).join("user/libusermoddatabase.so"),
        Path::new(MODULE_DIR).join("client/libclientmoddatabase.so"),
        PathBuf::from(SQLITE_SCHEMA),
    ] {
        if !path.exists() {
            return Err(GlewlwydError::NotInstalled { path });
        }
    }
    Ok(())
}

/// Where instance directories go: `$TMPDIR` when set, else `/dev/shm` when usable (SQLite and
/// Glewlwyd commit every write with fsync; on tmpfs that costs nothing, on a busy disk it turns
/// a one-second start into several), else the system's temporary directory.
fn temp_root() -> PathBuf {
    if std::env::var_os("TMPDIR").is_none() {
        let shm = Path::new("/dev/shm");
        if std::fs::metadata(shm).is_ok_and(|m| m.is_dir() && !m.permissions().readonly()) {
            return shm.to_path_buf();
        }
    }
    std::env::temp_dir()
}

/// A fresh private directory with the database, and the signing key (generated once per process).
pub(super) fn prepare_files() -> Result<Files, GlewlwydError> {
    let nonce: u64 = rand::thread_rng().gen();
    let dir = temp_root().join(format!(
        "portico-glewlwyd-{}-{nonce:016x}",
        std::process::id()
    ));
    let session_key = format!("PORTICO_GLEWLWYD_{nonce:016X}");
    std::fs::create_dir(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let prepared = create_database(&dir).and_then(|()| signing_key());
    match prepared {
        Ok(signing_key) => Ok(Files {
            dir,
            signing_key,
            session_key,
        }),
        Err(e) => {
            remove_dir(&dir);
            Err(e)
        }
    }
}

/// `sqlite3 -bail <dir>/glewlwyd.db < <packaged schema>`: the admin user (`admin`/`password`),
/// the `g_admin`, `g_profile` and `openid` scopes, and the database user and client backends.
/// The schema is ~150 statements, each its own transaction; without fsync it takes milliseconds.
fn create_database(dir: &Path) -> Result<(), GlewlwydError> {
    let schema = File::open(SQLITE_SCHEMA).map_err(io_err(format!("opening {SQLITE_SCHEMA}")))?;
    let output = Command::new("sqlite3")
        .arg("-bail")
        .args([
            "-cmd",
            "PRAGMA synchronous=OFF",
            "-cmd",
            "PRAGMA journal_mode=MEMORY",
        ])
        .arg(dir.join(DB_FILE))
        .stdin(Stdio::from(schema))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => GlewlwydError::ToolMissing {
                program: "sqlite3",
                package: "sqlite3",
                source,
            },
            _ => GlewlwydError::Io {
                context: "running sqlite3".into(),
                source,
            },
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(GlewlwydError::Database {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

fn signing_key() -> Result<SigningKey, GlewlwydError> {
    static KEY: OnceLock<Result<SigningKey, String>> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
        let private =
            rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
        let private_pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        let public_pem = rsa::RsaPublicKey::from(&private)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        Ok(SigningKey {
            private_pem: private_pem.to_string(),
            public_pem,
        })
    })
    .clone()
    .map_err(GlewlwydError::SigningKey)
}

/// A port nobody listens on right now (the OS picks it; it may be taken again before use, which
/// [`spawn_ready`] survives by retrying).
pub(super) fn free_port() -> Result<u16, GlewlwydError> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).map_err(io_err("finding a free port on 127.0.0.1"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("finding a free port on 127.0.0.1"))?
        .port();
    Ok(port)
}

/// libconfig string literal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn config_text(dir: &Path, port: u16, session_key: &str) -> String {
    let path = |name: &str| quoted(&dir.join(name).to_string_lossy());
    format!(
        r#"# Written by portico-testkit for one test run.
port={port}
bind_address="127.0.0.1"
external_url="http://127.0.0.1:{port}"
login_url="login.html"
api_prefix="api"
allow_origin="*"
log_mode="file"
log_level="DEBUG"
log_file={log}
cookie_secure=0
cookie_same_site="empty"
session_expiration=2419200
session_key={session_key}
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
plugin_api_run_enabled=""
add_x_frame_option_header_deny=true
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="{modules}/user"
client_module_path="{modules}/client"
user_auth_scheme_module_path="{modules}/scheme"
plugin_module_path="{modules}/plugin"
hash_algorithm="SHA512"
database =
{{
  type = "sqlite3"
  path = {db}
}};
"#,
        session_key = quoted(session_key),
        log = path(LOG_FILE),
        db = path(DB_FILE),
        modules = MODULE_DIR,
    )
}

/// Start Glewlwyd on a free port and wait until it lets the admin log in with this instance's
/// session cookie. A process that dies at once (typically: the port was taken between
/// [`free_port`] and its bind) is retried on another port.
pub(super) async fn spawn_ready(
    files: &Files,
    timeout: Duration,
) -> Result<Started, GlewlwydError> {
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(super::http_err("building an HTTP client"))?;
    let mut last_error = None;
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let config = files.dir.join(CONFIG_FILE);
        std::fs::write(&config, config_text(&files.dir, port, &files.session_key))
            .map_err(io_err(format!("writing {}", config.display())))?;
        let console = File::create(files.dir.join(CONSOLE_FILE))
            .map_err(io_err("creating the console log"))?;
        let console_err = console
            .try_clone()
            .map_err(io_err("creating the console log"))?;
        let mut child = Command::new(GLEWLWYD_BIN)
            .arg("-c")
            .arg(&config)
            .current_dir(&files.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(console))
            .stderr(Stdio::from(console_err))
            .spawn()
            .map_err(io_err(format!("starting {GLEWLWYD_BIN}")))?;
        let base_url = parse_url(&format!("http://127.0.0.1:{port}/"))?;
        let probe_url = format!("{base_url}api/auth/");
        let began = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    last_error = Some(GlewlwydError::Exited {
                        status: status.to_string(),
                        log_tail: log_tail(&files.dir),
                    });
                    break;
                }
                Ok(None) => {}
                Err(source) => {
                    stop(Some(child));
                    return Err(GlewlwydError::Io {
                        context: "watching the Glewlwyd process".into(),
                        source,
                    });
                }
            }
            if answers_as(&probe, &probe_url, &files.session_key).await {
                return Ok(Started { child, base_url });
            }
            if began.elapsed() > timeout {
                stop(Some(child));
                return Err(GlewlwydError::StartTimeout {
                    url: probe_url,
                    waited: timeout,
                    log_tail: log_tail(&files.dir),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    Err(last_error.unwrap_or_else(|| GlewlwydError::Protocol {
        context: "starting Glewlwyd".into(),
        detail: "no attempt was made".into(),
    }))
}

/// Whether the admin login at `url` succeeds and opens a session named `session_key`.
async fn answers_as(probe: &reqwest::Client, url: &str, session_key: &str) -> bool {
    let credentials = serde_json::json!({"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD});
    match probe.post(url).json(&credentials).send().await {
        Ok(response) => {
            response.status().is_success() && response.cookies().any(|c| c.name() == session_key)
        }
        Err(_) => false,
    }
}

pub(super) fn log_path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

/// The console output and the last 40 lines of the log file.
pub(super) fn log_tail(dir: &Path) -> String {
    let console = std::fs::read_to_string(dir.join(CONSOLE_FILE)).unwrap_or_default();
    let log = tail_lines(&dir.join(LOG_FILE), 40);
    let mut out = String::new();
    if !console.trim().is_empty() {
        out.push_str("[console]\n");
        out.push_str(console.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("[{LOG_FILE}]\n"));
    out.push_str(if log.is_empty() { "(empty)" } else { &log });
    out
}

fn tail_lines(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 16 * 1024;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Kill and reap.
pub(super) fn stop(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}

pub(super) fn remove_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libconfig_strings_are_escaped() {
        assert_eq!(quoted(r#"/tmp/a "b"\c"#), r#""/tmp/a \"b\"\\c""#);
    }

    #[test]
    fn config_names_port_paths_and_modules() {
        let text = config_text(Path::new("/x/y"), 4242, "K_1");
        assert!(text.contains("session_key=\"K_1\"\n"));
        assert!(text.contains("port=4242\n"));
        assert!(text.contains("external_url=\"http://127.0.0.1:4242\"\n"));
        assert!(text.contains("bind_address=\"127.0.0.1\"\n"));
        assert!(text.contains("path = \"/x/y/glewlwyd.db\""));
        assert!(text.contains("plugin_module_path=\"/usr/lib/glewlwyd/plugin\""));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("portico-testkit-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let lines: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        std::fs::write(dir.join(LOG_FILE), lines.join("\n"))?;
        std::fs::write(dir.join(CONSOLE_FILE), "Error parsing config file\n")?;
        let tail = log_tail(&dir);
        remove_dir(&dir);
        assert!(
            tail.starts_with("[console]\nError parsing config file\n[glewlwyd.log]\nline 60\n"),
            "{tail}"
        );
        assert!(tail.ends_with("line 99"), "{tail}");
        Ok(())
    }
}
