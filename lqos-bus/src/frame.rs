//! Framing: a fixed 10-byte header, then the payload.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "LQOS" (4c 51 4f 53)
//!      4     2  protocol version, big-endian (PROTOCOL_VERSION)
//!      6     4  payload length in bytes, big-endian
//!     10     n  payload: one postcard-encoded Request or Response
//! ```
//!
//! The receiver checks the magic, then the version, then the length against its limit, all
//! before it allocates anything for the payload; the payload buffer then grows only as bytes
//! actually arrive, so a peer that claims a large frame and sends little costs little.

use crate::error::{BusError, Stage};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"LQOS";

/// The wire version this build speaks, sent in every frame header.
///
/// Adding a variant at the end of [`crate::Request`] or [`crate::Response`] does not change
/// it (older peers answer or report an unknown variant, see the crate docs); anything else
/// that changes the bytes of an existing message does, and both sides then refuse each
/// other's frames with [`BusError::VersionMismatch`].
pub const PROTOCOL_VERSION: u16 = 1;

/// Length of the frame header in bytes.
pub const HEADER_LEN: usize = 10;

/// Payload buffers start at most this big and grow as bytes arrive.
const INITIAL_PAYLOAD_CAPACITY: usize = 64 * 1024;

/// A parsed frame header (the magic is implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub version: u16,
    /// Payload length in bytes.
    pub len: u32,
}

impl FrameHeader {
    /// A header of this build's [`PROTOCOL_VERSION`] for a payload of `len` bytes.
    pub fn new(len: u32) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            len,
        }
    }

    /// The header's wire bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..4].copy_from_slice(&MAGIC);
        bytes[4..6].copy_from_slice(&self.version.to_be_bytes());
        bytes[6..].copy_from_slice(&self.len.to_be_bytes());
        bytes
    }

    /// Parses a header, checking the magic only (what version and length are acceptable
    /// depends on the receiver).
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Self, BusError> {
        let [m0, m1, m2, m3, v0, v1, l0, l1, l2, l3] = *bytes;
        if [m0, m1, m2, m3] != MAGIC {
            return Err(BusError::BadMagic {
                found: [m0, m1, m2, m3],
            });
        }
        Ok(Self {
            version: u16::from_be_bytes([v0, v1]),
            len: u32::from_be_bytes([l0, l1, l2, l3]),
        })
    }
}

/// Which end of the connection is reading, to word a version mismatch the right way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

fn check_version(peer: u16, role: Role) -> Result<(), BusError> {
    if peer == PROTOCOL_VERSION {
        return Ok(());
    }
    Err(match role {
        Role::Server => BusError::VersionMismatch {
            client: peer,
            server: PROTOCOL_VERSION,
        },
        Role::Client => BusError::VersionMismatch {
            client: PROTOCOL_VERSION,
            server: peer,
        },
    })
}

fn io_error(stage: Stage) -> impl FnOnce(std::io::Error) -> BusError {
    move |source| {
        if source.kind() == std::io::ErrorKind::UnexpectedEof {
            BusError::Closed { stage }
        } else {
            BusError::Io { stage, source }
        }
    }
}

/// Waits for the first bytes of the next frame and puts them at the start of `header`.
/// Returns how many arrived; 0 means the peer closed the connection between frames.
/// Cancel-safe: nothing is consumed unless it returns.
pub(crate) async fn read_start<R: AsyncRead + Unpin>(
    reader: &mut R,
    header: &mut [u8; HEADER_LEN],
) -> Result<usize, BusError> {
    reader
        .read(header)
        .await
        .map_err(io_error(Stage::AwaitFrame))
}

/// Reads the rest of a frame whose first `have` header bytes are already in `header`, all of
/// it within `timeout`; checks magic, version and `max_len` before allocating.
pub(crate) async fn read_rest<R: AsyncRead + Unpin>(
    reader: &mut R,
    header: &mut [u8; HEADER_LEN],
    have: usize,
    role: Role,
    max_len: u32,
    timeout: Duration,
) -> Result<Vec<u8>, BusError> {
    let read = async {
        reader
            .read_exact(&mut header[have..])
            .await
            .map_err(io_error(Stage::ReadFrame))?;
        let parsed = FrameHeader::parse(header)?;
        check_version(parsed.version, role)?;
        if parsed.len > max_len {
            return Err(BusError::FrameTooLarge {
                len: parsed.len.into(),
                max: max_len.into(),
            });
        }
        let len = parsed.len as usize;
        let mut payload = Vec::with_capacity(len.min(INITIAL_PAYLOAD_CAPACITY));
        let got = (&mut *reader)
            .take(len as u64)
            .read_to_end(&mut payload)
            .await
            .map_err(io_error(Stage::ReadFrame))?;
        if got < len {
            return Err(BusError::Closed {
                stage: Stage::ReadFrame,
            });
        }
        Ok(payload)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| BusError::Timeout {
            stage: Stage::ReadFrame,
            after: timeout,
        })?
}

/// Reads one whole frame: the first byte within `await_timeout`, the rest within
/// `frame_timeout`. `Ok(None)`: the peer closed the connection before sending anything.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    role: Role,
    max_len: u32,
    await_timeout: Duration,
    frame_timeout: Duration,
) -> Result<Option<Vec<u8>>, BusError> {
    let mut header = [0u8; HEADER_LEN];
    let have = tokio::time::timeout(await_timeout, read_start(reader, &mut header))
        .await
        .map_err(|_| BusError::Timeout {
            stage: Stage::AwaitFrame,
            after: await_timeout,
        })??;
    if have == 0 {
        return Ok(None);
    }
    read_rest(reader, &mut header, have, role, max_len, frame_timeout)
        .await
        .map(Some)
}

/// Reads `bytes` as everything a peer sent on one connection, frame by frame, as lqosd's server
/// (`as_server`) or a client reads it, and decodes every payload as a request or a response.
/// Returns how many messages decoded, or the first error. For lqos-fuzz: the connection's own
/// code paths without a socket (a byte slice never blocks, so the timeouts never fire; they
/// need a Tokio runtime with time enabled all the same).
pub async fn decode_stream(
    mut bytes: &[u8],
    as_server: bool,
    max_len: u32,
) -> Result<usize, BusError> {
    let role = if as_server {
        Role::Server
    } else {
        Role::Client
    };
    let wait = Duration::from_secs(1);
    let mut decoded = 0;
    while let Some(payload) = read_frame(&mut bytes, role, max_len, wait, wait).await? {
        if as_server {
            crate::decode_request(&payload)?;
        } else {
            crate::decode_response(&payload)?;
        }
        decoded += 1;
    }
    Ok(decoded)
}

/// Writes one frame (header and `payload`) and flushes it, all within `timeout`.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    payload: &[u8],
    timeout: Duration,
) -> Result<(), BusError> {
    let len = u32::try_from(payload.len()).map_err(|_| BusError::FrameTooLarge {
        len: payload.len() as u64,
        max: u32::MAX.into(),
    })?;
    let header = FrameHeader::new(len).to_bytes();
    let write = async {
        writer.write_all(&header).await?;
        writer.write_all(payload).await?;
        writer.flush().await
    };
    tokio::time::timeout(timeout, write)
        .await
        .map_err(|_| BusError::Timeout {
            stage: Stage::Write,
            after: timeout,
        })?
        .map_err(io_error(Stage::Write))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_magic_then_big_endian_version_and_length() {
        let bytes = FrameHeader {
            version: 0x0102,
            len: 0x0304_0506,
        }
        .to_bytes();
        assert_eq!(bytes, [b'L', b'Q', b'O', b'S', 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            FrameHeader::parse(&bytes).ok(),
            Some(FrameHeader {
                version: 0x0102,
                len: 0x0304_0506
            })
        );
    }

    #[test]
    fn wrong_magic_is_reported_with_the_bytes_found() {
        let err = FrameHeader::parse(b"GET / HTTP").err();
        assert!(
            matches!(err, Some(BusError::BadMagic { found }) if &found == b"GET "),
            "{err:?}"
        );
    }

    #[test]
    fn version_mismatch_names_each_side_the_right_way_round() {
        let as_server = check_version(2, Role::Server).err().map(|e| e.to_string());
        assert_eq!(
            as_server.as_deref(),
            Some("client speaks bus v2, lqosd speaks v1")
        );
        let as_client = check_version(2, Role::Client).err().map(|e| e.to_string());
        assert_eq!(
            as_client.as_deref(),
            Some("client speaks bus v1, lqosd speaks v2")
        );
    }

    #[tokio::test]
    async fn a_frame_claiming_more_than_the_limit_is_refused_before_reading_it() {
        let mut header = FrameHeader::new(u32::MAX).to_bytes().to_vec();
        header.extend_from_slice(&[0u8; 16]);
        let mut reader = &header[..];
        let err = read_frame(
            &mut reader,
            Role::Server,
            1024,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await
        .err();
        assert!(
            matches!(err, Some(BusError::FrameTooLarge { len, max: 1024 }) if len == u64::from(u32::MAX)),
            "{err:?}"
        );
        assert_eq!(reader.len(), 16, "the payload must not be read");
    }

    #[tokio::test]
    async fn a_truncated_payload_is_a_close_mid_frame() {
        let mut bytes = FrameHeader::new(100).to_bytes().to_vec();
        bytes.extend_from_slice(&[0u8; 40]);
        let err = read_frame(
            &mut &bytes[..],
            Role::Client,
            1024,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await
        .err();
        assert!(
            matches!(
                err,
                Some(BusError::Closed {
                    stage: Stage::ReadFrame
                })
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn end_of_stream_between_frames_is_a_clean_close() {
        let got = read_frame(
            &mut &[][..],
            Role::Server,
            1024,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await;
        assert!(matches!(got, Ok(None)), "{got:?}");
    }
}
