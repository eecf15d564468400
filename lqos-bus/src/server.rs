//! The server half, for lqosd: [`serve`] accepts connections until shutdown, one task each.

use crate::error::BusError;
use crate::frame::{read_rest, read_start, write_frame, Role, HEADER_LEN};
use crate::message::{decode_request, encode_response, Request, Response};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tracing::{debug, error, info, warn, Instrument};

/// Largest request frame lqosd accepts by default: a 100k-circuit plan is about 10 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: u32 = 256 << 20;

/// Pause after a failed `accept()` (for example `EMFILE`) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What one client may cost the server. The defaults suit lqosd; tests shrink the timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request payload in bytes, checked against the header before anything is
    /// allocated. Default [`DEFAULT_MAX_REQUEST_BYTES`].
    pub max_request_bytes: u32,
    /// Connections served at once; further clients wait in the listen backlog until one
    /// closes. Default 64.
    pub max_connections: usize,
    /// How long an open connection may sit between requests before it is closed. Default 60 s.
    pub idle_timeout: Duration,
    /// Once the first byte of a request has arrived, the whole frame must arrive within
    /// this time, or the client is sent an error and dropped. Default 30 s.
    pub read_timeout: Duration,
    /// How long writing a response may take (a client that does not read). Default 10 s.
    pub write_timeout: Duration,
    /// After shutdown, how long in-flight requests may take to finish before their
    /// connections are dropped (the handlers themselves are never cancelled). Default 60 s.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_connections: 64,
            idle_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(60),
        }
    }
}

/// What lqosd does with a request. Implement it with `async fn handle(&self, request:
/// Request) -> Response` (the future must be `Send`).
///
/// Each call runs in its own Tokio task: a panic becomes [`Response::Error`] for that client
/// only, and a client that disconnects or times out does not cancel an apply in progress.
/// Calls from different connections run concurrently; serialize applies inside if needed.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: Request) -> impl Future<Output = Response> + Send;

    /// Called after each answer is written, or failed to be (the client went away): work
    /// that follows an answer but must not delay it starts here.
    fn answered(&self) {}
}

/// Serves the bus on `listener` until `shutdown` completes, then stops accepting, closes
/// idle connections, lets requests in flight finish (up to [`Limits::drain_timeout`]) and
/// returns.
///
/// Nothing a client sends can panic or stall this loop: every connection has its own task,
/// reads are bounded in size and time, and at most [`Limits::max_connections`] are open.
/// Frames with a bad magic, another protocol version, an oversized length or a stalled body
/// get a [`Response::Error`] and the connection is closed; a frame that arrives whole but does
/// not decode (for example a request variant from a newer client) gets a [`Response::Error`]
/// and the connection stays open.
pub async fn serve<H: Handler>(
    listener: UnixListener,
    handler: Arc<H>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    info!(
        max_connections = limits.max_connections,
        max_request_bytes = limits.max_request_bytes,
        "bus serving"
    );
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = connections.join_next() => report_join(done),
            accepted = accept_with_slot(&listener, &slots) => match accepted {
                Ok((stream, slot)) => {
                    next_id += 1;
                    let span = connection_span(next_id, &stream);
                    let connection = Connection {
                        stream,
                        handler: Arc::clone(&handler),
                        limits: Arc::clone(&limits),
                        stop: stop_rx.clone(),
                    };
                    connections.spawn(
                        async move {
                            connection.run().await;
                            drop(slot);
                        }
                        .instrument(span),
                    );
                }
                Err(e) => {
                    warn!(error = %e, "accepting a bus connection failed; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    // Receivers only go away with their connections; nobody left to tell is fine.
    let _ = stop_tx.send(true);
    info!(
        connections = connections.len(),
        "bus stopped accepting; draining"
    );
    let drain = async {
        while let Some(done) = connections.join_next().await {
            report_join(done);
        }
    };
    if tokio::time::timeout(limits.drain_timeout, drain)
        .await
        .is_err()
    {
        warn!(
            remaining = connections.len(),
            after = ?limits.drain_timeout,
            "bus connections still busy after the drain timeout; dropping them"
        );
        connections.shutdown().await;
    }
    info!("bus stopped");
}

async fn accept_with_slot(
    listener: &UnixListener,
    slots: &Arc<Semaphore>,
) -> io::Result<(UnixStream, OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(|_| io::Error::other("the connection semaphore is closed"))?;
    let (stream, _) = listener.accept().await?;
    Ok((stream, slot))
}

fn connection_span(id: u64, stream: &UnixStream) -> tracing::Span {
    match stream.peer_cred() {
        Ok(cred) => tracing::debug_span!("bus", conn = id, pid = ?cred.pid(), uid = cred.uid()),
        Err(_) => tracing::debug_span!("bus", conn = id),
    }
}

fn report_join(done: Result<(), JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            error!(error = %e, "a bus connection task panicked");
        }
    }
}

/// One client connection: requests are answered one at a time, in order.
struct Connection<H> {
    stream: UnixStream,
    handler: Arc<H>,
    limits: Arc<Limits>,
    stop: watch::Receiver<bool>,
}

impl<H: Handler> Connection<H> {
    async fn run(mut self) {
        debug!("bus connection opened");
        loop {
            let mut header = [0u8; HEADER_LEN];
            let idle = self.limits.idle_timeout;
            // Between requests, shutdown and the idle timeout close the connection; once a
            // request has started to arrive it is read, answered and only then closed.
            let have = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => {
                    debug!("closing an idle bus connection for shutdown");
                    return;
                }
                started = tokio::time::timeout(idle, read_start(&mut self.stream, &mut header)) => {
                    match started {
                        Ok(Ok(0)) => {
                            debug!("bus connection closed by the client");
                            return;
                        }
                        Ok(Ok(have)) => have,
                        Ok(Err(e)) => {
                            debug!(error = %e.chain(), "bus connection failed");
                            return;
                        }
                        Err(_) => {
                            debug!(?idle, "closing an idle bus connection");
                            return;
                        }
                    }
                }
            };
            let read = read_rest(
                &mut self.stream,
                &mut header,
                have,
                Role::Server,
                self.limits.max_request_bytes,
                self.limits.read_timeout,
            )
            .await;
            let payload = match read {
                Ok(payload) => payload,
                Err(e) => return self.refuse_frame(e).await,
            };
            let response = match decode_request(&payload) {
                Ok(request) => {
                    drop(payload);
                    self.dispatch(request).await
                }
                Err(e) => {
                    warn!(error = %e.chain(), "undecodable bus request; answering with an error");
                    Response::Error { message: e.chain() }
                }
            };
            let written = self.respond(&response).await;
            self.handler.answered();
            if !written {
                return;
            }
        }
    }

    /// Runs the handler in its own task, so that a panic stays there.
    async fn dispatch(&self, request: Request) -> Response {
        let name = request.name();
        let handler = Arc::clone(&self.handler);
        let started = Instant::now();
        let joined = tokio::spawn(async move { handler.handle(request).await }).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match joined {
            Ok(response) => {
                debug!(request = name, elapsed_ms, "bus request served");
                response
            }
            Err(e) => {
                error!(request = name, error = %e, "the bus request handler failed");
                Response::Error {
                    message: format!("lqosd failed while handling the {name} request; see its log"),
                }
            }
        }
    }

    /// A frame that cannot be read: say why when the client can still hear it, then close.
    async fn refuse_frame(&mut self, e: BusError) {
        if matches!(e, BusError::Io { .. } | BusError::Closed { .. }) {
            debug!(error = %e.chain(), "bus client went away mid-frame");
            return;
        }
        warn!(error = %e.chain(), "refusing a bus frame; closing the connection");
        let message = format!("{}; lqosd closes the connection", e.chain());
        self.respond(&Response::Error { message }).await;
    }

    /// Writes a response; `false` if the connection is no longer usable.
    async fn respond(&mut self, response: &Response) -> bool {
        let payload = match encode_response(response) {
            Ok(payload) => payload,
            Err(e) => {
                error!(error = %e.chain(), "cannot encode a bus response");
                let fallback = Response::Error {
                    message: "lqosd could not encode its response; see its log".into(),
                };
                match encode_response(&fallback) {
                    Ok(payload) => payload,
                    Err(_) => return false,
                }
            }
        };
        match write_frame(&mut self.stream, &payload, self.limits.write_timeout).await {
            Ok(()) => true,
            Err(e) => {
                debug!(error = %e.chain(), "cannot write a bus response");
                false
            }
        }
    }
}
