//! Throwaway network namespaces for the privileged tests: a test thread enters its own
//! namespace and a guard restores the thread and deletes the namespaces on drop, even when
//! the test panics.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod dataplane;
pub mod packets;
pub mod prog_test_run;
pub mod traffic;

use std::{
    fs::File,
    io,
    os::fd::AsRawFd,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
    thread,
};

/// Panics (never skips) when not root: these tests need CAP_BPF and CAP_NET_ADMIN.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "\n\n*** lqos-ebpf privileged test: NOT RUN, needs root (CAP_BPF, CAP_NET_ADMIN, \
         network namespaces). Run as root: `cargo test -p lqos-ebpf --test attach`. ***\n"
    );
}

/// Runs a command, returning stdout; panics with the command and its stderr on failure.
pub fn run(args: &[&str]) -> String {
    match try_run(args) {
        Ok(out) => out,
        Err(e) => panic!("{e}"),
    }
}

pub fn try_run(args: &[&str]) -> Result<String, String> {
    let (cmd, rest) = args.split_first().ok_or("empty command")?;
    let out = Command::new(cmd)
        .args(rest)
        .output()
        .map_err(|e| format!("cannot run {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Moves the calling thread into the network namespace named `ns` (/run/netns/<ns>).
pub fn enter_netns(ns: &str) -> io::Result<()> {
    let target = File::open(format!("/run/netns/{ns}"))?;
    setns(&target)
}

fn setns(ns: &File) -> io::Result<()> {
    // SAFETY: a valid namespace fd; setns only changes this thread's network namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `ethtool -K <dev> tx off` for the current thread's namespace (ethtool is not installed
/// here): the legacy ETHTOOL_STXCSUM ioctl.
///
/// Why: veth hands CHECKSUM_PARTIAL packets to its peer with the checksum not yet computed.
/// Native XDP turns the packet into an xdp_frame for the cpumap, the cpumap builds a fresh
/// skb without that state, and the receiver drops it (UdpInCsumErrors). A real NIC delivers
/// complete checksums, so a peer that computes them in software models the real thing.
pub fn disable_tx_checksum(dev: &str) -> io::Result<()> {
    const ETHTOOL_STXCSUM: u32 = 0x17;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    // SAFETY: an all-zero ifreq is valid (name and union are plain bytes / a null pointer).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if dev.len() >= req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(dev.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    // SAFETY: plain socket creation; the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: req (NUL-terminated name) and value outlive the call; SIOCETHTOOL reads both.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is ours and not used afterwards.
    unsafe { libc::close(fd) };
    if rc != 0 {
        return Err(err);
    }
    Ok(())
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Two namespaces joined by a veth pair with two queues each:
/// `ns` holds `dev` (192.0.2.1/24, 2001:db8:1::1/64; the shaper side, entered by the test
/// thread), `peer_ns` holds `peer_dev` (192.0.2.2/24, 2001:db8:1::2/64) with tx checksum
/// offload off (see [`disable_tx_checksum`]).
pub struct TestNet {
    pub ns: String,
    pub peer_ns: String,
    pub dev: &'static str,
    pub peer_dev: &'static str,
    original: File,
    entered: bool,
}

impl TestNet {
    /// Creates the namespaces and the veth pair, and moves this thread into `ns`.
    pub fn new() -> Self {
        require_root();
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let ns = format!("lqe-{}-{n}", std::process::id());
        let original = match File::open("/proc/thread-self/ns/net") {
            Ok(f) => f,
            Err(e) => panic!("cannot open this thread's network namespace: {e}"),
        };
        // The guard exists before the first command, so a half-built setup is removed too.
        let mut net = TestNet {
            peer_ns: format!("{ns}p"),
            ns,
            dev: "lqa",
            peer_dev: "lqb",
            original,
            entered: false,
        };
        let (ns, peer) = (net.ns.clone(), net.peer_ns.clone());
        run(&["ip", "netns", "add", &ns]);
        run(&["ip", "netns", "add", &peer]);
        #[rustfmt::skip]
        run(&["ip", "-n", &ns, "link", "add", net.dev, "numtxqueues", "2", "numrxqueues", "2",
              "type", "veth", "peer", "name", net.peer_dev, "numtxqueues", "2", "numrxqueues", "2",
              "netns", &peer]);
        for (space, dev, last) in [(&ns, net.dev, "1"), (&peer, net.peer_dev, "2")] {
            run(&[
                "ip",
                "-n",
                space,
                "addr",
                "add",
                &format!("192.0.2.{last}/24"),
                "dev",
                dev,
            ]);
            #[rustfmt::skip]
            run(&["ip", "-n", space, "addr", "add", &format!("2001:db8:1::{last}/64"), "dev", dev,
                  "nodad"]);
            run(&["ip", "-n", space, "link", "set", "lo", "up"]);
            run(&["ip", "-n", space, "link", "set", dev, "up"]);
        }
        let peer_dev = net.peer_dev;
        let in_peer = thread::spawn(move || {
            enter_netns(&peer)?;
            disable_tx_checksum(peer_dev)
        });
        match in_peer.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("cannot turn off tx checksum offload on {peer_dev}: {e}"),
            Err(_) => panic!("peer namespace thread panicked"),
        }
        if let Err(e) = enter_netns(&ns) {
            panic!("cannot enter {ns}: {e}");
        }
        net.entered = true;
        net
    }

    /// Runs a command inside `ns` (for sysfs paths, which follow the mount, not the thread).
    pub fn exec_in(&self, ns: &str, args: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Packets sent per tc class of `dev` in `ns`: (`classid`, packets) from `tc -s class show`.
    pub fn class_packets(&self, dev: &str) -> Vec<(String, u64)> {
        let text = run(&["tc", "-n", &self.ns, "-s", "class", "show", "dev", dev]);
        let mut out = Vec::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["class", _kind, id, ..] => current = Some((*id).to_owned()),
                ["Sent", _bytes, "bytes", pkts, "pkt", ..] => {
                    if let (Some(id), Ok(p)) = (current.take(), pkts.parse()) {
                        out.push((id, p));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if self.entered {
            if let Err(e) = setns(&self.original) {
                eprintln!("cannot return to the original network namespace: {e}");
            }
        }
        for ns in [&self.ns, &self.peer_ns] {
            if let Err(e) = try_run(&["ip", "netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}
