//! The errors of this crate: [`QueueStatsError`] for a dump, [`DecodeError`] for bytes that do not
//! follow the kernel's layout.

use std::io;

/// Why a dump of an interface's queues failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueStatsError {
    /// The NETLINK_ROUTE socket could not be opened, bound or configured.
    #[error("cannot open a NETLINK_ROUTE socket")]
    Socket(#[source] io::Error),
    /// The network namespace file could not be opened or entered (`setns`).
    #[error("cannot enter the network namespace {path}")]
    Namespace {
        /// The namespace file, e.g. `/run/netns/shaper`.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The thread that opens a socket in another namespace panicked or could not be started.
    #[error("the thread opening the socket in namespace {path} failed")]
    NamespaceThread {
        /// The namespace file.
        path: String,
    },
    /// Sending a request to the kernel failed.
    #[error("cannot send the {request} request to the kernel")]
    Send {
        /// The request, e.g. `RTM_GETQDISC`.
        request: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Receiving the kernel's answer failed.
    #[error("cannot receive the answer to {request} from the kernel")]
    Recv {
        /// The request.
        request: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// One netlink datagram was larger than the receive buffer (it would have been cut).
    #[error("a {request} answer of {len} bytes does not fit the {buffer} byte receive buffer")]
    Truncated {
        /// The request.
        request: &'static str,
        /// The datagram's real length.
        len: usize,
        /// The buffer's length.
        buffer: usize,
    },
    /// The kernel answered the request with an error (`NLMSG_ERROR`).
    #[error("the kernel refused {request} for interface index {ifindex}")]
    Kernel {
        /// The request.
        request: &'static str,
        /// The interface asked about.
        ifindex: u32,
        /// The errno the kernel returned.
        #[source]
        source: io::Error,
    },
    /// No interface has this index in the socket's network namespace.
    #[error(
        "no network interface has index {ifindex} in the network namespace of the netlink socket"
    )]
    NoSuchInterface {
        /// The index asked about.
        ifindex: u32,
    },
    /// No interface has this name in the socket's network namespace.
    #[error(
        "no network interface is named {name:?} in the network namespace of the netlink socket"
    )]
    NoSuchInterfaceName {
        /// The name asked about.
        name: String,
    },
    /// The interface index does not fit the kernel's `int`.
    #[error("interface index {ifindex} is out of range (at most {})", i32::MAX)]
    BadIndex {
        /// The index asked about.
        ifindex: u32,
    },
    /// The packet scheduler's clock (`/proc/net/psched`) could not be read.
    #[error("cannot read the kernel's packet-scheduler clock: {detail}")]
    Psched {
        /// What went wrong.
        detail: String,
    },
    /// The kernel's answer did not follow the netlink/tc layout.
    #[error("malformed answer to {request}")]
    Decode {
        /// The request.
        request: &'static str,
        /// What was wrong.
        #[source]
        source: DecodeError,
    },
}

/// Bytes that do not follow the layout of `linux/pkt_sched.h`, `linux/gen_stats.h` or netlink.
/// Each variant names the attribute or structure concerned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// An attribute's header or declared length runs past the end of its enclosing buffer.
    #[error("{attribute} (type {kind}) is truncated: it declares {declared} bytes, {available} are left")]
    TruncatedAttribute {
        /// The attribute's name, e.g. `TCA_CAKE_TIN_STATS_SENT_BYTES64`.
        attribute: &'static str,
        /// Its type number.
        kind: u16,
        /// The length its header declares.
        declared: usize,
        /// The bytes left in the enclosing buffer.
        available: usize,
    },
    /// Fewer than 4 bytes were left where an attribute header should start.
    #[error("{within}: {available} stray bytes where an attribute header (4 bytes) should start")]
    TruncatedHeader {
        /// The enclosing attribute or structure.
        within: &'static str,
        /// The bytes left.
        available: usize,
    },
    /// An attribute declares a length shorter than its own header.
    #[error(
        "{attribute} (type {kind}) declares a length of {declared}, less than its 4 byte header"
    )]
    BadAttributeLength {
        /// The attribute's name.
        attribute: &'static str,
        /// Its type number.
        kind: u16,
        /// The declared length.
        declared: usize,
    },
    /// A fixed-size value or structure is shorter than the kernel's layout.
    #[error("{what} is {len} bytes, expected at least {expected}")]
    TooShort {
        /// The attribute or structure, e.g. `struct tc_htb_xstats`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length the layout needs.
        expected: usize,
    },
    /// More entries than the kernel's layout allows.
    #[error("{what}: more than {max} entries")]
    TooMany {
        /// The list, e.g. `TCA_CAKE_STATS_TIN_STATS`.
        what: &'static str,
        /// The most the layout allows.
        max: usize,
    },
    /// The fq_codel xstats are not the qdisc variant (`TCA_FQ_CODEL_XSTATS_QDISC`).
    #[error("fq_codel xstats of type {kind} are not qdisc statistics (type 0)")]
    NotFqCodelQdisc {
        /// The `type` field found.
        kind: u32,
    },
    /// A netlink message header is inconsistent with the datagram it is in.
    #[error("netlink message at offset {offset} declares {declared} bytes, {available} are left")]
    BadMessage {
        /// Its offset in the datagram.
        offset: usize,
        /// Its declared length.
        declared: usize,
        /// The bytes left in the datagram.
        available: usize,
    },
    /// The netlink-packet crates rejected a structure.
    #[error("{what}: {message}")]
    Netlink {
        /// The structure, e.g. `struct tcmsg`.
        what: &'static str,
        /// The crate's message, kept as text so that this error stays comparable in tests.
        message: String,
    },
}
