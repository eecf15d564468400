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
    /// The network namespace the members run in (`ip netns` name), and their address there.
    netns: Option<String>,
    host: String,
}

/// Runs `f` on a thread inside network namespace `ns` (the calling thread stays where it is).
fn in_netns<T: Send + 'static>(
    ns: Option<&str>,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let ns = ns.map(|n| format!("/var/run/netns/{n}"));
    std::thread::spawn(move || {
        if let Some(path) = ns {
            use std::os::fd::AsRawFd;
            let file = std::fs::File::open(&path)?;
            // SAFETY: setns(2) on this thread only, with an fd we own.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(f())
    })
    .join()
    .map_err(|_| std::io::Error::other("netns thread panicked"))?
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("0.0.0.0:0")?.local_addr()?.port())
}

impl EtcdCluster {
    /// Starts `n` members on 127.0.0.1 and waits (at most 30 s) until every one answers.
    pub fn start(n: usize) -> std::io::Result<EtcdCluster> {
        Self::start_in(n, None, "127.0.0.1")
    }

    /// [`EtcdCluster::start`] inside network namespace `netns`, listening on `host` there.
    pub fn start_in(n: usize, netns: Option<&str>, host: &str) -> std::io::Result<EtcdCluster> {
        let dir = tempfile::Builder::new().prefix("lqos-etcd").tempdir()?;
        let mut members = Vec::new();
        let mut peer_ports = Vec::new();
        let ns = netns.map(str::to_owned);
        let ports = in_netns(ns.as_deref(), move || -> std::io::Result<Vec<u16>> {
            (0..2 * n).map(|_| free_port()).collect()
        })??;
        for i in 0..n {
            members.push(Member {
                name: format!("m{i}"),
                client_port: ports[2 * i],
                child: None,
            });
            peer_ports.push(ports[2 * i + 1]);
        }
        let initial = members
            .iter()
            .zip(&peer_ports)
            .map(|(m, p)| format!("{}=http://{host}:{p}", m.name))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = EtcdCluster {
            dir,
            members,
            initial,
            peer_ports,
            netns: ns,
            host: host.to_owned(),
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
        let client = format!("http://{}:{}", self.host, m.client_port);
        let peer = format!("http://{}:{}", self.host, self.peer_ports[i]);
        let mut cmd = match &self.netns {
            // `ip netns exec` execs etcd: the child's pid is etcd's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(etcd_binary());
                c
            }
            None => Command::new(etcd_binary()),
        };
        let child = cmd
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
            .map(|m| format!("http://{}:{}", self.host, m.client_port))
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
                let (host, port) = (self.host.clone(), m.client_port);
                if in_netns(self.netns.as_deref(), move || health(&host, port))? {
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
fn health(host: &str, port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect((host, port)) else {
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
