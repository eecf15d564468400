//! Test APIs of the CRMs, with invented data (feature `testkit`; tests only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod server;
pub mod small_data;
pub mod sonar_data;
pub mod splynx_data;
pub mod uisp_data;
pub mod visp_data;

/// Starts `routes` on loopback in a thread of its own (for tests that are not async).
pub fn start_background(
    auth: server::Auth,
    routes: std::collections::HashMap<String, serde_json::Value>,
    post: Option<server::PostHandler>,
) -> server::Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let s = server::start(auth, routes, post).await;
            let _ = tx.send(s);
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("test server started")
}
