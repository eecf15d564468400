//! Test APIs of the CRMs, with invented data (feature `testkit`; tests only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod server;
pub mod small_data;
pub mod snmp_agent;
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
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    serve_std(listener, auth, routes, post)
}

/// Serves on an already bound listener (for example one bound inside a network namespace)
/// from a thread of its own.
pub fn serve_std(
    listener: std::net::TcpListener,
    auth: server::Auth,
    routes: std::collections::HashMap<String, serde_json::Value>,
    post: Option<server::PostHandler>,
) -> server::Server {
    listener.set_nonblocking(true).expect("nonblocking");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).expect("listener");
            let s = server::start_on(l, auth, routes, post);
            let _ = tx.send(s);
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("test server started")
}
