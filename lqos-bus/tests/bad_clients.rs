//! The server against bad clients on a real Unix socket: oversized, malformed and garbage
//! frames, clients that stall mid-frame or never read, and many clients at once. None of them
//! can crash the server or keep it from answering a well-behaved client promptly.

use lqos_bus::{
    bind, decode_response, serve, Client, FrameHeader, Handler, Limits, Request, Response,
    HEADER_LEN,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

struct Echo;

impl Handler for Echo {
    async fn handle(&self, request: Request) -> Response {
        match request {
            Request::Ping => Response::Pong {
                version: "test".into(),
            },
            _ => Response::Error {
                message: "only ping here".into(),
            },
        }
    }
}

fn limits() -> Limits {
    Limits {
        max_request_bytes: 4096,
        max_connections: 8,
        idle_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(300),
        drain_timeout: Duration::from_secs(1),
    }
}

async fn server() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bus");
    let listener = bind(&path).expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, Arc::new(Echo), limits(), async move {
        let _ = stopped.await;
    }));
    (dir, path, stop, task)
}

/// A well-behaved client is answered within 200 ms.
async fn ping_is_prompt(path: &std::path::Path) {
    let started = Instant::now();
    let mut c = Client::connect(path, Duration::from_secs(2))
        .await
        .expect("connect");
    let r = c.request(&Request::Ping).await.expect("ping");
    assert!(matches!(r, Response::Pong { .. }), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "answered in {:?}",
        started.elapsed()
    );
}

/// The server's answer to raw bytes, or None if it closed without one.
async fn answer(stream: &mut UnixStream) -> Option<Response> {
    let mut header = [0u8; HEADER_LEN];
    tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut header))
        .await
        .ok()?
        .ok()?;
    let len = FrameHeader::parse(&header)
        .expect("a valid response header")
        .len as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    decode_response(&payload).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clients_cannot_crash_or_block_the_server() {
    let (_dir, path, stop, task) = server().await;

    // Oversized: refused from the header alone, with a reason.
    let mut s = UnixStream::connect(&path).await.expect("connect");
    s.write_all(&FrameHeader::new(1 << 30).to_bytes())
        .await
        .expect("write");
    let r = answer(&mut s).await;
    assert!(
        matches!(&r, Some(Response::Error { message }) if message.contains("too large") || message.contains("limit")),
        "{r:?}"
    );
    ping_is_prompt(&path).await;

    // Garbage instead of a header.
    let mut s = UnixStream::connect(&path).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.expect("write");
    assert!(matches!(answer(&mut s).await, Some(Response::Error { .. })));
    ping_is_prompt(&path).await;

    // A whole frame that does not decode: an error, and the connection stays usable.
    let mut s = UnixStream::connect(&path).await.expect("connect");
    let junk = [0xffu8; 16];
    s.write_all(&FrameHeader::new(junk.len() as u32).to_bytes())
        .await
        .expect("write");
    s.write_all(&junk).await.expect("write");
    assert!(matches!(answer(&mut s).await, Some(Response::Error { .. })));
    let ping = lqos_bus::encode_request(&Request::Ping).expect("encode");
    s.write_all(&FrameHeader::new(ping.len() as u32).to_bytes())
        .await
        .expect("write");
    s.write_all(&ping).await.expect("write");
    assert!(
        matches!(answer(&mut s).await, Some(Response::Pong { .. })),
        "same connection still served"
    );

    // Stalled mid-frame: the others are served meanwhile; the staller is cut off after the
    // read timeout.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut s = UnixStream::connect(&path).await.expect("connect");
        s.write_all(&FrameHeader::new(100).to_bytes())
            .await
            .expect("write");
        s.write_all(&[0u8; 10]).await.expect("write");
        stalled.push(s);
    }
    ping_is_prompt(&path).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for s in &mut stalled {
        assert!(
            matches!(answer(s).await, Some(Response::Error { .. }) | None),
            "cut off"
        );
    }

    // Many clients at once (more than max_connections): all answered.
    let clients: Vec<_> = (0..100)
        .map(|_| {
            let path = path.clone();
            tokio::spawn(async move {
                let mut c = Client::connect(&path, Duration::from_secs(10))
                    .await
                    .expect("connect");
                matches!(c.request(&Request::Ping).await, Ok(Response::Pong { .. }))
            })
        })
        .collect();
    for c in clients {
        assert!(c.await.expect("join"), "every client answered");
    }

    // A client that never reads its answers is dropped by the write timeout, not waited for.
    let mut deaf = UnixStream::connect(&path).await.expect("connect");
    for _ in 0..2000 {
        if deaf
            .write_all(&FrameHeader::new(ping.len() as u32).to_bytes())
            .await
            .is_err()
            || deaf.write_all(&ping).await.is_err()
        {
            break;
        }
    }
    ping_is_prompt(&path).await;

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
}
