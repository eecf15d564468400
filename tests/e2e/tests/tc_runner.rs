//! lqosd's tc runner against the real kernel: an apply made only of class changes goes over
//! rtnetlink, in order, and reports the first refused op with its index and the kernel's
//! reason (the ops before it done, as with `tc -batch`); any other apply goes through
//! `tc -batch`. The HTB parameters themselves are checked byte for byte against tc's in
//! lqos-queue-stats (`tests/htb_change.rs`).

use anyhow::{ensure, Context, Result};
use lqos_e2e::tc::{live_classes, rate_matches};
use lqos_e2e::{require_root, NetNs};
use lqos_plan::{ClassId, ClassOwner, HtbClass, TcOp};
use lqosd::dataplane::tc::Tc;
use std::os::fd::AsRawFd;

const DEV: &str = "lqr0";

fn class(minor: u16, mbit: u64) -> HtbClass {
    HtbClass {
        id: ClassId::new(1, minor),
        parent: Some(ClassId::new(1, 1)),
        rate_bps: mbit * 1_000_000,
        ceil_bps: mbit * 1_000_000,
        burst: 15_000,
        cburst: 15_000,
        quantum: 1_514,
        owner: ClassOwner::Circuit(format!("c{minor}").into()),
        leaf: None,
    }
}

fn change(minor: u16, mbit: u64) -> TcOp {
    TcOp::ChangeClass {
        dev: DEV.into(),
        class: class(minor, mbit),
    }
}

/// Runs `f` on a thread inside `ns`: the runner's socket and the `tc` it forks both belong to
/// the namespace of the thread that makes them.
fn in_ns<T: Send + 'static>(ns: &NetNs, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let file = std::fs::File::open(format!("/run/netns/{}", ns.name()))?;
    std::thread::spawn(move || {
        // SAFETY: a valid namespace fd; only this thread changes namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(f())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
}

fn rate_of(ns: &NetNs, minor: u16) -> Result<u64> {
    live_classes(ns, DEV)?
        .into_iter()
        .find(|c| (c.classid.major, c.classid.minor) == (1, minor))
        .and_then(|c| c.rate_bits)
        .with_context(|| format!("no class 1:{minor:x}"))
}

#[test]
fn class_changes_go_over_netlink_in_order_and_failures_name_the_op() -> Result<()> {
    require_root();
    let ns = NetNs::new()?;
    ns.add_veth(DEV, "lqr1", 1)?;
    ns.set_up(DEV)?;
    ns.run(
        "tc",
        &["qdisc", "add", "dev", DEV, "root", "handle", "1:", "htb"],
    )?;
    ns.run(
        "tc",
        &[
            "class", "add", "dev", DEV, "parent", "1:", "classid", "1:1", "htb", "rate", "1gbit",
        ],
    )?;
    for minor in ["1:10", "1:20"] {
        ns.run(
            "tc",
            &[
                "class", "add", "dev", DEV, "parent", "1:1", "classid", minor, "htb", "rate",
                "1mbit",
            ],
        )?;
    }

    let (over_netlink, changed, refused, mixed) = in_ns(&ns, || {
        let mut tc = Tc::open();
        let over_netlink = tc.changes_over_netlink();
        let changed = tc.run(&[change(0x10, 5), change(0x20, 7)]);
        // The second op names a class that does not exist.
        let refused = tc.run(&[change(0x10, 6), change(0x99, 9), change(0x20, 9)]);
        // A class added and one changed: one `tc -batch`.
        let mixed = tc.run(&[
            TcOp::AddClass {
                dev: DEV.into(),
                class: class(0x30, 3),
            },
            change(0x20, 8),
        ]);
        (over_netlink, changed, refused, mixed)
    })?;
    ensure!(over_netlink, "the runner could not open rtnetlink");
    changed?;
    let failure = refused
        .err()
        .context("a change of a missing class was accepted")?;
    ensure!(failure.index == 1, "{failure:?}");
    ensure!(failure.op.contains("classid 1:99"), "{failure:?}");
    ensure!(
        failure.message.contains("No such file or directory"),
        "{failure:?}"
    );
    mixed?;
    for (minor, mbit) in [(0x10, 6), (0x20, 8), (0x30, 3)] {
        let live = rate_of(&ns, minor)?;
        ensure!(
            rate_matches(mbit * 1_000_000, live),
            "1:{minor:x} runs at {live} bit/s, expected {mbit} Mbit/s"
        );
    }
    Ok(())
}
