//! Creating a TUN device (`IFF_TUN | IFF_NO_PI`: each read and write is one bare IP packet)
//! inside a network namespace, and configuring it there with `ip`. The device lives in the
//! namespace that was current when `/dev/net/tun` was opened and goes away when its fd is
//! closed (the process exits): nothing is left behind.

use anyhow::{bail, ensure, Context, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;

/// A TUN device to create.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The namespace: a name under `/run/netns` or a path such as `/proc/PID/ns/net`; `None`
    /// for the namespace this process runs in.
    pub netns: Option<String>,
    pub dev: String,
    /// Addresses to give it (`10.0.0.1/30`, `fd00::1/64`).
    pub addrs: Vec<String>,
    pub mtu: u32,
}

/// Longest interface name (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// Creates the device in its namespace, sets its MTU and addresses and brings it up; returns
/// the device's fd (packets are read from and written to it).
pub fn create(spec: &Spec) -> Result<File> {
    ensure!(
        !spec.dev.is_empty()
            && spec.dev.len() <= MAX_IFNAME
            && !spec.dev.contains(['/', ':', ' ', '\0']),
        "device name {:?} must have 1 to {MAX_IFNAME} characters and no '/', ':' or space",
        spec.dev
    );
    let ns = match &spec.netns {
        Some(name) => Some(File::open(ns_path(name)).with_context(|| {
            format!(
                "cannot open network namespace {name} ({})",
                ns_path(name).display()
            )
        })?),
        None => None,
    };
    let (spec, dev) = (spec.clone(), spec.dev.clone());
    // setns changes only the calling thread: a thread of its own, so that this process's main
    // thread stays where it was. The `ip` commands it starts inherit its namespace.
    std::thread::spawn(move || -> Result<File> {
        if let Some(ns) = ns {
            // SAFETY: a valid namespace fd; only this thread moves.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                bail!(
                    "setns into {:?}: {}",
                    spec.netns,
                    std::io::Error::last_os_error()
                );
            }
        }
        let tun = open(&spec.dev)?;
        ip(&[
            "link",
            "set",
            "dev",
            &spec.dev,
            "mtu",
            &spec.mtu.to_string(),
        ])?;
        for addr in &spec.addrs {
            let mut args = vec!["addr", "add", addr.as_str(), "dev", spec.dev.as_str()];
            if addr.contains(':') {
                args.push("nodad");
            }
            ip(&args)?;
        }
        ip(&["link", "set", "dev", &spec.dev, "up"])?;
        Ok(tun)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the thread creating {dev} panicked"))?
}

/// `/run/netns/NAME` for a name, the path itself for a path.
fn ns_path(name: &str) -> PathBuf {
    if name.contains('/') {
        PathBuf::from(name)
    } else {
        PathBuf::from("/run/netns").join(name)
    }
}

/// Opens `/dev/net/tun` and attaches it to a new TUN device `dev` (in this thread's namespace).
fn open(dev: &str) -> Result<File> {
    let tun = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .context("cannot open /dev/net/tun (root is needed, and the tun module)")?;
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(dev.bytes()) {
        *d = s as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes an ifreq, which `req` is.
    if unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &mut req) } != 0 {
        bail!(
            "cannot create TUN device {dev}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(tun)
}

/// Runs `ip ARGS` (in the calling thread's namespace); fails with its stderr.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run ip (iproute2)")?;
    ensure!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}
