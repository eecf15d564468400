//! A CRM API on loopback for the tests: answers JSON per path (and query), checks the
//! credentials the CRM would, and misbehaves on demand (401, 500, a hang, a truncated or an
//! oversized body).

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Ok,
    Unauthorized,
    Fail500,
    Hang,
    Truncated,
    Oversized,
}

pub type Auth = fn(&HeaderMap) -> bool;
/// Answers a POST (path, body) with JSON, or an HTTP status (401 for bad credentials in the
/// body, 404 for an unknown call).
pub type PostHandler = Arc<dyn Fn(&str, &str) -> Result<Value, u16> + Send + Sync>;

pub struct State {
    pub mode: Mode,
    /// "path?query" (or "path") → JSON body.
    pub routes: HashMap<String, Value>,
    pub post: Option<PostHandler>,
    pub hits: Vec<String>,
    /// Header values refused with 401 whatever `auth` says (a revoked token).
    pub revoked: Vec<String>,
    /// One-shot GET answers, served before `routes`.
    pub queued: HashMap<String, std::collections::VecDeque<Value>>,
}

#[derive(Clone)]
pub struct Server {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Server {
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("lock").mode = mode;
    }
    pub fn set_route(&self, path: &str, body: Value) {
        self.state
            .lock()
            .expect("lock")
            .routes
            .insert(path.to_owned(), body);
    }
    /// Refuses every request carrying a header with this value (401).
    pub fn revoke(&self, header_value: &str) {
        self.state
            .lock()
            .expect("lock")
            .revoked
            .push(header_value.to_owned());
    }
    /// Answers the next GET of `path` with `body` (once), before its route.
    pub fn queue_route(&self, path: &str, body: Value) {
        self.state
            .lock()
            .expect("lock")
            .queued
            .entry(path.to_owned())
            .or_default()
            .push_back(body);
    }
    /// How many requests reached `path` (with or without a query).
    pub fn hits_of(&self, path: &str) -> usize {
        let s = self.state.lock().expect("lock");
        s.hits
            .iter()
            .filter(|h| h.split('?').next() == Some(path))
            .count()
    }
    pub fn route(&self, path: &str) -> Value {
        self.state.lock().expect("lock").routes[path].clone()
    }
}

/// Starts the server on an ephemeral loopback port in the current runtime.
pub async fn start(
    auth: Auth,
    routes: HashMap<String, Value>,
    post: Option<PostHandler>,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    start_on(listener, auth, routes, post)
}

/// Serves on `listener` (bound by the caller, for example inside a network namespace), in
/// the current runtime.
pub fn start_on(
    listener: tokio::net::TcpListener,
    auth: Auth,
    routes: HashMap<String, Value>,
    post: Option<PostHandler>,
) -> Server {
    let state = Arc::new(Mutex::new(State {
        mode: Mode::Ok,
        routes,
        post,
        hits: Vec::new(),
        revoked: Vec::new(),
        queued: HashMap::new(),
    }));
    let st = state.clone();
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let st = st.clone();
        async move { answer(st, auth, req).await }
    });
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        url: format!("http://{addr}"),
        state,
    }
}

async fn answer(st: Arc<Mutex<State>>, auth: Auth, req: Request<Body>) -> Response {
    let key = match req.uri().query() {
        Some(q) => format!("{}?{q}", req.uri().path()),
        None => req.uri().path().to_owned(),
    };
    let mut authorized = auth(req.headers());
    let is_post = req.method() == axum::http::Method::POST;
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let (mode, json) = {
        let mut s = st.lock().expect("lock");
        s.hits.push(key.clone());
        if headers
            .values()
            .any(|v| s.revoked.iter().any(|r| v.as_bytes() == r.as_bytes()))
        {
            authorized = false;
        }
        let json = if is_post {
            let text = String::from_utf8_lossy(&body).into_owned();
            match s.post.clone().map(|h| h(&key, &text)) {
                Some(Ok(v)) => Some(v),
                Some(Err(401)) => {
                    return (StatusCode::UNAUTHORIZED, "{\"error\":\"bad credentials\"}")
                        .into_response()
                }
                _ => None,
            }
        } else if let Some(v) = s.queued.get_mut(&key).and_then(|q| q.pop_front()) {
            Some(v)
        } else {
            s.routes
                .get(&key)
                .or_else(|| s.routes.get(key.split('?').next().unwrap_or("")))
                .cloned()
        };
        (s.mode, json)
    };
    if mode == Mode::Unauthorized || !authorized {
        return (StatusCode::UNAUTHORIZED, "{\"message\":\"Unauthorized\"}").into_response();
    }
    match mode {
        Mode::Fail500 => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "database is down").into_response()
        }
        Mode::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
        _ => {}
    }
    let Some(json) = json else {
        return (StatusCode::NOT_FOUND, format!("no route {key}")).into_response();
    };
    let text = json.to_string();
    match mode {
        Mode::Truncated => {
            // Half the body, then the connection is cut (a chunked body that errors).
            let half = text.as_bytes()[..text.len() / 2].to_vec();
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let half = half.clone();
                async move {
                    match step {
                        0 => Some((Ok::<_, std::io::Error>(half), 1)),
                        1 => {
                            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                            Some((Err(std::io::Error::other("cut")), 2))
                        }
                        _ => None,
                    }
                }
            });
            Response::new(Body::from_stream(stream))
        }
        Mode::Oversized => {
            let mut big = String::from("[");
            while big.len() < 3 << 20 {
                big.push_str("{\"id\":\"padding\"},");
            }
            big.push_str("{}]");
            ([("content-type", "application/json")], big).into_response()
        }
        _ => ([("content-type", "application/json")], text).into_response(),
    }
}
