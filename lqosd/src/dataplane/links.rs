//! Attaching the programs through bpf_links pinned under the pin directory
//! (`link_xdp_<ifname>`, `link_tc_<ifname>`, on a stick also `link_tc_ingress_<ifname>`). A pinned link outlives lqosd, so shaping goes on
//! while it restarts; the next lqosd swaps its freshly loaded programs into the same links
//! atomically (`bpf_link_update`).

use super::Shaped;
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::{SchedClassifier, TcAttachType, Xdp, XdpFlags};
use aya::Ebpf;
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

/// Verifies both programs and attaches them to every shaped interface.
pub fn attach_all(ebpf: &mut Ebpf, shaped: &Shaped, pin_dir: &Path) -> Result<(), LinkError> {
    let prog_err = |program| move |source| LinkError::Program { program, source };
    let xdp: &mut Xdp = ebpf
        .program_mut(PROG_XDP)
        .ok_or(LinkError::NoProgram(PROG_XDP))?
        .try_into()
        .map_err(prog_err(PROG_XDP))?;
    xdp.load().map_err(prog_err(PROG_XDP))?;
    for link in shaped.interfaces() {
        attach_xdp(xdp, &link.name, pin_dir)?;
    }
    let tc: &mut SchedClassifier = ebpf
        .program_mut(PROG_TC_EGRESS)
        .ok_or(LinkError::NoProgram(PROG_TC_EGRESS))?
        .try_into()
        .map_err(prog_err(PROG_TC_EGRESS))?;
    tc.load().map_err(prog_err(PROG_TC_EGRESS))?;
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
        stick.load().map_err(prog_err(PROG_TC_STICK))?;
        attach_tc(
            stick,
            PROG_TC_STICK,
            TcAttachType::Ingress,
            &shaped.to_internet.name,
            pin_dir,
        )?;
    }
    Ok(())
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

fn attach_xdp(xdp: &mut Xdp, interface: &str, pin_dir: &Path) -> Result<(), LinkError> {
    let path = link_pin(pin_dir, "xdp", interface);
    let swap = |link: FdLink| {
        let link = aya::programs::xdp::XdpLink::try_from(link).map_err(|e| e.to_string())?;
        xdp.attach_to_link(link)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    if swap_into_pinned(&path, PROG_XDP, interface, swap) {
        return Ok(());
    }
    let err = |source| LinkError::Attach {
        program: PROG_XDP,
        interface: interface.to_owned(),
        source,
    };
    let id = match xdp.attach(interface, XdpFlags::DRV_MODE) {
        Ok(id) => id,
        Err(native) => {
            warn!(interface, error = %native, "native XDP refused; falling back to generic XDP (slower)");
            xdp.attach(interface, XdpFlags::SKB_MODE).map_err(err)?
        }
    };
    let link = xdp.take_link(id).map_err(err)?;
    let fd = FdLink::try_from(link).map_err(|e| LinkError::Pin {
        program: PROG_XDP,
        interface: interface.to_owned(),
        path: path.clone(),
        detail: e.to_string(),
    })?;
    pin(fd, &path, PROG_XDP, interface)
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
