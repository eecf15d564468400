//! The WebUI's connections: at most [`MAX_CONNECTIONS`] open at once (lqosd's file
//! descriptors also hold the bus and the eBPF maps; at the cap, new connections wait in the
//! kernel's backlog), and each one closed when its client is too slow or idle
//! ([`Timeouts`]), so that slow or hostile clients cannot hold those places for ever.
//!
//! axum's own `serve` installs no timer in hyper, so hyper's header-read timeout never fires
//! there; [`serve`] is the same accept loop built on hyper's HTTP/1 connection builder with
//! `TokioTimer` and `header_read_timeout` (the maintained mechanism, in hyper itself), plus
//! an inactivity timeout of its own for what hyper does not time (a stalled body, an answer
//! nobody reads).

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Connections open at once, at most.
pub const MAX_CONNECTIONS: usize = 512;

/// How long a client may take; docs/webui.md gives the defaults. Tests shrink them.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// From the moment a connection is ready for a request (just opened, or its last answer
    /// sent) until the request's headers have all arrived; then the connection is closed
    /// (hyper's `header_read_timeout`). Closes slow-loris clients and idle keep-alive
    /// connections. Default 10 s.
    pub header_read: Duration,
    /// No byte received or sent for this long, at any point of a connection: closed. Covers
    /// what the header timeout does not (a body that stops arriving, an answer the client
    /// does not read). Live streams send an event every second, so they are never idle.
    /// Default 60 s.
    pub idle: Duration,
    /// After shutdown, how long open connections (live streams) may take to finish.
    /// Default 5 s.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            drain: Duration::from_secs(5),
        }
    }
}

pub struct CappedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl CappedListener {
    pub fn new(inner: TcpListener, max: usize) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max)),
        }
    }

    /// The next connection, once fewer than the cap are open.
    pub async fn accept(&mut self) -> (CappedStream, SocketAddr) {
        let permit = match self.permits.clone().acquire_owned().await {
            Ok(p) => p,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let stream = CappedStream {
                        stream,
                        _permit: permit,
                        activity: Arc::new(Activity::new()),
                    };
                    return (stream, addr);
                }
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "WebUI: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// When a connection last moved a byte either way.
#[derive(Debug)]
struct Activity {
    start: Instant,
    /// Milliseconds since `start`.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes once nothing moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A connection, holding its place under the cap until it closes, and noting when it last
/// moved a byte.
pub struct CappedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    activity: Arc<Activity>,
}

impl AsyncRead for CappedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl CappedStream {
    fn wrote(&self, r: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.wrote(r)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The client's address, for the login rate limit (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Serves `app` on `listener` until `shutdown`; then stops accepting, lets idle connections
/// close and open ones finish for up to [`Timeouts::drain`], and returns.
pub async fn serve(
    mut listener: CappedListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next() => {}
            (stream, addr) = listener.accept() => {
                let conn = serve_connection(stream, addr, app.clone(), timeouts.clone(), stop_rx.clone());
                connections.spawn(conn);
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(timeouts.drain, drain).await.is_err() {
        tracing::debug!(
            open = connections.len(),
            "WebUI: closing the connections still open at shutdown"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection(
    stream: CappedStream,
    addr: SocketAddr,
    app: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
) {
    let activity = stream.activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(ClientAddr(addr)));
        tower::ServiceExt::oneshot(app.clone(), req.map(Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(client = %addr, error = %e, "WebUI: connection closed");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = activity.idle_for(timeouts.idle) => {
                tracing::debug!(client = %addr, idle = ?timeouts.idle, "WebUI: closing an idle connection");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_past_the_cap_wait_until_one_closes() {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let mut l = CappedListener::new(inner, 1);
        let _c1 = TcpStream::connect(addr).await.unwrap();
        let _c2 = TcpStream::connect(addr).await.unwrap();
        let (first, _) = l.accept().await;
        let second = tokio::time::timeout(Duration::from_millis(200), l.accept()).await;
        assert!(second.is_err(), "the second waits while the first is open");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(2), l.accept()).await;
        assert!(second.is_ok(), "and is taken once the first closed");
    }
}
