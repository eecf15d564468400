//! Running tc operations: `tc -batch`, or rtnetlink for applies that only change classes.
//!
//! Measured on this kernel (docs/benchmarks.md): creating HTB classes costs the kernel time
//! proportional to the classes already in that HTB (tc_ctl_tclass walks them all to rebind
//! filters), while tc's own user time is about 1% of the total; talking netlink directly would
//! not change the bill. So lqosd writes the operations to a file and runs one `tc -batch` per
//! apply; `ClearRoot` runs on its own, because "no root qdisc" is not an error for it.
//!
//! A small change is the other way round: changing one class costs the kernel microseconds,
//! and forking `tc` from lqosd (its page tables, tc's start-up) costs milliseconds. So an apply
//! made only of class changes (a plan's new rates) goes over rtnetlink
//! ([`lqos_queue_stats::HtbClassWriter`], which sends what `tc class change` sends).

use crate::apply::TcFailure;
use lqos_plan::{HtbClass, TcOp};
use lqos_queue_stats::{HtbClassChange, HtbClassWriter};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command;
use tracing::warn;

/// Runs tc operations for lqosd (see the module doc).
#[derive(Debug)]
pub struct Tc {
    /// `None` when the socket or the kernel's clock could not be opened: everything goes
    /// through `tc -batch`.
    writer: Option<HtbClassWriter>,
}

impl Tc {
    /// Opens the netlink socket in lqosd's network namespace (the shaper's).
    pub fn open() -> Tc {
        let writer = HtbClassWriter::new()
            .map_err(|e| {
                warn!(error = %crate::state::with_causes(&e), "class changes will fork tc: cannot open rtnetlink for them")
            })
            .ok();
        Tc { writer }
    }

    /// Whether applies made only of class changes go over rtnetlink (else `tc -batch`).
    pub fn changes_over_netlink(&self) -> bool {
        self.writer.is_some()
    }

    /// Runs `ops` in order; on failure reports the index of the op the kernel refused.
    pub fn run(&mut self, ops: &[TcOp]) -> Result<(), TcFailure> {
        match &mut self.writer {
            Some(w)
                if !ops.is_empty() && ops.iter().all(|o| matches!(o, TcOp::ChangeClass { .. })) =>
            {
                change_classes(w, ops)
            }
            _ => run_batch(ops),
        }
    }
}

/// Class changes over rtnetlink, one acknowledged request each.
fn change_classes(writer: &mut HtbClassWriter, ops: &[TcOp]) -> Result<(), TcFailure> {
    let mut ifindex: HashMap<&str, u32> = HashMap::new();
    for (index, op) in ops.iter().enumerate() {
        let TcOp::ChangeClass { dev, class } = op else {
            continue;
        };
        let failed = |e: lqos_queue_stats::QueueStatsError| TcFailure {
            index,
            op: op.to_string(),
            message: crate::state::with_causes(&e),
        };
        let i = match ifindex.get(dev.as_str()) {
            Some(i) => *i,
            None => {
                let i = writer.ifindex(dev).map_err(failed)?;
                *ifindex.entry(dev).or_insert(i)
            }
        };
        writer.change(&class_change(i, class)).map_err(failed)?;
    }
    Ok(())
}

/// What `class change dev D ...` (the op's `tc -batch` line) asks for.
fn class_change(ifindex: u32, c: &HtbClass) -> HtbClassChange {
    HtbClassChange {
        ifindex,
        parent: c.parent.map_or(u32::from(c.id.major) << 16, |p| p.as_u32()),
        classid: c.id.as_u32(),
        rate_bps: c.rate_bps,
        ceil_bps: c.ceil_bps,
        burst: c.burst,
        cburst: c.cburst,
        quantum: c.quantum,
    }
}

/// Runs `ops` in order with `tc -batch`; on failure reports the index of the op tc refused.
fn run_batch(ops: &[TcOp]) -> Result<(), TcFailure> {
    let mut start = 0;
    while start < ops.len() {
        if let TcOp::ClearRoot { dev } = &ops[start] {
            clear_root(dev).map_err(|message| TcFailure {
                index: start,
                op: ops[start].to_string(),
                message,
            })?;
            start += 1;
            continue;
        }
        let end = ops[start..]
            .iter()
            .position(|o| matches!(o, TcOp::ClearRoot { .. }))
            .map_or(ops.len(), |p| start + p);
        batch(&ops[start..end]).map_err(|(i, message)| TcFailure {
            index: start + i,
            op: ops[start + i].to_string(),
            message,
        })?;
        start = end;
    }
    Ok(())
}

/// A `tc` that dies with lqosd: killed in the middle of an apply, lqosd must not leave a
/// `tc -batch` running on its own, changing the tree while the next lqosd rebuilds it.
fn tc() -> Command {
    let mut cmd = Command::new("tc");
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when the
    // thread that started it (waiting for it) dies with lqosd.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// `tc qdisc del dev X root`, where a device on its default qdisc is fine.
fn clear_root(dev: &str) -> Result<(), String> {
    let out = tc()
        .args(["qdisc", "del", "dev", dev, "root"])
        .output()
        .map_err(|e| format!("cannot run tc: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    // The kernel's words for "nothing to delete" on a device with its default qdisc.
    if out.status.success() || err.contains("handle of zero") || err.contains("No such file") {
        return Ok(());
    }
    Err(err.trim().to_owned())
}

/// One `tc -batch` run; Err((index in `ops`, message)).
fn batch(ops: &[TcOp]) -> Result<(), (usize, String)> {
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| (0, format!("cannot create the batch file: {e}")))?;
    let mut text = String::with_capacity(ops.len() * 120);
    for op in ops {
        text.push_str(&op.to_string());
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .map_err(|e| (0, format!("cannot write the batch file: {e}")))?;
    let path = file.path().to_string_lossy().into_owned();
    let out = tc()
        .args(["-batch", &path])
        .output()
        .map_err(|e| (0, format!("cannot run tc: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // tc stops at the first failure and says "Command failed <file>:<line>" (1-based).
    let line = err
        .lines()
        .find_map(|l| {
            l.strip_prefix("Command failed ")
                .and_then(|rest| rest.rsplit(':').next())
                .and_then(|n| n.trim().parse::<usize>().ok())
        })
        .unwrap_or(1);
    let index = line.saturating_sub(1).min(ops.len().saturating_sub(1));
    let message = err
        .lines()
        .filter(|l| !l.starts_with("Command failed") && !l.contains("quantum of class"))
        .collect::<Vec<_>>()
        .join("; ");
    Err((index, message))
}
