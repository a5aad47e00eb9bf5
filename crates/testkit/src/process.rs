//! Child processes the harness owns. Each one runs as the leader of its own process group, so
//! stopping it also stops everything it started (tauri-driver → WebKitWebDriver → the app → the
//! scripted browser → a second app instance), also when a test fails or panics.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A helper process that could not be started, read or waited for.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// A helper process (Xvfb, dbus-daemon, gnome-keyring, tauri-driver, the app) did not start.
    #[error("could not start {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A file, pipe or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A condition did not hold within its time limit.
    #[error("timed out after {waited:?} waiting for {what} (last seen: not yet)")]
    Timeout { what: String, waited: Duration },
    /// A helper answered something the harness cannot use (no bus address, no free display).
    #[error("harness setup: {0}")]
    Setup(String),
}

impl ProcessError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ProcessError {
        let what = what.into();
        move |source| ProcessError::Io { what, source }
    }
}

/// A started process group; stopped (TERM, then KILL) on [`ProcessGroup::stop`] or drop.
#[derive(Debug)]
pub struct ProcessGroup {
    what: String,
    child: Option<Child>,
    pgid: i32,
    status: Option<std::process::ExitStatus>,
}

impl ProcessGroup {
    /// Start `cmd` as the leader of a new process group.
    pub fn spawn(what: &str, cmd: &mut Command) -> Result<ProcessGroup, ProcessError> {
        let child = cmd
            .process_group(0)
            .spawn()
            .map_err(|source| ProcessError::Spawn {
                what: what.to_owned(),
                source,
            })?;
        let pgid = i32::try_from(child.id())
            .map_err(|_| ProcessError::Setup(format!("{what}: pid out of range")))?;
        Ok(ProcessGroup {
            what: what.to_owned(),
            child: Some(child),
            pgid,
            status: None,
        })
    }

    /// The process id of the group leader.
    pub fn pid(&self) -> i32 {
        self.pgid
    }

    /// Write `bytes` to the leader's stdin (if piped) and close it.
    pub fn write_stdin(&mut self, bytes: &[u8]) -> Result<(), ProcessError> {
        use std::io::Write;
        if let Some(mut stdin) = self.child.as_mut().and_then(|c| c.stdin.take()) {
            stdin.write_all(bytes).map_err(ProcessError::io(format!(
                "write to the stdin of {}",
                self.what
            )))?;
        }
        Ok(())
    }

    /// The first line the leader prints on its (piped) stdout, without the newline. Blocks until
    /// it is printed; the rest of the output is left unread.
    pub fn read_stdout_line(&mut self) -> Result<String, ProcessError> {
        use std::io::BufRead;
        let stdout = self
            .child
            .as_mut()
            .and_then(|c| c.stdout.take())
            .ok_or_else(|| ProcessError::Setup(format!("{}: stdout is not piped", self.what)))?;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(ProcessError::io(format!(
                "read the output of {}",
                self.what
            )))?;
        Ok(line.trim().to_owned())
    }

    /// The leader's (piped) stdout, to read on a thread of the caller's own.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Whether the leader has exited (reaping it if so).
    pub fn has_exited(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => {
                self.status = Some(status);
                true
            }
            Some(Ok(None)) => false,
            Some(Err(_)) | None => true,
        }
    }

    /// Whether the leader exited with status 0 (false while it runs).
    pub fn exit_success(&mut self) -> bool {
        self.has_exited() && self.status.is_some_and(|s| s.success())
    }

    /// Ask the whole group to terminate, wait up to `grace` for it to go, then kill what is left.
    pub fn stop(&mut self, grace: Duration) {
        if self.child.is_none() {
            return;
        }
        signal_group(self.pgid, libc::SIGTERM);
        let gone = |me: &mut Self, limit: Duration| {
            let deadline = Instant::now() + limit;
            loop {
                me.reap();
                if group_members(me.pgid).is_empty() {
                    return true;
                }
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        if !gone(self, grace) {
            eprintln!("e2e: {} did not stop in {grace:?}; killing it", self.what);
            signal_group(self.pgid, libc::SIGKILL);
            gone(self, Duration::from_secs(2));
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL the whole group at once — no chance to clean up, as in a crash — and reap it.
    pub fn kill_now(&mut self) {
        signal_group(self.pgid, libc::SIGKILL);
        if let Some(mut child) = self.child.take() {
            if let Ok(status) = child.wait() {
                self.status = Some(status);
            }
        }
    }

    /// How the leader ended, once it has (`None` while it runs).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.reap();
        self.status
    }

    fn reap(&mut self) {
        let _ = self.has_exited();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals the process group we created; no memory is
        // shared with the callee.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Live (non-zombie) processes in a process group, read from /proc. Zombies are skipped: the
/// container's init may never reap orphans, and a zombie holds nothing.
pub fn group_members(pgid: i32) -> Vec<i32> {
    all_processes()
        .into_iter()
        .filter(|(_, stat)| stat.group == pgid && stat.state != 'Z')
        .map(|(pid, _)| pid)
        .collect()
}

/// `root` and all its descendants, from /proc (memory of an app with its WebKit processes).
pub fn process_tree(root: i32) -> Vec<i32> {
    let all = all_processes();
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            all.iter()
                .filter(|(_, s)| s.parent == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    out
}

struct Stat {
    state: char,
    group: i32,
    parent: i32,
}

fn all_processes() -> Vec<(i32, Stat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .collect()
}

/// State, parent and process group of a process from /proc/PID/stat.
fn proc_stat(pid: i32) -> Option<Stat> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    // The command name is in parentheses and may contain spaces; fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    Some(Stat {
        state,
        group,
        parent,
    })
}

/// Poll `ok` every 50 ms until it holds or `limit` passes (blocking; for process plumbing only).
pub fn wait_blocking(
    what: &str,
    limit: Duration,
    mut ok: impl FnMut() -> bool,
) -> Result<(), ProcessError> {
    let start = Instant::now();
    loop {
        if ok() {
            return Ok(());
        }
        if start.elapsed() >= limit {
            return Err(ProcessError::Timeout {
                what: what.to_owned(),
                waited: limit,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` distinct free TCP ports on 127.0.0.1 (bound together, then released for the caller).
pub fn free_ports(n: usize) -> Result<Vec<u16>, ProcessError> {
    let listeners = (0..n)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0").map_err(ProcessError::io("bind a free port"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(ProcessError::io("read a free port"))
        })
        .collect()
}
