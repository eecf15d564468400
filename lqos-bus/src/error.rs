//! [`BusError`]: everything that can go wrong on either end of the bus.

use std::error::Error as _;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// What a side was doing when an I/O error, a timeout or a close happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Connecting to the socket.
    Connect,
    /// Writing a whole frame (header and payload).
    Write,
    /// Waiting for the first byte of the next frame (a server between requests, a client
    /// waiting for its response while lqosd works on the request).
    AwaitFrame,
    /// Reading the rest of a frame once its first byte has arrived.
    ReadFrame,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connecting",
            Stage::Write => "writing a frame",
            Stage::AwaitFrame => "waiting for a frame",
            Stage::ReadFrame => "reading a frame",
        })
    }
}

/// Which message a codec error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Request,
    Response,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageKind::Request => "request",
            MessageKind::Response => "response",
        })
    }
}

/// An error on the bus, from the client's or the server's point of view.
///
/// Display texts do not repeat the cause; walk [`std::error::Error::source`] (or print with
/// anyhow's `{:#}`) for the whole chain, as [`BusError::chain`] does.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The socket could not be connected to (`ENOENT`, `ECONNREFUSED`: lqosd is not running).
    #[error("cannot connect to lqosd's bus at {} (is lqosd running?)", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The socket exists but this user may not connect (`EACCES`): only root and members of
    /// the socket's group ([`crate::SOCKET_GROUP`]) may.
    #[error(
        "not allowed to use lqosd's bus at {}: run as root or as a member of the socket's group ({}; docs/bus.md)",
        path.display(),
        crate::SOCKET_GROUP
    )]
    PermissionDenied {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A read, write or connect did not finish in time.
    #[error("timed out after {after:?} while {stage}")]
    Timeout { stage: Stage, after: Duration },
    /// The socket failed.
    #[error("I/O error while {stage}")]
    Io {
        stage: Stage,
        #[source]
        source: io::Error,
    },
    /// The peer closed the connection in the middle of something (not between frames).
    #[error("the peer closed the connection while {stage}")]
    Closed { stage: Stage },
    /// The first four bytes were not [`crate::MAGIC`]: the peer does not speak this bus.
    #[error("not an lqos bus frame (magic {found:02x?}, expected {expected:02x?})", expected = crate::MAGIC)]
    BadMagic { found: [u8; 4] },
    /// The peers speak different protocol versions (see [`crate::PROTOCOL_VERSION`]).
    #[error("client speaks bus v{client}, lqosd speaks v{server}")]
    VersionMismatch { client: u16, server: u16 },
    /// A frame's length is over the receiver's (or the sender's) limit; nothing was allocated.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: u64, max: u64 },
    /// A message could not be serialized.
    #[error("cannot encode the {what}")]
    Encode {
        what: MessageKind,
        #[source]
        source: postcard::Error,
    },
    /// A payload is not a valid message of a known variant.
    #[error("malformed {what}")]
    Decode {
        what: MessageKind,
        #[source]
        source: postcard::Error,
    },
    /// A well-framed message of a variant this side does not know: the peer is newer.
    #[error(
        "unknown {what} variant {index} (this side knows variants 0..{known}; is the peer newer?)"
    )]
    UnknownVariant {
        what: MessageKind,
        index: u32,
        known: u32,
    },
    /// A payload decoded as a message but had bytes left over.
    #[error("{count} unexpected bytes after the {what}")]
    TrailingBytes { what: MessageKind, count: usize },
}

impl BusError {
    /// The message and all its causes, joined with `": "`: what a server puts in
    /// [`crate::Response::Error`] and what a log line should show.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = self.source();
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    /// Whether the error means the peer went away before any byte of its answer arrived,
    /// which on a reused client connection means lqosd closed it as idle (or restarted).
    pub(crate) fn is_peer_gone_before_answer(&self) -> bool {
        match self {
            BusError::Closed { stage } => *stage == Stage::AwaitFrame,
            BusError::Io { stage, source } => {
                matches!(stage, Stage::Write | Stage::AwaitFrame)
                    && matches!(
                        source.kind(),
                        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                    )
            }
            _ => false,
        }
    }
}
