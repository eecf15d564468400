//! A private etcd cluster for tests (the Debian `etcd` binary): members on loopback ports
//! unique to the cluster, data in a temporary directory, every member killed on drop. Tests
//! only; not used by lqos itself.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The etcd binary (`ETCD_BIN` overrides; Debian's `etcd-server` installs /usr/bin/etcd).
pub fn etcd_binary() -> PathBuf {
    std::env::var_os("ETCD_BIN").map_or_else(|| PathBuf::from("etcd"), PathBuf::from)
}

struct Member {
    name: String,
    client_port: u16,
    child: Option<Child>,
}

/// A running etcd cluster.
pub struct EtcdCluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
    initial: String,
    peer_ports: Vec<u16>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl EtcdCluster {
    /// Starts `n` members and waits (at most 30 s) until every one answers.
    pub fn start(n: usize) -> std::io::Result<EtcdCluster> {
        let dir = tempfile::Builder::new().prefix("lqos-etcd").tempdir()?;
        let mut members = Vec::new();
        let mut peer_ports = Vec::new();
        for i in 0..n {
            members.push(Member {
                name: format!("m{i}"),
                client_port: free_port()?,
                child: None,
            });
            peer_ports.push(free_port()?);
        }
        let initial = members
            .iter()
            .zip(&peer_ports)
            .map(|(m, p)| format!("{}=http://127.0.0.1:{p}", m.name))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = EtcdCluster {
            dir,
            members,
            initial,
            peer_ports,
        };
        for i in 0..n {
            cluster.spawn(i)?;
        }
        cluster.wait_healthy(Duration::from_secs(30))?;
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> std::io::Result<()> {
        let m = &self.members[i];
        let data = self.dir.path().join(&m.name);
        let log = std::fs::File::create(self.dir.path().join(format!("{}.log", m.name)))?;
        let client = format!("http://127.0.0.1:{}", m.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_ports[i]);
        let child = Command::new(etcd_binary())
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &self.initial])
            .args(["--initial-cluster-state", "new"])
            .args([
                "--initial-cluster-token",
                &format!("lqos-{}", std::process::id()),
            ])
            // Fast elections: the minimum lease TTL becomes 1 s (1.5 election timeouts).
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .args([
                "--auto-compaction-mode",
                "revision",
                "--auto-compaction-retention",
                "1000",
            ])
            .args([
                "--logger",
                "zap",
                "--log-outputs",
                "stderr",
                "--log-level",
                "warn",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot start {} (install etcd-server): {e}",
                        etcd_binary().display()
                    ),
                )
            })?;
        self.members[i].child = Some(child);
        Ok(())
    }

    /// Client URLs of every member (running or not).
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect()
    }

    /// Where the members' logs are.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pid(&self, i: usize) -> Option<i32> {
        self.members[i].child.as_ref().map(|c| c.id() as i32)
    }

    /// SIGKILLs member `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts member `i` again (after [`EtcdCluster::kill`]) from its data.
    pub fn restart(&mut self, i: usize) -> std::io::Result<()> {
        self.kill(i);
        self.spawn(i)
    }

    /// SIGSTOP / SIGCONT member `i`.
    pub fn pause(&self, i: usize, paused: bool) {
        if let Some(pid) = self.pid(i) {
            let sig = if paused { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: kill(2) on the pid of our own child.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    /// Waits until every running member answers `/health` with a leader.
    pub fn wait_healthy(&self, timeout: Duration) -> std::io::Result<()> {
        let started = Instant::now();
        for (i, m) in self.members.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            loop {
                if health(m.client_port) {
                    break;
                }
                if started.elapsed() > timeout {
                    let log = std::fs::read_to_string(self.dir.path().join(format!("m{i}.log")))
                        .unwrap_or_default();
                    return Err(std::io::Error::other(format!(
                        "etcd member m{i} not healthy after {timeout:?}; its log:\n{log}"
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }
}

/// `GET /health` answers `"health":"true"` (a member with a leader).
fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.pause(i, false);
            self.kill(i);
        }
    }
}
