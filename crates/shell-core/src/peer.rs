//! Whose program is on the other end of a loopback connection. Every local user can connect to
//! 127.0.0.1; the listeners that carry a sign-in (the browser handoff, the loopback redirect)
//! answer only programs of the user Portico runs as. Linux lists every IPv4 TCP socket with its
//! owner in `/proc/net/tcp`; elsewhere the owner is unknown and nobody is refused for it.

use std::net::{SocketAddr, SocketAddrV4};

/// Tells a connection from a program of our user from one of another user, for a listener at
/// `bound`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SameUser {
    bound: SocketAddr,
    /// `None` where it cannot be told.
    uid: Option<u32>,
}

impl SameUser {
    pub(crate) fn of(bound: SocketAddr) -> SameUser {
        SameUser {
            bound,
            uid: own_uid(),
        }
    }

    /// Whether `peer` is known to belong to another user. Unknown owners are not: refusing the
    /// person's own browser would be worse than what the check prevents.
    pub(crate) fn is_other(&self, peer: SocketAddr) -> bool {
        matches!((self.uid, peer_uid(peer, self.bound)), (Some(ours), Some(theirs)) if ours != theirs)
    }
}

/// The user this process runs as: the owner of `/proc/self`.
pub(crate) fn own_uid() -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").ok().map(|m| m.uid())
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Who owns the socket that connected from `peer` to us at `ours`: Linux lists every IPv4 TCP
/// socket in `/proc/net/tcp` (`local_address rem_address … uid`, addresses as `%08X:%04X` of
/// the address in host byte order and the port). `None` if it is not there or not Linux.
pub(crate) fn peer_uid(peer: SocketAddr, ours: SocketAddr) -> Option<u32> {
    let (SocketAddr::V4(peer), SocketAddr::V4(ours)) = (peer, ours) else {
        return None;
    };
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    socket_owner(&table, peer, ours)
}

fn socket_owner(table: &str, local: SocketAddrV4, remote: SocketAddrV4) -> Option<u32> {
    let key = |a: SocketAddrV4| {
        format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(a.ip().octets()),
            a.port()
        )
    };
    let (local, remote) = (key(local), key(remote));
    // The header line never matches: its columns are names, not addresses.
    // Read on every request to a sign-in listener: walk each line's columns without collecting
    // them (`sl local rem st tx:rx tr:when retrnsmt uid`).
    table.lines().find_map(|line| {
        let mut cols = line.split_whitespace();
        if cols.nth(1) == Some(local.as_str()) && cols.next() == Some(remote.as_str()) {
            cols.nth(4).and_then(|uid| uid.parse().ok())
        } else {
            None
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A raw HTTP GET of `path` on 127.0.0.1:`port` made by user `nobody` (65534); its answer.
    /// Switching user takes root: `setpriv` as root (CI), else through `sudo -n` (no prompt).
    /// Without either the test fails, saying so: it cannot check anything as our own user.
    pub(crate) fn get_as_nobody(port: u16, path: &str) -> String {
        let request = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port}; \
             printf 'GET {path} HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' >&3; \
             cat <&3"
        );
        let as_nobody = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        let mut cmd = if own_uid() == Some(0) {
            std::process::Command::new(as_nobody[0])
        } else {
            let mut sudo = std::process::Command::new("sudo");
            sudo.args(["-n", as_nobody[0]]);
            sudo
        };
        let needs = "this test acts as user nobody, which needs root or sudo without a password \
                     (CI runs as root)";
        let out = cmd
            .args(&as_nobody[1..])
            .args(["bash", "-c", &request])
            .output()
            .unwrap_or_else(|e| panic!("{needs}: {e}"));
        assert!(
            out.status.success(),
            "{needs}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn the_socket_table_names_the_owner_of_exactly_that_connection() {
        // Two lines of a real /proc/net/tcp (x86-64, little-endian): 127.0.0.1:54321 → :8080.
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                     \x20  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
                     \x20  1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 20 4 30 10 -1\n";
        let a = |s: &str| s.parse::<SocketAddrV4>().unwrap();
        assert_eq!(
            socket_owner(table, a("127.0.0.1:54321"), a("127.0.0.1:8080")),
            Some(1000)
        );
        assert_eq!(
            socket_owner(table, a("127.0.0.1:54322"), a("127.0.0.1:8080")),
            None
        );
        assert_eq!(
            socket_owner(table, a("127.0.0.1:8080"), a("127.0.0.1:54321")),
            None
        );
        assert_eq!(
            socket_owner("garbage", a("127.0.0.1:1"), a("127.0.0.1:2")),
            None
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn our_own_connection_is_found_as_ours() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ours = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(ours).await.unwrap();
        let (_server_side, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(own_uid().is_some());
        assert_eq!(peer_uid(peer, ours), own_uid());
    }
}
