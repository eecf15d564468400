//! tc messages built by hand as `tc_fill_qdisc` / `tc_fill_tclass` emit them.

use super::*;
use crate::nla::build::{nest, nla, nla_u64};

fn tcmsg(ifindex: i32, handle: u32, parent: u32, info: u32) -> Vec<u8> {
    let mut b = vec![0u8; 4]; // family, pad1, pad2
    b.extend_from_slice(&ifindex.to_ne_bytes());
    b.extend_from_slice(&handle.to_ne_bytes());
    b.extend_from_slice(&parent.to_ne_bytes());
    b.extend_from_slice(&info.to_ne_bytes());
    b
}

fn basic(bytes: u64, packets: u32) -> Vec<u8> {
    let mut b = bytes.to_ne_bytes().to_vec();
    b.extend_from_slice(&packets.to_ne_bytes());
    b.extend_from_slice(&[0; 4]);
    b
}

fn queue(vals: [u32; 5]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

#[test]
fn decodes_header_kind_stats2_and_app() {
    let mut m = tcmsg(7, 0x0001_0010, 0x0001_0001, 0x0010_0000);
    nla(&mut m, TCA_KIND, b"htb\0");
    nla(&mut m, 2, &[0; 12]); // TCA_OPTIONS, skipped
    let mut s2 = Vec::new();
    nla(&mut s2, TCA_STATS_BASIC, &basic(1_000_000_000_000, 42));
    nla(&mut s2, 2, &[0; 8]); // rate estimator, skipped
    nla(&mut s2, TCA_STATS_QUEUE, &queue([1, 2, 3, 4, 5]));
    nla(&mut s2, TCA_STATS_APP, &[9; 20]);
    nest(&mut m, TCA_STATS2, &s2);
    nla(&mut m, TCA_XSTATS, &[8; 20]);
    let e = decode_entry(&m).unwrap();
    assert_eq!(ifindex_of(&m).unwrap(), 7);
    assert_eq!(
        (e.handle, e.parent, e.info, e.kind),
        (0x0001_0010, 0x0001_0001, 0x0010_0000, "htb")
    );
    assert_eq!((e.bytes, e.packets), (1_000_000_000_000, 42));
    assert_eq!(
        (e.qlen, e.backlog, e.drops, e.requeues, e.overlimits),
        (1, 2, 3, 4, 5)
    );
    assert_eq!(
        e.xstats,
        Some(&[9u8; 20][..]),
        "TCA_STATS_APP wins over TCA_XSTATS"
    );
    let c = e.into_class();
    assert_eq!(c.leaf_handle, Some(0x0010_0000));
    assert_eq!(c.classid, 0x0001_0010);
}

#[test]
fn pkt64_replaces_the_u32_packet_count() {
    let mut m = tcmsg(1, 0, 0, 0);
    nla(&mut m, TCA_KIND, b"pfifo\0");
    let mut s2 = Vec::new();
    nla(&mut s2, TCA_STATS_BASIC, &basic(10, 5));
    nla_u64(&mut s2, TCA_STATS_PKT64, 5 + (1 << 32));
    nest(&mut m, TCA_STATS2, &s2);
    let e = decode_entry(&m).unwrap();
    assert_eq!(e.packets, 5 + (1 << 32));
    assert_eq!(e.xstats, None);
    assert_eq!(e.into_class().leaf_handle, None);
}

#[test]
fn compat_xstats_is_used_without_stats_app() {
    let mut m = tcmsg(1, 0, 0, 0);
    nla(&mut m, TCA_XSTATS, &[3; 8]);
    assert_eq!(decode_entry(&m).unwrap().xstats, Some(&[3u8; 8][..]));
}

#[test]
fn short_header_and_short_stats_are_errors_naming_them() {
    let m = tcmsg(1, 0, 0, 0);
    let err = decode_entry(&m[..19]).unwrap_err();
    assert!(err.to_string().contains("tcmsg"), "{err}");
    assert!(ifindex_of(&m[..7]).is_err());

    let mut m = tcmsg(1, 0, 0, 0);
    let mut s2 = Vec::new();
    nla(&mut s2, TCA_STATS_QUEUE, &[0; 12]);
    nest(&mut m, TCA_STATS2, &s2);
    let err = decode_entry(&m).unwrap_err();
    assert!(err.to_string().contains("TCA_STATS_QUEUE"), "{err}");

    let mut m = tcmsg(1, 0, 0, 0);
    let mut s2 = Vec::new();
    nla(&mut s2, TCA_STATS_BASIC, &basic(1, 1));
    nest(&mut m, TCA_STATS2, &s2);
    m.truncate(m.len() - 4);
    let err = decode_entry(&m).unwrap_err();
    assert!(err.to_string().contains("TCA_STATS2"), "{err}");
}
