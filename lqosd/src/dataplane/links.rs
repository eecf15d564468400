//! Attaching the programs through bpf_links pinned under the pin directory
//! (`link_xdp_<ifname>`, `link_tc_<ifname>`, on a stick also `link_tc_ingress_<ifname>`). A pinned link outlives lqosd, so shaping goes on
//! while it restarts; the next lqosd swaps its freshly loaded programs into the same links
//! atomically (`bpf_link_update`).

use super::{LinkInfo, Shaped};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::{SchedClassifier, TcAttachType, Xdp, XdpFlags};
use aya::Ebpf;
use lqos_config::XdpMode;
use lqos_ebpf::{PROG_TC_EGRESS, PROG_TC_STICK, PROG_XDP};
use std::path::{Path, PathBuf};
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the eBPF object has no program {0}")]
    NoProgram(&'static str),
    #[error("program {program}: {source}")]
    Program {
        program: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("attaching {program} to {interface}: {source}")]
    Attach {
        program: &'static str,
        interface: String,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("pinning the {program} link of {interface} at {path}: {detail}")]
    Pin {
        program: &'static str,
        interface: String,
        path: PathBuf,
        detail: String,
    },
}

/// Pin path of a program's link on an interface.
pub fn link_pin(pin_dir: &Path, kind: &str, interface: &str) -> PathBuf {
    pin_dir.join(format!("link_{kind}_{interface}"))
}

/// How XDP goes on one interface, and why when it is not native.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpChoice {
    pub native: bool,
    /// Why generic XDP was chosen on an interface that could run native (for the operator).
    pub generic_because: Option<String>,
}

/// Drivers whose native XDP redirect into a cpumap turns a packet into an `xdp_frame` and
/// loses its `CHECKSUM_PARTIAL` state: a sender that leaves checksums to offload (the default
/// on veth) gets its TCP segments dropped with bad checksums further on.
const LOSES_CHECKSUM_PARTIAL: &[&str] = &["veth"];

/// Native or generic XDP for `link` under `mode`.
pub fn xdp_choice(mode: XdpMode, link: &LinkInfo) -> XdpChoice {
    let kind = link.kind.as_deref().unwrap_or("");
    match mode {
        XdpMode::Native => XdpChoice {
            native: true,
            generic_because: None,
        },
        XdpMode::Generic => XdpChoice {
            native: false,
            generic_because: None,
        },
        XdpMode::Auto if LOSES_CHECKSUM_PARTIAL.contains(&kind) => XdpChoice {
            native: false,
            generic_because: Some(format!(
                "{} is a {kind} device: native XDP redirecting into a cpumap drops the checksum \
                 offload state of packets (CHECKSUM_PARTIAL), so TCP from senders with tx \
                 checksum offload on (the default) would be black-holed; lqosd attached generic \
                 XDP instead (slower). If every sender on this link computes checksums in \
                 software (ethtool -K DEV tx off), set [lqosd] xdp_mode = \"native\"",
                link.name
            )),
        },
        XdpMode::Auto => XdpChoice {
            native: true,
            generic_because: None,
        },
    }
}

/// Verifies both programs and attaches them to every shaped interface; XDP native or
/// generic as [`xdp_choice`] says. Returns why XDP is generic where it is.
pub fn attach_all(
    ebpf: &mut Ebpf,
    shaped: &Shaped,
    pin_dir: &Path,
    mode: XdpMode,
) -> Result<Vec<String>, LinkError> {
    let prog_err = |program| move |source| LinkError::Program { program, source };
    let xdp: &mut Xdp = ebpf
        .program_mut(PROG_XDP)
        .ok_or(LinkError::NoProgram(PROG_XDP))?
        .try_into()
        .map_err(prog_err(PROG_XDP))?;
    lqos_ebpf::load_program(|| xdp.load()).map_err(prog_err(PROG_XDP))?;
    let mut generic = Vec::new();
    for link in shaped.interfaces() {
        let choice = xdp_choice(mode, link);
        if let Some(why) = &choice.generic_because {
            warn!(interface = %link.name, "{why}");
            generic.push(why.clone());
        }
        attach_xdp(xdp, link, choice.native, pin_dir)?;
    }
    let tc: &mut SchedClassifier = ebpf
        .program_mut(PROG_TC_EGRESS)
        .ok_or(LinkError::NoProgram(PROG_TC_EGRESS))?
        .try_into()
        .map_err(prog_err(PROG_TC_EGRESS))?;
    lqos_ebpf::load_program(|| tc.load()).map_err(prog_err(PROG_TC_EGRESS))?;
    for link in shaped.interfaces() {
        attach_tc(
            tc,
            PROG_TC_EGRESS,
            TcAttachType::Egress,
            &link.name,
            pin_dir,
        )?;
    }
    if shaped.vlans.is_some() {
        // On a stick, frames go back out of the interface they came in on, VLAN swapped.
        let stick: &mut SchedClassifier = ebpf
            .program_mut(PROG_TC_STICK)
            .ok_or(LinkError::NoProgram(PROG_TC_STICK))?
            .try_into()
            .map_err(prog_err(PROG_TC_STICK))?;
        lqos_ebpf::load_program(|| stick.load()).map_err(prog_err(PROG_TC_STICK))?;
        attach_tc(
            stick,
            PROG_TC_STICK,
            TcAttachType::Ingress,
            &shaped.to_internet.name,
            pin_dir,
        )?;
    }
    Ok(generic)
}

/// Swaps the program into the link pinned at `path`, if there is one that still works
/// (`swap` does the `attach_to_link`). A stale pin is removed. Whether it was swapped.
fn swap_into_pinned(
    path: &Path,
    program: &'static str,
    interface: &str,
    swap: impl FnOnce(FdLink) -> Result<(), String>,
) -> bool {
    if !path.exists() {
        return false;
    }
    match PinnedLink::from_pin(path)
        .map_err(|e| e.to_string())
        .and_then(|p| swap(p.into()))
    {
        Ok(()) => {
            info!(interface, program, "program swapped in place");
            true
        }
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot update the pinned link; attaching afresh");
            let _ = std::fs::remove_file(path);
            false
        }
    }
}

fn pin(link: FdLink, path: &Path, program: &'static str, interface: &str) -> Result<(), LinkError> {
    link.pin(path).map(drop).map_err(|e| LinkError::Pin {
        program,
        interface: interface.to_owned(),
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

fn attach_xdp(
    xdp: &mut Xdp,
    link: &LinkInfo,
    native: bool,
    pin_dir: &Path,
) -> Result<(), LinkError> {
    let interface = link.name.as_str();
    let path = link_pin(pin_dir, "xdp", interface);
    // A pinned link keeps the mode it was attached in: when that is not the mode wanted now
    // (xdp_mode changed, or an lqosd before the veth fix attached native), it is replaced.
    // The few milliseconds without XDP steer packets on the CPU they arrived on.
    if path.exists() && link.xdp_native.is_some_and(|n| n != native) {
        warn!(
            interface,
            native, "the pinned XDP link is in the other mode: re-attaching"
        );
        let _ = std::fs::remove_file(&path);
    }
    let swap = |fd: FdLink| {
        let fd = aya::programs::xdp::XdpLink::try_from(fd).map_err(|e| e.to_string())?;
        xdp.attach_to_link(fd).map(drop).map_err(|e| e.to_string())
    };
    if swap_into_pinned(&path, PROG_XDP, interface, swap) {
        return Ok(());
    }
    let err = |source| LinkError::Attach {
        program: PROG_XDP,
        interface: interface.to_owned(),
        source,
    };
    let (id, native) = if native {
        match attach_when_free(xdp, interface, XdpFlags::DRV_MODE) {
            Ok(id) => (id, true),
            Err(e) => {
                warn!(interface, error = %e, "native XDP refused; falling back to generic XDP (slower)");
                let id = attach_when_free(xdp, interface, XdpFlags::SKB_MODE).map_err(err)?;
                (id, false)
            }
        }
    } else {
        let id = attach_when_free(xdp, interface, XdpFlags::SKB_MODE).map_err(err)?;
        (id, false)
    };
    info!(interface, native, "XDP attached");
    let link = xdp.take_link(id).map_err(err)?;
    let fd = FdLink::try_from(link).map_err(|e| LinkError::Pin {
        program: PROG_XDP,
        interface: interface.to_owned(),
        path: path.clone(),
        detail: e.to_string(),
    })?;
    pin(fd, &path, PROG_XDP, interface)
}

/// `xdp.attach`, retried for up to a second while the interface holds another program
/// (EBUSY; EEXIST when that one is in the other mode): a link whose last pin was just removed
/// is released by the kernel asynchronously (a deferred work item).
fn attach_when_free(
    xdp: &mut Xdp,
    interface: &str,
    flags: XdpFlags,
) -> Result<aya::programs::xdp::XdpLinkId, aya::programs::ProgramError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match xdp.attach(interface, flags) {
            Err(aya::programs::ProgramError::SyscallError(e))
                if matches!(e.io_error.raw_os_error(), Some(libc::EBUSY | libc::EEXIST))
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn attach_tc(
    tc: &mut SchedClassifier,
    program: &'static str,
    attach: TcAttachType,
    interface: &str,
    pin_dir: &Path,
) -> Result<(), LinkError> {
    let kind = if attach == TcAttachType::Ingress {
        "tc_ingress"
    } else {
        "tc"
    };
    let path = link_pin(pin_dir, kind, interface);
    let swap = |link: FdLink| {
        let link =
            aya::programs::tc::SchedClassifierLink::try_from(link).map_err(|e| e.to_string())?;
        tc.attach_to_link(link).map(drop).map_err(|e| e.to_string())
    };
    if swap_into_pinned(&path, program, interface, swap) {
        return Ok(());
    }
    let err = |source| LinkError::Attach {
        program,
        interface: interface.to_owned(),
        source,
    };
    let id = tc.attach(interface, attach).map_err(err)?;
    let link = tc.take_link(id).map_err(err)?;
    // A netlink filter (kernel < 6.6) is no bpf_link and would detach with lqosd: refuse it
    // rather than shape only until the next restart.
    let fd = FdLink::try_from(link).map_err(|e| LinkError::Pin {
        program,
        interface: interface.to_owned(),
        path: path.clone(),
        detail: format!("{e} (lqosd needs tcx links, Linux 6.6 or later)"),
    })?;
    pin(fd, &path, program, interface)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(kind: Option<&str>) -> LinkInfo {
        LinkInfo {
            name: "lqn".into(),
            ifindex: 3,
            tx_queues: 2,
            kind: kind.map(str::to_owned),
            xdp_native: None,
        }
    }

    #[test]
    fn veth_gets_generic_xdp_unless_native_is_asked_for() {
        let auto = xdp_choice(XdpMode::Auto, &link(Some("veth")));
        assert!(!auto.native);
        let why = auto.generic_because.expect("a reason");
        assert!(
            why.contains("lqn is a veth device") && why.contains("xdp_mode = \"native\""),
            "{why}"
        );
        assert_eq!(
            xdp_choice(XdpMode::Native, &link(Some("veth"))),
            XdpChoice {
                native: true,
                generic_because: None
            }
        );
        // Hardware NICs (no link kind) and other virtual devices stay native.
        assert!(xdp_choice(XdpMode::Auto, &link(None)).native);
        assert!(xdp_choice(XdpMode::Auto, &link(Some("macvlan"))).native);
        assert!(!xdp_choice(XdpMode::Generic, &link(None)).native);
    }
}
