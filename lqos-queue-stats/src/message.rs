//! Decoding one `RTM_NEWQDISC` / `RTM_NEWTCLASS` payload (`struct tcmsg` then attributes) into
//! [`QdiscStats`] / [`ClassStats`], borrowing the datagram: no allocation but the kind string.

use netlink_packet_route::tc::{TcHeader, TcStatsBasic, TcStatsQueue};

use crate::error::DecodeError;
use crate::model::{ClassStats, QdiscStats};
use crate::nla::{u64_of, Nlas};

/// Length of `struct tcmsg`.
const TCMSG_LEN: usize = 20;

// enum { TCA_* } in linux/rtnetlink.h.
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_XSTATS: u16 = 4;
const TCA_STATS2: u16 = 7;

// enum { TCA_STATS_* } in linux/gen_stats.h.
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;
const TCA_STATS_APP: u16 = 4;
const TCA_STATS_PKT64: u16 = 8;

fn tca_name(kind: u16) -> &'static str {
    match kind {
        TCA_KIND => "TCA_KIND",
        TCA_OPTIONS => "TCA_OPTIONS",
        3 => "TCA_STATS",
        TCA_XSTATS => "TCA_XSTATS",
        TCA_STATS2 => "TCA_STATS2",
        _ => "a TCA attribute",
    }
}

fn stats_name(kind: u16) -> &'static str {
    match kind {
        TCA_STATS_BASIC => "TCA_STATS_BASIC",
        2 => "TCA_STATS_RATE_EST",
        TCA_STATS_QUEUE => "TCA_STATS_QUEUE",
        TCA_STATS_APP => "TCA_STATS_APP",
        TCA_STATS_PKT64 => "TCA_STATS_PKT64",
        _ => "a TCA_STATS attribute",
    }
}

/// The fields common to a qdisc and a class message, before the kind-specific xstats.
#[derive(Debug, Default)]
pub(crate) struct TcEntry<'a> {
    pub handle: u32,
    pub parent: u32,
    /// `tcm_info`: for a class, its leaf qdisc's handle (HTB); for a qdisc, its refcount.
    pub info: u32,
    pub kind: &'a str,
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    pub requeues: u64,
    pub backlog: u64,
    pub qlen: u64,
    /// The raw xstats: `TCA_STATS_APP`, else `TCA_XSTATS`.
    pub xstats: Option<&'a [u8]>,
    /// The raw `TCA_OPTIONS` (the kind's configuration).
    pub options: Option<&'a [u8]>,
}

/// The `tcm_ifindex` of a tc message, to skip other interfaces' messages before decoding them.
pub(crate) fn ifindex_of(payload: &[u8]) -> Result<i32, DecodeError> {
    match payload.get(4..8) {
        Some(b) => Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DecodeError::TooShort {
            what: "struct tcmsg",
            len: payload.len(),
            expected: TCMSG_LEN,
        }),
    }
}

/// Decodes `struct tcmsg` and the attributes this crate reads; others are skipped.
pub(crate) fn decode_entry(payload: &[u8]) -> Result<TcEntry<'_>, DecodeError> {
    let header = TcHeader::parse(payload).map_err(|e| DecodeError::Netlink {
        what: "struct tcmsg",
        message: e.to_string(),
    })?;
    let mut e = TcEntry {
        handle: header.handle.into(),
        parent: header.parent.into(),
        info: header.info,
        ..TcEntry::default()
    };
    let attrs = payload.get(TCMSG_LEN..).unwrap_or_default();
    let mut app = None;
    let mut compat_xstats = None;
    for nla in Nlas::new(attrs, "tc message attributes", tca_name) {
        let (kind, value) = nla?;
        match kind {
            TCA_KIND => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                e.kind =
                    std::str::from_utf8(&value[..end]).map_err(|err| DecodeError::Netlink {
                        what: "TCA_KIND",
                        message: err.to_string(),
                    })?;
            }
            TCA_STATS2 => decode_stats2(value, &mut e, &mut app)?,
            TCA_XSTATS => compat_xstats = Some(value),
            TCA_OPTIONS => e.options = Some(value),
            _ => {}
        }
    }
    e.xstats = app.or(compat_xstats);
    Ok(e)
}

fn decode_stats2<'a>(
    buf: &'a [u8],
    e: &mut TcEntry<'a>,
    app: &mut Option<&'a [u8]>,
) -> Result<(), DecodeError> {
    let mut pkt64 = None;
    for nla in Nlas::new(buf, "TCA_STATS2", stats_name) {
        let (kind, value) = nla?;
        match kind {
            TCA_STATS_BASIC => {
                let b = TcStatsBasic::parse(value).map_err(|err| DecodeError::Netlink {
                    what: "TCA_STATS_BASIC (struct gnet_stats_basic)",
                    message: err.to_string(),
                })?;
                e.bytes = b.bytes;
                e.packets = u64::from(b.packets);
            }
            TCA_STATS_QUEUE => {
                let q = TcStatsQueue::parse(value).map_err(|err| DecodeError::Netlink {
                    what: "TCA_STATS_QUEUE (struct gnet_stats_queue)",
                    message: err.to_string(),
                })?;
                e.qlen = u64::from(q.qlen);
                e.backlog = u64::from(q.backlog);
                e.drops = u64::from(q.drops);
                e.requeues = u64::from(q.requeues);
                e.overlimits = u64::from(q.overlimits);
            }
            TCA_STATS_APP => *app = Some(value),
            // Sent only when the packet count no longer fits the basic stats' u32.
            TCA_STATS_PKT64 => pkt64 = Some(u64_of(value, "TCA_STATS_PKT64")?),
            _ => {}
        }
    }
    if let Some(p) = pkt64 {
        e.packets = p;
    }
    Ok(())
}

impl TcEntry<'_> {
    /// The class this entry describes (xstats decoded by the caller).
    pub(crate) fn into_class(self) -> ClassStats {
        ClassStats {
            kind: self.kind.to_owned(),
            classid: self.handle,
            parent: self.parent,
            bytes: self.bytes,
            packets: self.packets,
            drops: self.drops,
            overlimits: self.overlimits,
            requeues: self.requeues,
            backlog_bytes: self.backlog,
            qlen: self.qlen,
            leaf_handle: (self.info != 0).then_some(self.info),
            htb: None,
            htb_params: None,
        }
    }

    /// The qdisc this entry describes (xstats decoded by the caller).
    pub(crate) fn into_qdisc(self) -> QdiscStats {
        QdiscStats {
            kind: self.kind.to_owned(),
            handle: self.handle,
            parent: self.parent,
            bytes: self.bytes,
            packets: self.packets,
            drops: self.drops,
            overlimits: self.overlimits,
            requeues: self.requeues,
            backlog_bytes: self.backlog,
            qlen: self.qlen,
            cake: None,
            fq_codel: None,
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
