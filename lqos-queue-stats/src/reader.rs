//! [`QueueReader`]: one NETLINK_ROUTE socket, one `RTM_GETQDISC` and one `RTM_GETTCLASS` dump
//! per [`QueueReader::dump`], decoded while the datagrams stream in.
//!
//! **Namespaces.** A netlink socket belongs to the network namespace of the thread that created
//! it, for its whole life, whatever thread uses it later. Create the reader in the shaper's
//! namespace: lqosd runs there already, so [`QueueReader::new`] is right; a process elsewhere
//! uses [`QueueReader::new_in_netns`], which opens the socket from a short-lived thread that
//! entered the namespace with `setns`. Interface indexes are per namespace too:
//! [`QueueReader::ifindex`] resolves a name in the socket's namespace.

use std::collections::HashMap;
use std::path::Path;

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_ECHO, NLM_F_REQUEST};
use netlink_packet_route::tc::{TcAttribute, TcMessage};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{DecodeError, QueueStatsError};
use crate::message::{decode_entry, ifindex_of, TcEntry};
use crate::model::{ClassStats, InterfaceQueues, QdiscStats};
use crate::socket::{in_netns, no_such_interface, RouteSocket};
use crate::{decode_cake_xstats, decode_fq_codel_xstats, decode_htb_options, decode_htb_xstats};

// linux/rtnetlink.h
const RTM_NEWQDISC: u16 = 36;
const RTM_NEWTCLASS: u16 = 40;

/// Reads the queue statistics of interfaces over rtnetlink. Owns one socket and one receive
/// buffer, reused by every dump; `Send`, so it can live on any thread (see the module doc for
/// namespaces).
#[derive(Debug)]
pub struct QueueReader {
    sock: RouteSocket,
    dump_invisible: bool,
    htb_params: bool,
}

/// Xstats that could not be decoded in one dump: counted and logged once, the counters of the
/// qdisc or class are kept (a kernel whose layout differs must not hide all statistics).
#[derive(Default)]
struct XstatsFailures {
    count: u64,
    first: Option<(String, u32, DecodeError)>,
}

impl XstatsFailures {
    fn note<T>(&mut self, r: Result<T, DecodeError>, kind: &str, handle: u32) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.count += 1;
                self.first.get_or_insert((kind.to_owned(), handle, e));
                None
            }
        }
    }

    fn log(self, ifindex: u32) {
        if let Some((kind, handle, err)) = self.first {
            tracing::warn!(
                ifindex,
                count = self.count,
                "undecodable xstats, first on {kind} {:x}:{:x}: {err}",
                handle >> 16,
                handle & 0xffff
            );
        }
    }
}

impl QueueReader {
    /// Opens a NETLINK_ROUTE socket in the calling thread's network namespace.
    pub fn new() -> Result<Self, QueueStatsError> {
        Ok(QueueReader {
            sock: RouteSocket::new()?,
            dump_invisible: false,
            htb_params: false,
        })
    }

    /// Opens the socket in the network namespace of `netns_file` (`/run/netns/NAME` or
    /// `/proc/PID/ns/net`), from a short-lived thread that `setns`es into it; the calling
    /// thread's namespace is untouched. The reader then works from any thread.
    pub fn new_in_netns(netns_file: impl AsRef<Path>) -> Result<Self, QueueStatsError> {
        in_netns(netns_file.as_ref(), QueueReader::new)
    }

    /// Also decode each HTB class's configuration ([`ClassStats::htb_params`]: rates, bursts,
    /// quantum as the kernel holds them). Off by default: statistics readers do not need it.
    pub fn set_htb_params(&mut self, on: bool) {
        self.htb_params = on;
    }

    /// The index of interface `name` in the socket's namespace (`RTM_GETLINK` by name).
    pub fn ifindex(&mut self, name: &str) -> Result<u32, QueueStatsError> {
        self.sock.ifindex(name)
    }

    /// Also dump qdiscs the kernel hides from `tc qdisc show` (`TCA_DUMP_INVISIBLE`, tc's
    /// `invisible`), such as the default pfifo leaves HTB creates for classes without a leaf.
    /// Off by default, like `tc`.
    pub fn set_dump_invisible(&mut self, on: bool) {
        self.dump_invisible = on;
    }

    /// Dumps the qdiscs and classes of interface `ifindex` (in the socket's namespace): two
    /// netlink dumps, decoded as they arrive. An index no interface has is
    /// [`QueueStatsError::NoSuchInterface`].
    pub fn dump(&mut self, ifindex: u32) -> Result<InterfaceQueues, QueueStatsError> {
        let index = i32::try_from(ifindex).map_err(|_| QueueStatsError::BadIndex { ifindex })?;
        if index == 0 {
            return Err(QueueStatsError::NoSuchInterface { ifindex });
        }
        let mut failures = XstatsFailures::default();
        let qdiscs = self.dump_qdiscs(ifindex, index, &mut failures)?;
        if qdiscs.is_empty() {
            // A missing interface gives empty dumps: tell it from one without qdiscs.
            self.sock.check_link(ifindex)?;
        }
        let classes = self.dump_classes(ifindex, index, qdiscs.len(), &mut failures)?;
        failures.log(ifindex);
        Ok(InterfaceQueues::new(classes, qdiscs))
    }

    /// Dumps only the classes of interface `ifindex` (one `RTM_GETTCLASS` dump): for an HTB
    /// leaf class, bytes, packets, drops, overlimits, and its leaf's backlog and qlen, without
    /// the qdisc dump's cost. `qdiscs` is empty. An unknown index is
    /// [`QueueStatsError::NoSuchInterface`].
    pub fn dump_classes_only(&mut self, ifindex: u32) -> Result<InterfaceQueues, QueueStatsError> {
        let index = i32::try_from(ifindex).map_err(|_| QueueStatsError::BadIndex { ifindex })?;
        if index == 0 {
            return Err(QueueStatsError::NoSuchInterface { ifindex });
        }
        let mut failures = XstatsFailures::default();
        let classes = self.dump_classes(ifindex, index, 0, &mut failures)?;
        if classes.is_empty() {
            self.sock.check_link(ifindex)?;
        }
        failures.log(ifindex);
        Ok(InterfaceQueues::new(classes, Vec::new()))
    }

    /// The qdisc attached to class `classid` of interface `ifindex` (its leaf: CAKE,
    /// fq_codel...), asked for alone (`RTM_GETQDISC` by parent, not a dump): what a watched
    /// circuit needs every second. `Ok(None)` when the class has no visible leaf or does not
    /// exist.
    pub fn leaf_qdisc(
        &mut self,
        ifindex: u32,
        classid: u32,
    ) -> Result<Option<QdiscStats>, QueueStatsError> {
        const REQ: &str = "RTM_GETQDISC";
        let index = i32::try_from(ifindex).map_err(|_| QueueStatsError::BadIndex { ifindex })?;
        let mut msg = TcMessage::with_index(index);
        msg.header.parent = classid.into();
        // The kernel answers a qdisc get with rtnetlink_send(), which unicasts to the asker
        // only with NLM_F_ECHO; it sends nothing for a hidden leaf, but NLM_F_ACK always ends
        // the answer.
        let seq = self.sock.send(
            REQ,
            RouteNetlinkMessage::GetQueueDiscipline(msg),
            NLM_F_REQUEST | NLM_F_ECHO | NLM_F_ACK,
        )?;
        let mut failures = XstatsFailures::default();
        let mut found = None;
        let r = self.sock.receive(REQ, ifindex, seq, |ty, payload| {
            if ty == RTM_NEWQDISC {
                found = Some(qdisc_with_xstats(decode_entry(payload)?, &mut failures));
            }
            Ok(())
        });
        failures.log(ifindex);
        match r.map_err(|e| no_such_interface(e, ifindex)) {
            Ok(()) => Ok(found.filter(|q| q.parent == classid)),
            Err(QueueStatsError::Kernel { source, .. })
                if source.raw_os_error() == Some(libc::ENOENT) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn dump_qdiscs(
        &mut self,
        ifindex: u32,
        index: i32,
        failures: &mut XstatsFailures,
    ) -> Result<Vec<QdiscStats>, QueueStatsError> {
        const REQ: &str = "RTM_GETQDISC";
        let mut msg = TcMessage::with_index(index);
        if self.dump_invisible {
            msg.attributes.push(TcAttribute::DumpInvisible(true));
        }
        let seq = self.sock.send(
            REQ,
            RouteNetlinkMessage::GetQueueDiscipline(msg),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        let mut qdiscs = Vec::new();
        self.sock.receive(REQ, ifindex, seq, |ty, payload| {
            // The kernel dumps the qdiscs of every interface: skip the others undecoded.
            if ty != RTM_NEWQDISC || ifindex_of(payload)? != index {
                return Ok(());
            }
            let entry = decode_entry(payload)?;
            qdiscs.push(qdisc_with_xstats(entry, failures));
            Ok(())
        })?;
        Ok(qdiscs)
    }

    fn dump_classes(
        &mut self,
        ifindex: u32,
        index: i32,
        expected: usize,
        failures: &mut XstatsFailures,
    ) -> Result<HashMap<u32, ClassStats>, QueueStatsError> {
        const REQ: &str = "RTM_GETTCLASS";
        let seq = self.sock.send(
            REQ,
            RouteNetlinkMessage::GetTrafficClass(TcMessage::with_index(index)),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        let mut classes = HashMap::with_capacity(expected);
        self.sock.receive(REQ, ifindex, seq, |ty, payload| {
            if ty != RTM_NEWTCLASS || ifindex_of(payload)? != index {
                return Ok(());
            }
            let entry = decode_entry(payload)?;
            let class = class_with_xstats(entry, self.htb_params, failures);
            classes.insert(class.classid, class);
            Ok(())
        })?;
        Ok(classes)
    }
}

fn qdisc_with_xstats(entry: TcEntry<'_>, failures: &mut XstatsFailures) -> QdiscStats {
    let xstats = entry.xstats;
    let mut q = entry.into_qdisc();
    if let Some(x) = xstats {
        match q.kind.as_str() {
            "cake" => q.cake = failures.note(decode_cake_xstats(x), &q.kind, q.handle),
            "fq_codel" => q.fq_codel = failures.note(decode_fq_codel_xstats(x), &q.kind, q.handle),
            _ => {}
        }
    }
    q
}

fn class_with_xstats(
    entry: TcEntry<'_>,
    params: bool,
    failures: &mut XstatsFailures,
) -> ClassStats {
    let (xstats, options) = (entry.xstats, entry.options);
    let mut c = entry.into_class();
    if c.kind == "htb" {
        if let Some(x) = xstats {
            c.htb = failures.note(decode_htb_xstats(x), &c.kind, c.classid);
        }
        if let (Some(o), true) = (options, params) {
            c.htb_params = failures.note(decode_htb_options(o), &c.kind, c.classid);
        }
    }
    c
}
