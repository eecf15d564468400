//! Helpers for lqos's privileged end-to-end tests (tier 2 in `docs`/design notes §6).
//!
//! Every test builds its own world: network namespaces ([`NetNs`]) with veth pairs inside,
//! a per-test working directory ([`TestDir`]), and runs the workspace's real binaries
//! ([`bin_path`]). Everything it creates is named uniquely (pid + counter) and removed on drop,
//! even when the test panics, so tests run in parallel and a crashed run never breaks the next.
//!
//! These tests need root. They are never skipped silently: [`require_root`] panics with an
//! explanation when they cannot run. Typical use, as root:
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-e2e cargo build --bins
//! CARGO_TARGET_DIR=/work/target-e2e cargo test -p lqos-e2e
//! ```

pub mod bed;
pub mod delay;
pub mod dry_run;
pub mod fleet;
pub mod kernel_state;
pub mod netns;
pub mod packets;
pub mod shaped_csv;
pub mod soak;
pub mod tc;
pub mod testbed;

pub use netns::NetNs;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const BANNER: &str = "\n\
    ==========================================================================\n\
    lqos-e2e: THIS PRIVILEGED END-TO-END TEST CANNOT RUN HERE (it is not skipped)\n\
    ==========================================================================";

/// Panics, loudly, unless the process is root and can create, enter and delete a network
/// namespace with `ip netns`, and `tc` is installed. Call it first in every privileged test.
/// The check runs once per test binary.
pub fn require_root() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(why) = CHECK.get_or_init(check_privileges) {
        panic!(
            "{BANNER}\n{why}\n\n\
             The tests in lqos-e2e create network namespaces, veth pairs and tc qdiscs, so they\n\
             need root (CAP_SYS_ADMIN and CAP_NET_ADMIN), iproute2 (`ip`, `tc`) and a kernel\n\
             with network namespaces and veth. Run them as root, e.g.\n\
             \x20   sudo -E env CARGO_TARGET_DIR=/work/target-e2e cargo test -p lqos-e2e\n\
             or through the project's CI script. They are excluded from a plain `cargo test`\n\
             (lqos-e2e is not a default workspace member) and must never pass silently.\n"
        );
    }
}

fn check_privileges() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status to find the effective uid: {e}"))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .ok_or("no effective uid in /proc/self/status")?;
    if euid != "0" {
        return Err(format!("not running as root (effective uid {euid})."));
    }
    for tool in ["ip", "tc"] {
        let out = Command::new(tool).arg("-V").output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            return Err(format!(
                "`{tool} -V` failed: is iproute2 installed? ({out:?})"
            ));
        }
    }
    let ns = NetNs::new().map_err(|e| format!("`ip netns` is unusable: {e:#}"))?;
    let probe = ns
        .run("ip", &["link", "show", "lo"])
        .map_err(|e| format!("cannot run a command inside a namespace: {e:#}"));
    drop(ns);
    probe.map(drop)
}

/// The workspace root (`tests/e2e/../..`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the bundled example in `etc/`.
pub fn etc_path(name: &str) -> PathBuf {
    workspace_root().join("etc").join(name)
}

/// Where the workspace's binaries are: `LQOS_BIN_DIR` if set, else the directory two levels
/// up from this test executable (`target/<profile>/deps/<test>` -> `target/<profile>`).
pub fn bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LQOS_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot find the test executable's path")?;
    match exe.parent().and_then(Path::parent) {
        Some(dir) => Ok(dir.to_path_buf()),
        None => bail!("cannot derive the binary directory from {}", exe.display()),
    }
}

/// Path of one of the workspace's built binaries, e.g. `bin_path("lqos-scheduler")`. Panics
/// with instructions when it has not been built.
pub fn bin_path(name: &str) -> PathBuf {
    let dir = match bin_dir() {
        Ok(d) => d,
        Err(e) => panic!("{e:#}; set LQOS_BIN_DIR to the directory holding the lqos binaries"),
    };
    let path = dir.join(name);
    if !path.is_file() {
        panic!(
            "{BANNER}\nThe binary `{name}` is not built: {} does not exist.\n\
             Build the workspace's binaries first, with the same CARGO_TARGET_DIR and profile as\n\
             the tests, e.g.\n\
             \x20   CARGO_TARGET_DIR=/work/target-e2e cargo build --bins\n\
             or point LQOS_BIN_DIR at the directory that holds them.\n",
            path.display()
        );
    }
    path
}

/// A per-test working directory, removed on drop unless `LQOS_E2E_KEEP` is set (then its
/// path is printed so a failure can be inspected).
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A fresh directory named `lqos-e2e-<label>-XXXX` under the system temp dir.
    pub fn new(label: &str) -> Result<TestDir> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lqos-e2e-{label}-"))
            .tempdir()
            .context("cannot create a temporary directory")?;
        Ok(TestDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `contents` to `rel` (creating parent directories) and returns its path.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Result<PathBuf> {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Creates a subdirectory and returns its path.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> Result<PathBuf> {
        let path = self.join(rel);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(path)
    }

    /// Copies a file of the bundled example (`etc/<name>`) into this directory.
    pub fn copy_example(&self, name: &str) -> Result<PathBuf> {
        let from = etc_path(name);
        let to = self.join(name);
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        Ok(to)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::env::var_os("LQOS_E2E_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "lqos-e2e: keeping {} (LQOS_E2E_KEEP is set)",
                self.dir.path().display()
            );
        }
    }
}

/// Runs a command with `stdin` (if any), capturing its output. Fails only when it cannot run.
pub fn run_output(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<Output> {
    use std::io::Write;
    let shown = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {shown}"))?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data)
            .with_context(|| format!("cannot write the stdin of {shown}"))?;
    }
    child
        .wait_with_output()
        .with_context(|| format!("cannot wait for {shown}"))
}

/// Runs a command and fails (with its stdout and stderr in the message) unless it succeeds.
pub fn run_checked(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<Output> {
    let shown = format!("{cmd:?}");
    let out = run_output(cmd, stdin)?;
    check_output(&shown, &out)?;
    Ok(out)
}

/// An error describing `out` unless its status is success.
pub fn check_output(shown: &str, out: &Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "{shown} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `f` on a thread that has entered the network namespace `name` (`/run/netns/<name>`);
/// for aya, which attaches in the caller's namespace.
pub fn in_namespace<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(Path::new("/run/netns").join(name))
        .with_context(|| format!("open namespace {name}"))?;
    std::thread::spawn(move || {
        // SAFETY: a valid namespace fd; setns changes only this (new) thread's namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("setns: {}", std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
}

/// The index of interface `dev` in the calling thread's namespace.
pub fn ifindex(dev: &str) -> Result<u32> {
    let name = std::ffi::CString::new(dev)?;
    // SAFETY: a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        bail!("no interface {dev} here");
    }
    Ok(index)
}
