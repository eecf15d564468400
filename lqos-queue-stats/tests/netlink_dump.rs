//! Privileged tests (root): a shaper namespace with an HTB root and two classes with pfifo and
//! bfifo leaves on one end of a veth pair, UDP traffic classified into one class, and the
//! netlink dump compared with what `tc` prints right after. They fail (never skip) without root.

mod support;

use anyhow::{ensure, Context, Result};
use lqos_queue_stats::{tc_handle, QueueReader, QueueStatsError, TC_H_ROOT};
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use support::netns::NetNs;
use support::tc_output::{parse_classes, parse_qdiscs};

const SHAPER_IP: &str = "100.64.77.1";
const PEER_IP: &str = "100.64.77.2";
/// UDP datagrams sent into class 1:10, and their payload.
const SENT: u64 = 60;
const PAYLOAD: usize = 1000;
/// What the qdisc counts per datagram: Ethernet 14 + IPv4 20 + UDP 8 + payload.
const WIRE_LEN: u64 = 14 + 20 + 8 + PAYLOAD as u64;

const C1: u32 = tc_handle(1, 1);
const C10: u32 = tc_handle(1, 0x10);
const C20: u32 = tc_handle(1, 0x20);
const C30: u32 = tc_handle(1, 0x30);

/// The shaper namespace (veth `qa0` with the HTB tree, plus `qc0` with an unrelated root
/// pfifo) and the peer namespace (`qb0`).
struct Bed {
    shaper: NetNs,
    _peer: NetNs,
}

fn bed() -> Result<Bed> {
    let shaper = NetNs::new("shaper")?;
    let peer = NetNs::new("peer")?;
    shaper.run(
        "ip",
        &[
            "link",
            "add",
            "qa0",
            "type",
            "veth",
            "peer",
            "name",
            "qb0",
            "netns",
            peer.name(),
        ],
    )?;
    shaper.run(
        "ip",
        &["addr", "add", &format!("{SHAPER_IP}/30"), "dev", "qa0"],
    )?;
    peer.run(
        "ip",
        &["addr", "add", &format!("{PEER_IP}/30"), "dev", "qb0"],
    )?;
    peer.run("ip", &["link", "set", "qb0", "up"])?;
    shaper.run("ip", &["link", "set", "qa0", "up"])?;
    // No ARP exchange in the middle of the counts.
    let link: serde_json::Value =
        serde_json::from_str(&peer.run("ip", &["-j", "link", "show", "qb0"])?)?;
    let mac = link[0]["address"].as_str().context("qb0 MAC")?.to_owned();
    shaper.run(
        "ip",
        &[
            "neigh",
            "replace",
            PEER_IP,
            "lladdr",
            &mac,
            "dev",
            "qa0",
            "nud",
            "permanent",
        ],
    )?;
    // Another interface with a qdisc in the same namespace: its qdisc must not show up in
    // qa0's dump (the kernel's qdisc dump covers every interface).
    shaper.run(
        "ip",
        &["link", "add", "qc0", "type", "veth", "peer", "name", "qd0"],
    )?;
    shaper.tc_batch(
        "qdisc add dev qa0 root handle 1: htb default 0\n\
         class add dev qa0 parent 1: classid 1:1 htb rate 100mbit\n\
         class add dev qa0 parent 1:1 classid 1:10 htb rate 1mbit ceil 1mbit burst 1600 cburst 1600\n\
         class add dev qa0 parent 1:1 classid 1:20 htb rate 1mbit ceil 1mbit\n\
         class add dev qa0 parent 1:1 classid 1:30 htb rate 1mbit ceil 1mbit\n\
         qdisc add dev qa0 parent 1:10 handle 10: pfifo limit 10\n\
         qdisc add dev qa0 parent 1:20 handle 20: bfifo limit 30000\n\
         filter add dev qa0 parent 1: protocol ip prio 1 u32 match ip protocol 17 0xff flowid 1:10\n\
         qdisc add dev qc0 root handle 5: pfifo limit 7\n",
    )?;
    Ok(Bed {
        shaper,
        _peer: peer,
    })
}

/// Sends the datagrams from inside the shaper namespace, as fast as the socket goes.
fn send_udp(ns: &NetNs) -> Result<()> {
    ns.in_ns(|| -> std::io::Result<()> {
        let sock = UdpSocket::bind((SHAPER_IP, 0))?;
        let buf = [0x5au8; PAYLOAD];
        for _ in 0..SENT {
            sock.send_to(&buf, (PEER_IP, 9))?;
        }
        Ok(())
    })??;
    Ok(())
}

fn reader_and_index(bed: &Bed) -> Result<(QueueReader, u32)> {
    let mut reader = QueueReader::new_in_netns(bed.shaper.path())?;
    let ifindex = reader.ifindex("qa0")?;
    Ok((reader, ifindex))
}

#[test]
fn dump_matches_tc_after_traffic_into_one_class() -> Result<()> {
    let bed = bed()?;
    let (mut reader, ifindex) = reader_and_index(&bed)?;

    send_udp(&bed.shaper)?;
    // At 1 Mbit/s the 10 queued datagrams take ~80 ms to leave: they are still queued now.
    let busy = reader.dump(ifindex)?;
    let leaf = busy.leaf_of(C10).context("leaf of 1:10 while busy")?;
    ensure!(
        leaf.qlen > 0 && leaf.backlog_bytes > 0,
        "nothing queued: {leaf:?}"
    );
    let class = &busy.classes[&C10];
    ensure!(
        class.qlen == leaf.qlen && class.backlog_bytes == leaf.backlog_bytes,
        "an HTB leaf class reports its leaf's queue: {class:?} vs {leaf:?}"
    );

    // Wait until the queue drained, then read netlink and tc back to back.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let q = reader.dump(ifindex)?;
        if q.leaf_of(C10).map(|l| l.qlen) == Some(0) {
            break;
        }
        ensure!(Instant::now() < deadline, "queue of 1:10 never drained");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dump = reader.dump(ifindex)?;
    let tc_classes = parse_classes(
        &bed.shaper
            .run("tc", &["-s", "class", "show", "dev", "qa0"])?,
    )?;
    let tc_qdiscs = parse_qdiscs(
        &bed.shaper
            .run("tc", &["-s", "-j", "qdisc", "show", "dev", "qa0"])?,
    )?;

    // Class 1:10 got every datagram: sent or dropped by its 10-packet pfifo.
    let c10 = &dump.classes[&C10];
    let l10 = dump.leaf_of(C10).context("leaf of 1:10")?;
    assert_eq!(c10.kind, "htb");
    assert_eq!(c10.parent, C1);
    assert_eq!(c10.leaf_handle, Some(tc_handle(0x10, 0)));
    assert_eq!(
        (l10.kind.as_str(), l10.handle),
        ("pfifo", tc_handle(0x10, 0))
    );
    assert!(
        l10.drops > 0,
        "the burst must overflow pfifo limit 10: {l10:?}"
    );
    assert_eq!(c10.packets + l10.drops, SENT, "{c10:?} {l10:?}");
    assert_eq!(c10.drops, l10.drops);
    assert_eq!(c10.bytes, c10.packets * WIRE_LEN);
    assert_eq!((l10.bytes, l10.packets), (c10.bytes, c10.packets));
    assert!(
        c10.overlimits > 0,
        "1 Mbit/s must throttle the burst: {c10:?}"
    );
    let htb = c10.htb.context("HTB xstats of 1:10")?;
    assert_eq!(
        u64::from(htb.lends),
        c10.packets,
        "1:10 never borrows: {htb:?}"
    );

    // Class 1:20 and its bfifo saw nothing.
    let c20 = &dump.classes[&C20];
    let l20 = dump.leaf_of(C20).context("leaf of 1:20")?;
    assert_eq!((c20.bytes, c20.packets, c20.drops), (0, 0, 0));
    assert_eq!(
        (l20.kind.as_str(), l20.handle, l20.packets),
        ("bfifo", tc_handle(0x20, 0), 0)
    );

    // The parent class carried exactly what its children sent.
    assert_eq!(dump.classes[&C1].bytes, c10.bytes);
    assert_eq!(dump.classes[&C1].parent, TC_H_ROOT);

    // Every class and qdisc equals tc's numbers.
    assert_eq!(dump.classes.len(), tc_classes.len(), "{tc_classes:?}");
    for t in &tc_classes {
        let c = dump
            .classes
            .get(&t.classid)
            .with_context(|| format!("class {t:?}"))?;
        let got = (
            c.kind.as_str(),
            c.parent,
            c.leaf_handle,
            c.bytes,
            c.packets,
            c.drops,
            c.overlimits,
            c.requeues,
            c.backlog_bytes,
            c.qlen,
        );
        let want = (
            t.kind.as_str(),
            t.parent,
            t.leaf,
            t.bytes,
            t.packets,
            t.drops,
            t.overlimits,
            t.requeues,
            t.backlog,
            t.qlen,
        );
        assert_eq!(got, want, "class {:x}", t.classid);
        let h = c.htb.context("HTB xstats")?;
        let got = (
            h.lends,
            h.borrows,
            h.giants,
            i64::from(h.tokens),
            i64::from(h.ctokens),
        );
        assert_eq!(Some(got), t.htb, "HTB xstats of class {:x}", t.classid);
    }
    assert_eq!(dump.qdiscs.len(), tc_qdiscs.len(), "{tc_qdiscs:?}");
    for t in &tc_qdiscs {
        let q = dump
            .qdiscs
            .iter()
            .find(|q| q.handle == t.handle)
            .with_context(|| format!("qdisc {t:?}"))?;
        let got = (
            q.kind.as_str(),
            q.parent,
            q.bytes,
            q.packets,
            q.drops,
            q.overlimits,
            q.requeues,
            q.backlog_bytes,
            q.qlen,
        );
        let want = (
            t.kind.as_str(),
            t.parent,
            t.bytes,
            t.packets,
            t.drops,
            t.overlimits,
            t.requeues,
            t.backlog,
            t.qlen,
        );
        assert_eq!(got, want, "qdisc {:x}", t.handle);
        assert!(q.cake.is_none() && q.fq_codel.is_none());
    }
    let root = dump.root().context("root qdisc")?;
    assert_eq!((root.kind.as_str(), root.handle), ("htb", tc_handle(1, 0)));
    assert!(
        dump.qdiscs.iter().all(|q| q.handle != tc_handle(5, 0)),
        "qc0's qdisc leaked into qa0's dump"
    );
    Ok(())
}

#[test]
fn classes_only_dump_and_single_leaf_lookup_match_the_full_dump() -> Result<()> {
    let bed = bed()?;
    let (mut reader, idx) = reader_and_index(&bed)?;
    send_udp(&bed.shaper)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while reader.dump(idx)?.leaf_of(C10).map(|l| l.qlen) != Some(0) {
        ensure!(Instant::now() < deadline, "queue of 1:10 never drained");
        std::thread::sleep(Duration::from_millis(20));
    }
    let full = reader.dump(idx)?;
    let classes = reader.dump_classes_only(idx)?;
    assert!(classes.qdiscs.is_empty());
    assert_eq!(classes.classes, full.classes);
    assert!(full.classes[&C10].packets > 0);

    let leaf = reader.leaf_qdisc(idx, C10)?.context("leaf of 1:10")?;
    assert_eq!(Some(&leaf), full.leaf_of(C10));
    assert_eq!(
        reader.leaf_qdisc(idx, C20)?.context("leaf of 1:20")?.kind,
        "bfifo"
    );
    // No visible leaf, no such class: None, not an error.
    assert_eq!(reader.leaf_qdisc(idx, C30)?, None);
    assert_eq!(reader.leaf_qdisc(idx, tc_handle(1, 0x99))?, None);
    assert!(matches!(
        reader.leaf_qdisc(999_999, C10),
        Err(QueueStatsError::NoSuchInterface { ifindex: 999_999 })
    ));
    assert!(matches!(
        reader.dump_classes_only(999_999),
        Err(QueueStatsError::NoSuchInterface { .. })
    ));
    Ok(())
}

#[test]
fn missing_interface_index_is_a_clear_error() -> Result<()> {
    let bed = bed()?;
    let (mut reader, _) = reader_and_index(&bed)?;
    let err = reader.dump(999_999).unwrap_err();
    assert!(
        matches!(err, QueueStatsError::NoSuchInterface { ifindex: 999_999 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("999999"), "{err}");
    assert!(matches!(
        reader.dump(0),
        Err(QueueStatsError::NoSuchInterface { ifindex: 0 })
    ));
    assert!(matches!(
        reader.dump(u32::MAX),
        Err(QueueStatsError::BadIndex { .. })
    ));
    let err = reader.ifindex("nosuch0").unwrap_err();
    assert!(
        matches!(err, QueueStatsError::NoSuchInterfaceName { ref name } if name == "nosuch0"),
        "{err:?}"
    );
    // The socket still works after the errors.
    let idx = reader.ifindex("qa0")?;
    assert!(reader.dump(idx)?.classes.contains_key(&C10));
    Ok(())
}

#[test]
fn interface_without_qdiscs_is_empty_not_an_error() -> Result<()> {
    let bed = bed()?;
    let (mut reader, _) = reader_and_index(&bed)?;
    // qd0 was never up: it has the built-in noop qdisc, which the kernel does not dump.
    let qd0 = reader.ifindex("qd0")?;
    let q = reader.dump(qd0)?;
    assert!(q.qdiscs.is_empty() && q.classes.is_empty(), "{q:?}");
    Ok(())
}

#[test]
fn socket_opened_by_a_thread_that_did_setns_reads_that_namespace() -> Result<()> {
    let bed = bed()?;
    // The rule: the socket takes the namespace of the thread that opens it...
    let mut reader = bed.shaper.in_ns(QueueReader::new)??;
    // ...and keeps it when used from this thread, which is still in the initial namespace.
    let idx = reader.ifindex("qa0")?;
    let q = reader.dump(idx)?;
    assert_eq!(q.classes.len(), 4, "{:?}", q.classes.keys());
    assert_eq!(q.leaf_of(C20).context("bfifo leaf")?.kind, "bfifo");
    Ok(())
}

#[test]
fn invisible_default_leaves_only_when_asked() -> Result<()> {
    let bed = bed()?;
    let (mut reader, idx) = reader_and_index(&bed)?;
    // 1:30 has no explicit leaf: HTB gave it a hidden default pfifo.
    assert!(reader.dump(idx)?.leaf_of(C30).is_none());
    reader.set_dump_invisible(true);
    let q = reader.dump(idx)?;
    let leaf = q.leaf_of(C30).context("default leaf of 1:30")?;
    assert_eq!(leaf.kind, "pfifo");
    assert_eq!(q.leaf_of(C10).context("1:10")?.handle, tc_handle(0x10, 0));
    Ok(())
}

#[test]
fn namespace_errors_are_reported() {
    let err = QueueReader::new_in_netns("/run/netns/lqqs-does-not-exist").unwrap_err();
    assert!(matches!(err, QueueStatsError::Namespace { .. }), "{err:?}");
    // A file that is not a namespace: setns fails with EINVAL.
    let err = QueueReader::new_in_netns("/proc/self/status").unwrap_err();
    assert!(
        matches!(err, QueueStatsError::Namespace { ref source, .. } if source.raw_os_error() == Some(libc::EINVAL)),
        "{err:?}"
    );
}
