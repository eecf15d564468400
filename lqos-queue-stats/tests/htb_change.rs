//! Privileged tests (root): HTB classes changed by `tc class change` and by [`HtbClassWriter`]
//! with the same parameters end up holding exactly the same configuration in the kernel (its
//! own dump of `struct tc_htb_opt` and the 64-bit rates), from 0.1 Mbit/s to 100 Gbit/s; and
//! the writer's refusals are the kernel's. They fail (never skip) without root.

// Each test binary uses only part of the shared support.
#[allow(dead_code)]
mod support;

use anyhow::{ensure, Context, Result};
use lqos_queue_stats::{tc_handle, HtbClassChange, HtbClassWriter, QueueReader, QueueStatsError};
use support::netns::NetNs;

const BY_TC: u32 = tc_handle(1, 0x10);
const BY_NETLINK: u32 = tc_handle(1, 0x20);

/// A namespace with veth `qw0` carrying a root HTB (1:) with one parent class (1:1) and two
/// leaf classes, 1:10 and 1:20, made alike.
fn bed() -> Result<NetNs> {
    let ns = NetNs::new("htbw")?;
    ns.run(
        "ip",
        &["link", "add", "qw0", "type", "veth", "peer", "name", "qw1"],
    )?;
    ns.run("ip", &["link", "set", "qw0", "up"])?;
    ns.run("ip", &["link", "set", "qw1", "up"])?;
    ns.tc_batch(
        "qdisc add dev qw0 root handle 1: htb\n\
         class add dev qw0 parent 1: classid 1:1 htb rate 100gbit ceil 100gbit quantum 60000\n\
         class add dev qw0 parent 1:1 classid 1:10 htb rate 1mbit ceil 2mbit burst 3000 cburst 3000 quantum 1514\n\
         class add dev qw0 parent 1:1 classid 1:20 htb rate 1mbit ceil 2mbit burst 3000 cburst 3000 quantum 1514\n",
    )?;
    Ok(ns)
}

#[test]
fn writer_leaves_the_kernel_holding_what_tc_gives_it() -> Result<()> {
    let ns = bed()?;
    let mut writer = HtbClassWriter::new_in_netns(ns.path())?;
    let mut reader = QueueReader::new_in_netns(ns.path())?;
    reader.set_htb_params(true);
    let ifindex = writer.ifindex("qw0")?;
    // (rate, ceil) in bit/s, burst, cburst, quantum: from 0.1 Mbit/s to 100 Gbit/s (64-bit
    // rates: a rate above 2^32 bytes/s, and a ceiling above it with a rate below), odd bursts
    // and rates (the rounding of ticks).
    let cases: [(u64, u64, u32, u32, u32); 7] = [
        (100_000, 100_000, 1_600, 1_600, 1_514),
        (37_500_000, 75_000_000, 15_013, 3_333, 1_514),
        (10_000_000, 100_000_000, 15_000, 1_600, 3_028),
        (1_000_000_000, 1_000_000_000, 125_000, 125_000, 12_000),
        (123_456_789, 987_654_321, 77_777, 99_999, 2_222),
        (
            40_000_000_000,
            40_000_000_000,
            5_000_000,
            5_000_000,
            200_000,
        ),
        (2_000_000_000, 100_000_000_000, 250_000, 12_500_000, 200_000),
    ];
    for (rate, ceil, burst, cburst, quantum) in cases {
        ns.run(
            "tc",
            &[
                "class",
                "change",
                "dev",
                "qw0",
                "parent",
                "1:1",
                "classid",
                "1:10",
                "htb",
                "rate",
                &format!("{rate}bit"),
                "ceil",
                &format!("{ceil}bit"),
                "burst",
                &burst.to_string(),
                "cburst",
                &cburst.to_string(),
                "quantum",
                &quantum.to_string(),
            ],
        )?;
        writer.change(&HtbClassChange {
            ifindex,
            parent: tc_handle(1, 1),
            classid: BY_NETLINK,
            rate_bps: rate,
            ceil_bps: ceil,
            burst,
            cburst,
            quantum,
        })?;
        let dump = reader.dump_classes_only(ifindex)?;
        let params = |id| {
            dump.class(id)
                .and_then(|c| c.htb_params)
                .with_context(|| format!("no HTB parameters for {id:x}"))
        };
        let (by_tc, by_netlink) = (params(BY_TC)?, params(BY_NETLINK)?);
        ensure!(
            by_tc == by_netlink,
            "rate {rate} ceil {ceil} burst {burst} cburst {cburst}: tc gave {by_tc:?}, the writer {by_netlink:?}"
        );
        ensure!(
            by_netlink.rate.bytes_per_sec == rate / 8
                && by_netlink.ceil.bytes_per_sec == ceil / 8
                && by_netlink.quantum == quantum,
            "the change did not take: {by_netlink:?}"
        );
    }
    Ok(())
}

#[test]
fn refusals_are_the_kernels() -> Result<()> {
    let ns = bed()?;
    let mut writer = HtbClassWriter::new_in_netns(ns.path())?;
    let ifindex = writer.ifindex("qw0")?;
    let change = HtbClassChange {
        ifindex,
        parent: tc_handle(1, 1),
        classid: tc_handle(1, 0x99),
        rate_bps: 1_000_000,
        ceil_bps: 1_000_000,
        burst: 1_600,
        cburst: 1_600,
        quantum: 1_514,
    };
    // A class that does not exist is not created.
    let err = writer.change(&change).unwrap_err();
    ensure!(
        matches!(err, QueueStatsError::Kernel { ref source, .. } if source.raw_os_error() == Some(libc::ENOENT)),
        "{err:?}"
    );
    let shown = ns.run("tc", &["class", "show", "dev", "qw0"])?;
    ensure!(!shown.contains("1:99"), "a class was created: {shown}");
    // A rate of 0 bytes/s: the kernel's EINVAL, and the class keeps its configuration.
    let err = writer
        .change(&HtbClassChange {
            classid: BY_NETLINK,
            rate_bps: 7,
            ..change
        })
        .unwrap_err();
    ensure!(
        matches!(err, QueueStatsError::Kernel { ref source, .. } if source.raw_os_error() == Some(libc::EINVAL)),
        "{err:?}"
    );
    let mut reader = QueueReader::new_in_netns(ns.path())?;
    reader.set_htb_params(true);
    let kept = reader
        .dump_classes_only(ifindex)?
        .class(BY_NETLINK)
        .and_then(|c| c.htb_params)
        .context("1:20")?;
    ensure!(
        kept.rate.bytes_per_sec == 1_000_000 / 8 && kept.ceil.bytes_per_sec == 2_000_000 / 8,
        "a refused change altered the class: {kept:?}"
    );
    // An interface index nobody has.
    let err = writer
        .change(&HtbClassChange {
            ifindex: 9_999,
            ..change
        })
        .unwrap_err();
    ensure!(
        matches!(err, QueueStatsError::NoSuchInterface { ifindex: 9_999 }),
        "{err:?}"
    );
    Ok(())
}
