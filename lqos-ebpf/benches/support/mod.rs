//! Kernel plumbing of the per-packet bench: BPF_PROG_TEST_RUN, the root check, and guards
//! for the network namespace and the bpffs pin directory (removed even on panic).

use std::{fs::File, os::fd::AsRawFd, path::PathBuf, process::Command};

/// Panics (never skips) when not root: the bench needs CAP_BPF, CAP_NET_ADMIN and netns.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "\n\n*** lqos-ebpf per_packet bench: NOT RUN, needs root (CAP_BPF, CAP_NET_ADMIN, network \
         namespaces). Run as root: `cargo bench -p lqos-ebpf --bench per_packet`. ***\n"
    );
}

#[path = "../../tests/support/prog_test_run.rs"]
mod prog_test_run;
pub use prog_test_run::test_run;

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {args:?}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{args:?} failed ({}): {}", out.status, err.trim()));
    }
    Ok(())
}

fn setns(ns: &File) -> std::io::Result<()> {
    // SAFETY: a valid namespace fd; setns only changes this thread's network namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A private network namespace holding the veth pair `lqbi` (faces the Internet) / `lqbn`
/// (faces the subscribers), entered by this thread; left and deleted (veths with it) on drop.
pub struct NetNs {
    name: String,
    original: File,
    entered: bool,
}

impl NetNs {
    pub fn new() -> Self {
        let original = File::open("/proc/thread-self/ns/net").expect("this thread's netns");
        let name = format!("lqos-bench-{}", std::process::id());
        run(&["ip", "netns", "add", &name]).expect("create the namespace");
        // The guard exists right after the namespace does (and not before: a failed add must
        // not delete a namespace that is not ours), so a half-built setup is removed too.
        let mut ns = NetNs {
            name,
            original,
            entered: false,
        };
        #[rustfmt::skip]
        run(&["ip", "-n", &ns.name, "link", "add", "lqbi", "type", "veth", "peer", "name", "lqbn"])
            .expect("create the veth pair");
        let target = File::open(format!("/run/netns/{}", ns.name)).expect("open the namespace");
        setns(&target).expect("enter the namespace");
        ns.entered = true;
        ns
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if self.entered {
            if let Err(e) = setns(&self.original) {
                eprintln!("cannot return to the original network namespace: {e}");
            }
        }
        if let Err(e) = run(&["ip", "netns", "del", &self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// The bpffs directory the real object pins its maps in; removed right after loading (the
/// maps live on through the fds) and again on drop in case loading panicked.
pub struct PinDir(pub PathBuf);

impl Drop for PinDir {
    fn drop(&mut self) {
        if self.0.exists() {
            if let Err(e) = std::fs::remove_dir_all(&self.0) {
                eprintln!("cleanup: cannot remove {}: {e}", self.0.display());
            }
        }
    }
}

pub fn ifindex(dev: &str) -> u32 {
    let name = std::ffi::CString::new(dev).expect("interface name");
    // SAFETY: a valid NUL-terminated string; resolved in this thread's network namespace.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no interface {dev} in the bench namespace");
    index
}
