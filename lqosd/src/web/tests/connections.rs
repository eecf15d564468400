//! The served socket's timeouts: slow-loris and idle clients are closed (docs/webui.md,
//! *Limits*). Real TCP connections to `serve_on`, with the timeouts shrunk to fractions of a
//! second.

use super::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_READ: Duration = Duration::from_millis(400);
const IDLE: Duration = Duration::from_millis(900);

/// The site served on a loopback port with short timeouts, until the guard is dropped.
struct Served {
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _site: Site,
}

async fn served() -> Served {
    let site = site();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let timeouts = Timeouts {
        header_read: HEADER_READ,
        idle: IDLE,
        drain: Duration::from_millis(100),
    };
    tokio::spawn(serve_on(site.state.clone(), listener, timeouts, async {
        let _ = stopped.await;
    }));
    Served {
        addr,
        _stop: stop,
        _site: site,
    }
}

/// Reads until the server closes the connection: what it sent, and when it closed (counted
/// from `since`). Fails if it is still open after 5 s.
async fn until_closed(c: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after 5 s; received {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), since.elapsed())
}

#[tokio::test]
async fn a_request_whose_headers_never_end_is_closed_after_the_header_timeout() {
    let s = served().await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let start = Instant::now();
    // A slow loris: the request line and one header, then a byte now and then, never the end.
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dribble = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if c.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    dribble.await;
    let (got, closed) = until_closed(&mut c, start).await;
    assert!(!got.contains("200 OK"), "{got}");
    assert!(
        closed >= HEADER_READ && closed < Duration::from_secs(3),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let s = served().await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let start = Instant::now();
    let (got, closed) = until_closed(&mut c, start).await;
    assert_eq!(got, "");
    eprintln!("sent nothing: closed after {closed:?}");
    assert!(
        closed >= HEADER_READ && closed < HEADER_READ + Duration::from_millis(300),
        "closed after {closed:?}: the header timeout runs from the connection's start"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() {
    let s = served().await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    // Requests closer together than the timeout keep the connection (4 x 0.2 s in all: more
    // than the timeout).
    let mut answered = Instant::now();
    for i in 0..4 {
        if i > 0 {
            tokio::time::sleep(HEADER_READ / 2).await;
        }
        c.write_all(request).await.unwrap();
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).await.unwrap();
        answered = Instant::now();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // Then idle: closed once the time for the next request's headers is up.
    let (got, closed) = until_closed(&mut c, answered).await;
    assert_eq!(got, "");
    assert!(
        closed >= HEADER_READ - Duration::from_millis(50)
            && closed < HEADER_READ + Duration::from_secs(1),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_closed_after_the_idle_timeout() {
    let s = served().await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(
        b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
    )
    .await
    .unwrap();
    let start = Instant::now();
    let (got, closed) = until_closed(&mut c, start).await;
    assert!(!got.contains("HTTP/1.1 4"), "{got}");
    assert!(
        closed >= IDLE && closed < IDLE + Duration::from_secs(2),
        "closed after {closed:?}"
    );
}
