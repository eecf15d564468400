//! The client half, for lqos-scheduler and operator tools.

use crate::error::{BusError, Stage};
use crate::frame::{read_frame, write_frame, Role};
use crate::message::{decode_response, encode_request, Request, Response};
use crate::server::DEFAULT_MAX_REQUEST_BYTES;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::net::UnixStream;
use tracing::debug;

/// After a failed write, how long to look for the error lqosd may have sent before it
/// closed (for example "frame too large").
const PENDING_ANSWER_WAIT: Duration = Duration::from_millis(200);

/// Pause between connect attempts while lqosd's listen backlog is full.
const BACKLOG_RETRY: Duration = Duration::from_millis(10);

/// Timeouts and limits of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long connecting may take, including waiting while lqosd's backlog is full.
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// How long writing a request may take. Default 30 s.
    pub write_timeout: Duration,
    /// How long lqosd may take to start answering (that is, to handle the request) in
    /// [`Client::request`]; [`Client::request_with_timeout`] overrides it per call, for
    /// plan submissions. Default 30 s.
    pub response_timeout: Duration,
    /// Once an answer starts to arrive, how long the rest may take. Default 30 s.
    pub read_timeout: Duration,
    /// Largest request this client sends; a larger one fails before anything is written.
    /// Default [`DEFAULT_MAX_REQUEST_BYTES`], lqosd's default limit.
    pub max_request_bytes: u32,
    /// Largest response accepted. Default 64 MiB.
    pub max_response_bytes: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            response_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_response_bytes: 64 << 20,
        }
    }
}

/// A connection to lqosd's bus; one request at a time.
///
/// The connection is kept between requests. After any error it is dropped and the next
/// request connects again; a request that finds its kept connection closed by lqosd (idle
/// timeout, restart) before any answer arrived is retried once on a new connection. Requests
/// are safe to repeat: `Ping` and `Status` read only, and lqosd answers a re-submitted plan
/// generation with [`Response::Unchanged`].
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    options: ClientOptions,
    stream: Option<UnixStream>,
}

impl Client {
    /// Connects to the bus at `path` with default options and this connect timeout.
    pub async fn connect(path: impl AsRef<Path>, timeout: Duration) -> Result<Self, BusError> {
        let options = ClientOptions {
            connect_timeout: timeout,
            ..ClientOptions::default()
        };
        Self::connect_with(path, options).await
    }

    /// Connects to the bus at `path` with these options.
    pub async fn connect_with(
        path: impl AsRef<Path>,
        options: ClientOptions,
    ) -> Result<Self, BusError> {
        let path = path.as_ref().to_path_buf();
        let stream = open(&path, options.connect_timeout).await?;
        Ok(Self {
            path,
            options,
            stream: Some(stream),
        })
    }

    /// The socket path this client talks to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `request` and waits up to [`ClientOptions::response_timeout`] for the answer.
    /// lqosd's refusals ([`Response::Error`], [`Response::Rejected`]) are `Ok` responses;
    /// `Err` means the exchange itself failed.
    pub async fn request(&mut self, request: &Request) -> Result<Response, BusError> {
        let timeout = self.options.response_timeout;
        self.request_with_timeout(request, timeout).await
    }

    /// Like [`Client::request`], waiting up to `response_timeout` for lqosd to answer: a plan
    /// submission waits for the whole apply.
    pub async fn request_with_timeout(
        &mut self,
        request: &Request,
        response_timeout: Duration,
    ) -> Result<Response, BusError> {
        let payload = encode_request(request)?;
        if payload.len() > self.options.max_request_bytes as usize {
            return Err(BusError::FrameTooLarge {
                len: payload.len() as u64,
                max: self.options.max_request_bytes.into(),
            });
        }
        let reused = self.stream.is_some();
        match self.exchange(&payload, response_timeout).await {
            Err(e) if reused && e.is_peer_gone_before_answer() => {
                debug!(error = %e.chain(), "kept bus connection was closed by lqosd; reconnecting");
                self.exchange(&payload, response_timeout).await
            }
            other => other,
        }
    }

    async fn exchange(
        &mut self,
        payload: &[u8],
        response_timeout: Duration,
    ) -> Result<Response, BusError> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => open(&self.path, self.options.connect_timeout).await?,
        };
        let result = exchange_on(&mut stream, payload, &self.options, response_timeout).await;
        if result.is_ok() {
            self.stream = Some(stream);
        }
        result
    }
}

async fn exchange_on(
    stream: &mut UnixStream,
    payload: &[u8],
    options: &ClientOptions,
    response_timeout: Duration,
) -> Result<Response, BusError> {
    let (max, read_timeout) = (options.max_response_bytes, options.read_timeout);
    if let Err(write_error) = write_frame(stream, payload, options.write_timeout).await {
        // lqosd may have refused the frame from its header and closed: its reason is waiting.
        let pending = read_frame(stream, Role::Client, max, PENDING_ANSWER_WAIT, read_timeout);
        if let Ok(Some(answer)) = pending.await {
            return decode_response(&answer);
        }
        return Err(write_error);
    }
    match read_frame(stream, Role::Client, max, response_timeout, read_timeout).await? {
        Some(answer) => decode_response(&answer),
        None => Err(BusError::Closed {
            stage: Stage::AwaitFrame,
        }),
    }
}

/// Connects, retrying while lqosd's listen backlog is full (`EAGAIN`) until `timeout`.
async fn open(path: &Path, timeout: Duration) -> Result<UnixStream, BusError> {
    let deadline = Instant::now() + timeout;
    let attempt = async {
        loop {
            match UnixStream::connect(path).await {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tokio::time::sleep(BACKLOG_RETRY).await;
                }
                other => return other,
            }
        }
    };
    match tokio::time::timeout_at(deadline.into(), attempt).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) if source.kind() == io::ErrorKind::PermissionDenied => {
            Err(BusError::PermissionDenied {
                path: path.to_path_buf(),
                source,
            })
        }
        Ok(Err(source)) => Err(BusError::Connect {
            path: path.to_path_buf(),
            source,
        }),
        Err(_) => Err(BusError::Timeout {
            stage: Stage::Connect,
            after: timeout,
        }),
    }
}
