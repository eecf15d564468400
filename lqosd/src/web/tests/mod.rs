//! The whole router without a socket (tower's `oneshot`), on the bundled example network with
//! a real plan: every route's authentication, roles, CSRF and bad input.

use super::*;
use crate::prefix_index::PrefixIndex;
use crate::throughput::{Sample, UnknownHost};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use lqos_bus::{IssueSeverity, SchedulerReport, StatusReport, UrgentIssue};
use serde_json::{json, Value};
use std::path::Path;
use tower::ServiceExt;

struct Site {
    app: Router,
    state: WebState,
    dir: tempfile::TempDir,
}

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../etc")
        .join(name);
    std::fs::read_to_string(path).expect("bundled example")
}

fn site() -> Site {
    site_with("")
}

/// The site with `extra` appended to its lqos.conf.
fn site_with(extra: &str) -> Site {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("ShapedDevices.csv"), example("ShapedDevices.csv")).expect("csv");
    std::fs::write(d.join("network.json"), example("network.json")).expect("json");
    let conf = format!(
        "lqos_directory = \"{0}\"\nstate_directory = \"{0}/state\"\n[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"pfifo\"\n",
        d.display()
    ) + extra;
    std::fs::write(d.join("lqos.conf"), &conf).expect("conf");
    let config = Config::parse(&conf, "lqos.conf", d).0.expect("config");
    let loaded = lqos_config::load_inputs(&config).expect("inputs");
    let opts = lqos_scheduler::plan::AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    let plan = lqos_scheduler::plan::plan(&loaded.inputs, &config, 2, None, opts)
        .expect("plan")
        .plan;
    let status = StatusReport {
        applied_generation: Some(1),
        circuits: loaded.inputs.circuits.len() as u64,
        mapped_ips: plan.mappings.len() as u64,
        ..StatusReport::default()
    };
    let shared = Arc::new(Shared::new(PrefixIndex::new(&plan.mappings), status));
    shared.set_layout(crate::queue_layout::QueueLayout::of(&plan));
    shared.set_sample(Sample {
        sampled_unix: 1_700_000_000,
        interval_ms: 1000,
        hosts: vec![
            ("100.64.1.10".parse().unwrap(), 90_000_000, 18_000_000),
            ("100.64.1.40".parse().unwrap(), 12_000_000, 2_000_000),
        ],
        unknown: (5_000, 700),
        unknown_hosts: vec![UnknownHost {
            addr: "100.64.9.9".parse().unwrap(),
            down_bps: 5_000,
            up_bps: 700,
            bytes_down: 123_456,
            bytes_up: 789,
            last_seen_unix: 1_700_000_000,
        }],
    });
    shared.reports().raise(UrgentIssue {
        source: "scheduler".into(),
        severity: IssueSeverity::Error,
        code: "refresh_failed".into(),
        message: "ShapedDevices.csv:12: bad rate".into(),
        context: "preview".into(),
    });
    shared.reports().scheduler_report(SchedulerReport {
        phase: "idle".into(),
        last_success_unix: Some(1_700_000_000),
        last_duration_ms: Some(420),
        ..SchedulerReport::default()
    });
    let state = WebState::new(shared, config, d.join("lqos.conf"));
    Site {
        app: router(state.clone()),
        state,
        dir,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn cookie(&self) -> String {
        let c = self.headers[header::SET_COOKIE].to_str().unwrap();
        c.split(';').next().unwrap().to_owned()
    }
}

#[derive(Default, Clone)]
struct Who {
    cookie: Option<String>,
    csrf: Option<String>,
}

async fn call(s: &Site, method: Method, uri: &str, who: &Who, body: Option<Value>) -> Answer {
    let mut r = Request::builder().method(method).uri(uri);
    if let Some(c) = &who.cookie {
        r = r.header(header::COOKIE, c);
    }
    if let Some(t) = &who.csrf {
        r = r.header("X-CSRF-Token", t);
    }
    let req = match body {
        Some(b) => r
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => r.body(Body::empty()),
    }
    .unwrap();
    let resp = s.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(s: &Site, uri: &str, who: &Who) -> Answer {
    call(s, Method::GET, uri, who, None).await
}

/// The first-run setup token lqosd wrote to the state directory.
fn setup_token(s: &Site) -> String {
    let path = s.state.inner.setup_token.clone();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// The admin created by the first-run setup (with the token from the file), logged in.
async fn admin(s: &Site) -> Who {
    let token = setup_token(s);
    let a = call(
        s,
        Method::POST,
        "/api/setup",
        &Who::default(),
        Some(json!({"username": "ops", "password": "correct horse", "token": token})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    Who {
        cookie: Some(a.cookie()),
        csrf: a.json()["csrf"].as_str().map(str::to_owned),
    }
}

async fn login(s: &Site, name: &str, password: &str) -> Answer {
    call(
        s,
        Method::POST,
        "/api/login",
        &Who::default(),
        Some(json!({"username": name, "password": password})),
    )
    .await
}

async fn read_only(s: &Site) -> Who {
    users::add(
        &s.state.inner.config.web_users_path(),
        "viewer",
        "look only please",
        users::Role::ReadOnly,
    )
    .unwrap();
    s.state.inner.users.reload();
    let a = login(s, "viewer", "look only please").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    Who {
        cookie: Some(a.cookie()),
        csrf: a.json()["csrf"].as_str().map(str::to_owned),
    }
}

const READ_ROUTES: [&str; 15] = [
    "/api/cpu/tree",
    "/api/cpu/tree?node=Riverside",
    "/api/cpu/weights",
    "/api/dashboard",
    "/api/live",
    "/api/tree",
    "/api/tree?node=Riverside",
    "/api/circuits",
    "/api/circuits/1001",
    "/api/unknown",
    "/api/unknown.csv",
    "/api/scheduler",
    "/api/issues",
    "/api/config/lqos.conf",
    "/api/config/ShapedDevices.csv",
];

fn edit_body(id: &str, down_min: f64) -> Value {
    json!({
        "circuit_id": id, "name": "Web, Added", "parent_node": "Riverside AP 1",
        "download_min_mbps": down_min, "upload_min_mbps": 2, "download_max_mbps": 20, "upload_max_mbps": 4,
        "sqm": "", "devices": [{"device_id": format!("{id}-1"), "name": "CPE", "mac": "",
            "ipv4": "100.64.3.250", "ipv6": "", "comment": "from the WebUI"}],
    })
}

/// Every state-changing route, with a body where it takes one.
fn write_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::POST, "/api/issues/1/ack", None),
        (Method::POST, "/api/scheduler/refresh", None),
        (Method::POST, "/api/circuits", Some(edit_body("9001", 10.0))),
        (
            Method::PUT,
            "/api/circuits/1001",
            Some(edit_body("1001", 10.0)),
        ),
        (Method::DELETE, "/api/circuits/1001", None),
    ]
}

/// The first complete event of `uri`'s stream.
async fn first_event(s: &Site, uri: &str, who: &Who) -> String {
    let req = Request::get(uri)
        .header(header::COOKIE, who.cookie.clone().unwrap())
        .body(Body::empty())
        .unwrap();
    let resp = s.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("an event within a second or so")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    text
}

mod auth;
mod connections;
mod cpu;
mod data;
mod geo;
mod integrations;
mod telemetry;
