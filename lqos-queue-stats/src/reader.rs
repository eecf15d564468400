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
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_ECHO, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::tc::{TcAttribute, TcMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{DecodeError, QueueStatsError};
use crate::message::{decode_entry, ifindex_of, TcEntry};
use crate::model::{ClassStats, InterfaceQueues, QdiscStats};
use crate::{decode_cake_xstats, decode_fq_codel_xstats, decode_htb_xstats};

// linux/rtnetlink.h
const RTM_NEWLINK: u16 = 16;
const RTM_NEWQDISC: u16 = 36;
const RTM_NEWTCLASS: u16 = 40;

/// Length of `struct nlmsghdr`.
const NLMSG_HDRLEN: usize = 16;

/// Receive buffer. The kernel fills a dump datagram up to 32 KiB; more room costs nothing but
/// address space and guards against a larger single message.
const RECV_BUF: usize = 256 * 1024;

/// Longest wait for one datagram: a kernel that never answers must not hang lqosd.
const RECV_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn set_recv_timeout(socket: &Socket, t: std::time::Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(t.subsec_micros() as i32),
    };
    // SAFETY: a valid socket fd and a timeval of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the queue statistics of interfaces over rtnetlink. Owns one socket and one receive
/// buffer, reused by every dump; `Send`, so it can live on any thread (see the module doc for
/// namespaces).
pub struct QueueReader {
    socket: Socket,
    buf: Vec<u8>,
    seq: u32,
    dump_invisible: bool,
}

impl std::fmt::Debug for QueueReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueReader")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
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
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(QueueStatsError::Socket)?;
        socket.bind_auto().map_err(QueueStatsError::Socket)?;
        // Only the kernel (port 0) may send to this socket.
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(QueueStatsError::Socket)?;
        set_recv_timeout(&socket, RECV_TIMEOUT).map_err(QueueStatsError::Socket)?;
        Ok(QueueReader {
            socket,
            buf: vec![0; RECV_BUF],
            seq: 0,
            dump_invisible: false,
        })
    }

    /// Opens the socket in the network namespace of `netns_file` (`/run/netns/NAME` or
    /// `/proc/PID/ns/net`), from a short-lived thread that `setns`es into it; the calling
    /// thread's namespace is untouched. The reader then works from any thread.
    pub fn new_in_netns(netns_file: impl AsRef<Path>) -> Result<Self, QueueStatsError> {
        let path = netns_file.as_ref().to_path_buf();
        let shown = path.display().to_string();
        let ns_err = |source| QueueStatsError::Namespace {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(&path).map_err(ns_err)?;
        let thread = std::thread::Builder::new()
            .name("lqos-netns-open".into())
            .spawn(move || {
                // SAFETY: setns with a valid namespace fd; CLONE_NEWNET changes only this
                // thread, which ends right after opening the socket.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(io::Error::last_os_error());
                }
                QueueReader::new().map_err(|e| match e {
                    QueueStatsError::Socket(source) => source,
                    other => io::Error::other(other.to_string()),
                })
            })
            .map_err(|_| QueueStatsError::NamespaceThread {
                path: shown.clone(),
            })?;
        match thread.join() {
            Ok(Ok(reader)) => Ok(reader),
            Ok(Err(source)) => Err(QueueStatsError::Namespace {
                path: shown,
                source,
            }),
            Err(_) => Err(QueueStatsError::NamespaceThread { path: shown }),
        }
    }

    /// Also dump qdiscs the kernel hides from `tc qdisc show` (`TCA_DUMP_INVISIBLE`, tc's
    /// `invisible`), such as the default pfifo leaves HTB creates for classes without a leaf.
    /// Off by default, like `tc`.
    pub fn set_dump_invisible(&mut self, on: bool) {
        self.dump_invisible = on;
    }

    /// The index of interface `name` in the socket's namespace (`RTM_GETLINK` by name).
    pub fn ifindex(&mut self, name: &str) -> Result<u32, QueueStatsError> {
        const REQ: &str = "RTM_GETLINK";
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let seq = self.send(
            REQ,
            RouteNetlinkMessage::GetLink(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        )?;
        let mut index = None;
        self.receive(REQ, 0, seq, |ty, payload| {
            if ty == RTM_NEWLINK {
                index = Some(ifinfo_index(payload)?);
            }
            Ok(())
        })
        .map_err(|e| match no_such_interface(e, 0) {
            QueueStatsError::NoSuchInterface { .. } => QueueStatsError::NoSuchInterfaceName {
                name: name.to_owned(),
            },
            other => other,
        })?;
        index.ok_or_else(|| QueueStatsError::NoSuchInterfaceName {
            name: name.to_owned(),
        })
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
            self.check_link(ifindex)?;
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
            self.check_link(ifindex)?;
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
        let seq = self.send(
            REQ,
            RouteNetlinkMessage::GetQueueDiscipline(msg),
            NLM_F_REQUEST | NLM_F_ECHO | NLM_F_ACK,
        )?;
        let mut failures = XstatsFailures::default();
        let mut found = None;
        let r = self.receive(REQ, ifindex, seq, |ty, payload| {
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
        let seq = self.send(
            REQ,
            RouteNetlinkMessage::GetQueueDiscipline(msg),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        let mut qdiscs = Vec::new();
        self.receive(REQ, ifindex, seq, |ty, payload| {
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
        let seq = self.send(
            REQ,
            RouteNetlinkMessage::GetTrafficClass(TcMessage::with_index(index)),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        let mut classes = HashMap::with_capacity(expected);
        self.receive(REQ, ifindex, seq, |ty, payload| {
            if ty != RTM_NEWTCLASS || ifindex_of(payload)? != index {
                return Ok(());
            }
            let entry = decode_entry(payload)?;
            let class = class_with_xstats(entry, failures);
            classes.insert(class.classid, class);
            Ok(())
        })?;
        Ok(classes)
    }

    /// `RTM_GETLINK` by index: `ENODEV` becomes [`QueueStatsError::NoSuchInterface`].
    fn check_link(&mut self, ifindex: u32) -> Result<(), QueueStatsError> {
        const REQ: &str = "RTM_GETLINK";
        let mut msg = LinkMessage::default();
        msg.header.index = ifindex;
        let seq = self.send(
            REQ,
            RouteNetlinkMessage::GetLink(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        )?;
        self.receive(REQ, ifindex, seq, |_, _| Ok(()))
            .map_err(|e| no_such_interface(e, ifindex))
    }

    /// Sends `msg` with `flags` and a new sequence number, which it returns.
    fn send(
        &mut self,
        request: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<u32, QueueStatsError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket
            .send(&out, 0)
            .map_err(|source| QueueStatsError::Send { request, source })?;
        Ok(self.seq)
    }

    /// Receives the answer to request `seq` until its end (`NLMSG_DONE` of a dump, or
    /// `NLMSG_ERROR`: an error, or the ACK every non-dump request asks for), handing each message's type and payload to `on_msg`.
    /// Messages of earlier requests (a dump abandoned by an error) are skipped. After a decode
    /// error the rest of the dump is still drained, so the socket is clean for the next call.
    fn receive(
        &mut self,
        request: &'static str,
        ifindex: u32,
        seq: u32,
        mut on_msg: impl FnMut(u16, &[u8]) -> Result<(), DecodeError>,
    ) -> Result<(), QueueStatsError> {
        let mut failed: Option<QueueStatsError> = None;
        let mut interrupted = false;
        loop {
            let len = {
                let mut slice: &mut [u8] = &mut self.buf[..];
                self.socket
                    .recv(&mut slice, libc::MSG_TRUNC)
                    .map_err(|source| QueueStatsError::Recv { request, source })?
            };
            if len > self.buf.len() {
                return Err(QueueStatsError::Truncated {
                    request,
                    len,
                    buffer: self.buf.len(),
                });
            }
            let mut offset = 0;
            while offset + NLMSG_HDRLEN <= len {
                let h = &self.buf[offset..offset + NLMSG_HDRLEN];
                let msg_len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let ty = u16::from_ne_bytes([h[4], h[5]]);
                let flags = u16::from_ne_bytes([h[6], h[7]]);
                let msg_seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
                if msg_len < NLMSG_HDRLEN || offset + msg_len > len {
                    let source = DecodeError::BadMessage {
                        offset,
                        declared: msg_len,
                        available: len - offset,
                    };
                    return Err(QueueStatsError::Decode { request, source });
                }
                let payload = &self.buf[offset + NLMSG_HDRLEN..offset + msg_len];
                offset += crate::nla::align4(msg_len);
                if msg_seq != seq {
                    continue;
                }
                interrupted |= flags & NLM_F_DUMP_INTR != 0;
                match ty {
                    NLMSG_DONE => {
                        let code = payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if code < 0 && failed.is_none() {
                            failed = Some(kernel_error(request, ifindex, code));
                        }
                        return finish(failed, interrupted, request);
                    }
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if code < 0 && failed.is_none() {
                            failed = Some(kernel_error(request, ifindex, code));
                        }
                        return finish(failed, interrupted, request);
                    }
                    _ => {
                        if failed.is_none() {
                            if let Err(source) = on_msg(ty, payload) {
                                failed = Some(QueueStatsError::Decode { request, source });
                            }
                        }
                    }
                }
            }
        }
    }
}

fn finish(
    failed: Option<QueueStatsError>,
    interrupted: bool,
    request: &'static str,
) -> Result<(), QueueStatsError> {
    if interrupted {
        tracing::warn!("{request} dump was interrupted by a change: it may be inconsistent");
    }
    failed.map_or(Ok(()), Err)
}

fn kernel_error(request: &'static str, ifindex: u32, code: i32) -> QueueStatsError {
    QueueStatsError::Kernel {
        request,
        ifindex,
        source: io::Error::from_raw_os_error(code.saturating_neg()),
    }
}

fn no_such_interface(e: QueueStatsError, ifindex: u32) -> QueueStatsError {
    match e {
        QueueStatsError::Kernel { ref source, .. }
            if source.raw_os_error() == Some(libc::ENODEV) =>
        {
            QueueStatsError::NoSuchInterface { ifindex }
        }
        other => other,
    }
}

/// `ifi_index` of a `struct ifinfomsg`.
fn ifinfo_index(payload: &[u8]) -> Result<u32, DecodeError> {
    crate::nla::u32_of(payload.get(4..).unwrap_or_default(), "struct ifinfomsg")
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

fn class_with_xstats(entry: TcEntry<'_>, failures: &mut XstatsFailures) -> ClassStats {
    let xstats = entry.xstats;
    let mut c = entry.into_class();
    if let (Some(x), "htb") = (xstats, c.kind.as_str()) {
        c.htb = failures.note(decode_htb_xstats(x), &c.kind, c.classid);
    }
    c
}
