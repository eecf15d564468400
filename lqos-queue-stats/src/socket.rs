//! The NETLINK_ROUTE socket shared by [`crate::QueueReader`] and [`crate::HtbClassWriter`]:
//! one socket, one receive buffer and a sequence number, requests sent and their answers read
//! to the end (`NLMSG_DONE` of a dump, or the `NLMSG_ERROR` that acknowledges a request).
//!
//! **Namespaces.** A netlink socket belongs to the network namespace of the thread that created
//! it, for its whole life, whatever thread uses it later: [`in_netns`] opens one elsewhere.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK,
    NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{DecodeError, QueueStatsError};

// linux/rtnetlink.h
const RTM_NEWLINK: u16 = 16;

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

/// One NETLINK_ROUTE socket with its receive buffer; `Send`.
pub(crate) struct RouteSocket {
    socket: Socket,
    buf: Vec<u8>,
    seq: u32,
}

impl std::fmt::Debug for RouteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteSocket")
            .field("fd", &self.socket.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

impl RouteSocket {
    /// Opens a NETLINK_ROUTE socket in the calling thread's network namespace.
    pub(crate) fn new() -> Result<Self, QueueStatsError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(QueueStatsError::Socket)?;
        socket.bind_auto().map_err(QueueStatsError::Socket)?;
        // Only the kernel (port 0) may send to this socket.
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(QueueStatsError::Socket)?;
        set_recv_timeout(&socket, RECV_TIMEOUT).map_err(QueueStatsError::Socket)?;
        Ok(RouteSocket {
            socket,
            buf: vec![0; RECV_BUF],
            seq: 0,
        })
    }

    /// The index of interface `name` in the socket's namespace (`RTM_GETLINK` by name).
    pub(crate) fn ifindex(&mut self, name: &str) -> Result<u32, QueueStatsError> {
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

    /// `RTM_GETLINK` by index: `ENODEV` becomes [`QueueStatsError::NoSuchInterface`].
    pub(crate) fn check_link(&mut self, ifindex: u32) -> Result<(), QueueStatsError> {
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
    pub(crate) fn send(
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
    pub(crate) fn receive(
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
                    // The end of a dump, or the acknowledgement (or refusal) of a request:
                    // both start with an errno.
                    NLMSG_DONE | NLMSG_ERROR => {
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

/// Runs `open` (which opens a socket) on a short-lived thread that `setns`es into the network
/// namespace of `netns_file` (`/run/netns/NAME` or `/proc/PID/ns/net`); the calling thread's
/// namespace is untouched. What it opened then works from any thread.
pub(crate) fn in_netns<T: Send + 'static>(
    netns_file: &Path,
    open: fn() -> Result<T, QueueStatsError>,
) -> Result<T, QueueStatsError> {
    let shown = netns_file.display().to_string();
    let file = File::open(netns_file).map_err(|source| QueueStatsError::Namespace {
        path: shown.clone(),
        source,
    })?;
    let thread = std::thread::Builder::new()
        .name("lqos-netns-open".into())
        .spawn(move || {
            // SAFETY: setns with a valid namespace fd; CLONE_NEWNET changes only this
            // thread, which ends right after opening the socket.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            open().map_err(|e| match e {
                QueueStatsError::Socket(source) => source,
                other => io::Error::other(other.to_string()),
            })
        })
        .map_err(|_| QueueStatsError::NamespaceThread {
            path: shown.clone(),
        })?;
    match thread.join() {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(source)) => Err(QueueStatsError::Namespace {
            path: shown,
            source,
        }),
        Err(_) => Err(QueueStatsError::NamespaceThread { path: shown }),
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

pub(crate) fn no_such_interface(e: QueueStatsError, ifindex: u32) -> QueueStatsError {
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
