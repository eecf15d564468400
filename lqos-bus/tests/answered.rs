//! `Handler::answered`: called once after each answer is written (never while the handler
//! still runs), and also when the client went away before its answer.

use lqos_bus::{
    bind, encode_request, serve, Client, FrameHeader, Handler, Limits, Request, Response,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

#[derive(Default)]
struct Counting {
    handled: AtomicUsize,
    answered: AtomicUsize,
}

impl Handler for Counting {
    async fn handle(&self, request: Request) -> Response {
        let earlier = self.handled.fetch_add(1, Ordering::SeqCst);
        // Every earlier request's answer was written; this one's is not.
        let answered = self.answered.load(Ordering::SeqCst);
        if answered != earlier {
            return Response::Error {
                message: format!("{answered} answered before request {earlier}'s answer"),
            };
        }
        if matches!(request, Request::Status) {
            // Slow: its client leaves before the answer.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Response::Pong {
            version: "test".into(),
        }
    }

    fn answered(&self) {
        self.answered.fetch_add(1, Ordering::SeqCst);
    }
}

async fn until(what: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !what() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

#[tokio::test]
async fn answered_follows_each_answer_and_a_client_that_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bus");
    let handler = Arc::new(Counting::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        bind(&path).expect("bind"),
        handler.clone(),
        Limits::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut c = Client::connect(&path, Duration::from_secs(2))
        .await
        .expect("connect");
    for n in 1..=3 {
        let r = c.request(&Request::Ping).await.expect("ping");
        assert!(matches!(r, Response::Pong { .. }), "{r:?}");
        assert!(
            until(|| handler.answered.load(Ordering::SeqCst) == n).await,
            "answered {} times after {n} answers",
            handler.answered.load(Ordering::SeqCst)
        );
    }
    // A client that sends a slow request and leaves: the answer cannot be written, and
    // answered() still comes.
    let mut raw = tokio::net::UnixStream::connect(&path)
        .await
        .expect("connect");
    let payload = encode_request(&Request::Status).expect("encode");
    let header = FrameHeader::new(payload.len() as u32).to_bytes();
    raw.write_all(&[&header[..], &payload].concat())
        .await
        .expect("send");
    drop(raw);
    assert!(
        until(|| handler.answered.load(Ordering::SeqCst) == 4).await,
        "answered {} times",
        handler.answered.load(Ordering::SeqCst)
    );
    assert_eq!(handler.handled.load(Ordering::SeqCst), 4);
    let _ = stop.send(());
    server.await.expect("server");
}
