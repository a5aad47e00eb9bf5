//! Crash safety with a real crash (issue 6): a broker process on the real Secret Service is
//! killed with SIGKILL right after a refresh-token rotation response arrived — once before the
//! rotated token reached the keyring, once just after. A new process on the same keyring then
//! has a working session, or a clean `login_required` with the dead token gone: never a dead
//! refresh token silently kept.
//!
//! The probe binary (`src/bin/portico-crash-probe.rs`) is the broker process; this test is its
//! parent, with the development provider in-process and a private D-Bus session + keyring.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use portico_dev_idp::{DevIdp, IdpConfig};
use portico_testkit::desktop::Desktop;
use portico_testkit::process::ProcessGroup;
use serde_json::{json, Value};

const PROBE: &str = env!("CARGO_BIN_EXE_portico-crash-probe");
const SERVICE: &str = "dev.portico.crash-test";
const ACCOUNT: &str = "session";
/// Generous: a cold gnome-keyring and the first TLS-free HTTP round trips on a loaded machine.
const STEP_LIMIT: Duration = Duration::from_secs(60);

struct Rig {
    idp: DevIdp,
    desktop: Desktop,
    _dir: TempDir,
}

/// A directory removed on drop (the session's keyring lives in it).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn rig(name: &str) -> Rig {
    let dir = std::env::temp_dir().join(format!("portico-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let desktop = Desktop::start(&dir).expect("private D-Bus session and keyring");
    let idp = DevIdp::start(IdpConfig::portico_demo())
        .await
        .expect("dev-idp starts");
    Rig {
        idp,
        desktop,
        _dir: TempDir(dir),
    }
}

impl Rig {
    /// Starts the probe for `step`; returns it with the first JSON line it printed (or `null`
    /// if it printed nothing before exiting).
    async fn probe(&self, step: &str) -> (ProcessGroup, Value) {
        let mut cmd = Command::new(PROBE);
        cmd.args([self.idp.issuer().as_str(), SERVICE, ACCOUNT, step])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        self.desktop.apply(&mut cmd);
        let mut group =
            ProcessGroup::spawn(&format!("crash probe {step}"), &mut cmd).expect("start the probe");
        // Read the line on a thread: the dev-idp answering the probe runs on this runtime.
        let stdout = group_stdout(&mut group);
        let line = tokio::task::spawn_blocking(move || stdout.recv_timeout(STEP_LIMIT))
            .await
            .expect("reader thread")
            .unwrap_or_else(|_| panic!("probe {step} printed nothing within {STEP_LIMIT:?}"));
        let value = if line.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("probe said `{line}`: {e}"))
        };
        (group, value)
    }

    /// Runs a step that must finish on its own and succeed.
    async fn complete(&self, step: &str) -> Value {
        let (mut group, value) = self.probe(step).await;
        let status = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + STEP_LIMIT;
            loop {
                if let Some(status) = group.exit_status() {
                    return Some(status);
                }
                if std::time::Instant::now() >= deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .expect("waiter thread");
        assert!(
            status.is_some_and(|s| s.success()),
            "probe {step} ended with {status:?} after printing {value}"
        );
        value
    }
}

/// The probe's first stdout line (empty if it exits first), delivered on a channel.
fn group_stdout(group: &mut ProcessGroup) -> mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = mpsc::channel();
    let stdout = group.take_stdout().expect("the probe's stdout is piped");
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line.trim().to_owned());
    });
    rx
}

/// A figure for `cargo xtask reliability` (same format as the broker's suites).
fn record(case: &str, expected: &str, outcome: &str, extra: Value) {
    portico_testkit::figures::record("crash_safety", case, expected, outcome, extra);
}

/// Sign in, then restore the session in a process that is SIGKILLed at `step`'s hang point.
async fn sign_in_then_kill(rig: &Rig, step: &str, announced: &str) {
    let signed_in = rig.complete("sign-in").await;
    assert_eq!(signed_in["step"], "signed_in");
    let before = rig.idp.admin().counters();
    let (mut probe, said) = rig.probe(step).await;
    assert_eq!(said["step"], announced, "{said}");
    probe.kill_now();
    let status = probe.exit_status().expect("the probe is gone");
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "killed, not exited");
    }
    let after = rig.idp.admin().counters();
    assert_eq!(
        after.token_refresh,
        before.token_refresh + 1,
        "exactly one refresh grant (the rotation) happened before the kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_before_the_rotated_token_is_stored_restarts_to_a_clean_login_required() {
    let rig = rig("before").await;
    sign_in_then_kill(&rig, "rotate-then-hang-before-store", "rotation_received").await;
    let restarted = rig.complete("restart").await;
    let c = rig.idp.admin().counters();
    record(
        "SIGKILL after the rotation response, before the keyring write (real process, real keyring)",
        "login_required",
        restarted["silent_login"].as_str().unwrap_or("?"),
        json!({ "reuse_detections": c.reuse_detections,
                "session_stored_after_restart": restarted["session_stored"] }),
    );
    // The keyring still held the pre-rotation token; presenting it is reuse, the provider kills
    // the family, and the broker drops the dead token instead of keeping it.
    assert_eq!(restarted["silent_login"], "login_required", "{restarted}");
    assert_eq!(restarted["billing_token"], "login_required", "{restarted}");
    assert_eq!(restarted["session_stored"], false, "dead token removed");
    assert_eq!(c.reuse_detections, 1);
    // And the way back is an ordinary sign-in.
    rig.complete("sign-in").await;
    let again = rig.complete("restart").await;
    assert_eq!(again["billing_token"], "ok", "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_the_rotated_token_is_stored_restarts_signed_in() {
    let rig = rig("after").await;
    sign_in_then_kill(&rig, "rotate-then-hang-after-store", "rotation_stored").await;
    let restarted = rig.complete("restart").await;
    let c = rig.idp.admin().counters();
    record(
        "SIGKILL after the rotation response, after the keyring write (real process, real keyring)",
        "ok",
        restarted["silent_login"].as_str().unwrap_or("?"),
        json!({ "reuse_detections": c.reuse_detections }),
    );
    assert_eq!(restarted["silent_login"], "ok", "{restarted}");
    assert_eq!(restarted["billing_token"], "ok", "{restarted}");
    assert_eq!(restarted["session_stored"], true);
    assert_eq!(c.reuse_detections, 0, "the stored token was the live one");
}
