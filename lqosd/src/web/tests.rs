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
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("ShapedDevices.csv"), example("ShapedDevices.csv")).expect("csv");
    std::fs::write(d.join("network.json"), example("network.json")).expect("json");
    let conf = format!(
        "lqos_directory = \"{0}\"\nstate_directory = \"{0}/state\"\n[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"pfifo\"\n",
        d.display()
    );
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

/// The admin created by the first-run setup, logged in.
async fn admin(s: &Site) -> Who {
    let a = call(
        s,
        Method::POST,
        "/api/setup",
        &Who::default(),
        Some(json!({"username": "ops", "password": "correct horse"})),
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

const READ_ROUTES: [&str; 12] = [
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

#[tokio::test]
async fn first_run_asks_for_an_admin_once() {
    let s = site();
    let a = get(&s, "/api/session", &Who::default()).await;
    assert_eq!(a.json()["setup_required"], true);
    assert_eq!(a.json()["user"], Value::Null);
    let short = call(
        &s,
        Method::POST,
        "/api/setup",
        &Who::default(),
        Some(json!({"username": "ops", "password": "short"})),
    )
    .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.json()["error"]
        .as_str()
        .unwrap()
        .contains("at least 8"));
    let who = admin(&s).await;
    let cookie = s.state.inner.users.users();
    assert_eq!(cookie.len(), 1);
    let again = call(
        &s,
        Method::POST,
        "/api/setup",
        &Who::default(),
        Some(json!({"username": "mallory", "password": "take over now"})),
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "setup is first-run only"
    );
    let me = get(&s, "/api/session", &who).await.json();
    assert_eq!(
        (
            me["setup_required"].clone(),
            me["user"]["username"].clone(),
            me["user"]["role"].clone()
        ),
        (json!(false), json!("ops"), json!("admin"))
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let s = site();
    admin(&s).await;
    let a = login(&s, "ops", "correct horse").await;
    let c = a.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        c.starts_with("lqos_session=") && c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
}

#[tokio::test]
async fn every_data_route_needs_a_login() {
    let s = site();
    admin(&s).await;
    for route in READ_ROUTES {
        let a = get(&s, route, &Who::default()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{route}");
        assert!(
            a.json()["error"].as_str().unwrap().contains("log in"),
            "{route}: {}",
            a.text
        );
    }
    let forged = Who {
        cookie: Some("lqos_session=00ff".into()),
        csrf: None,
    };
    assert_eq!(
        get(&s, "/api/dashboard", &forged).await.status,
        StatusCode::UNAUTHORIZED
    );
    for (method, route, body) in write_routes() {
        let a = call(&s, method, route, &Who::default(), body).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{route}");
    }
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_rate_limited() {
    let s = site();
    admin(&s).await;
    assert_eq!(
        login(&s, "ops", "wrong horse").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&s, "nobody", "wrong horse").await.json()["error"],
        "wrong user name or password"
    );
    for _ in 0..3 {
        login(&s, "ops", "wrong horse").await;
    }
    let limited = login(&s, "ops", "correct horse").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text
    );
    let wait: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session() {
    let s = site();
    let who = admin(&s).await;
    let no_token = Who {
        csrf: None,
        ..who.clone()
    };
    assert_eq!(
        call(&s, Method::POST, "/api/logout", &no_token, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&s, Method::POST, "/api/logout", &who, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&s, "/api/dashboard", &who).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn read_only_users_see_everything_and_change_nothing() {
    let s = site();
    admin(&s).await;
    let viewer = read_only(&s).await;
    for route in READ_ROUTES.iter().filter(|r| **r != "/api/live") {
        let a = get(&s, route, &viewer).await;
        assert_eq!(a.status, StatusCode::OK, "{route}: {}", a.text);
    }
    let before = std::fs::read_to_string(s.dir.path().join("ShapedDevices.csv")).unwrap();
    for (method, route, body) in write_routes() {
        let a = call(&s, method.clone(), route, &viewer, body).await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {route}: {}",
            a.text
        );
        assert!(
            a.json()["error"].as_str().unwrap().contains("read-only"),
            "{route}"
        );
    }
    assert_eq!(
        before,
        std::fs::read_to_string(s.dir.path().join("ShapedDevices.csv")).unwrap()
    );
    assert!(!s.state.inner.config.refresh_request_path().exists());
    assert!(s
        .state
        .inner
        .shared
        .reports()
        .list()
        .iter()
        .all(|e| !e.acknowledged));
}

#[tokio::test]
async fn state_changes_need_the_sessions_csrf_token_and_the_same_origin() {
    let s = site();
    let who = admin(&s).await;
    let wrong = Who {
        csrf: Some("0".repeat(64)),
        ..who.clone()
    };
    let none = Who {
        csrf: None,
        ..who.clone()
    };
    for (method, route, body) in write_routes() {
        for w in [&wrong, &none] {
            let a = call(&s, method.clone(), route, w, body.clone()).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {route}");
            assert!(a.json()["error"].as_str().unwrap().contains("X-CSRF-Token"));
        }
    }
    let req = Request::post("/api/scheduler/refresh")
        .header(header::COOKIE, who.cookie.clone().unwrap())
        .header("X-CSRF-Token", who.csrf.clone().unwrap())
        .header(header::HOST, "shaper:9123")
        .header(header::ORIGIN, "http://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        s.app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_dashboard_shows_live_rates_queues_and_the_busiest() {
    let s = site();
    let who = admin(&s).await;
    let d = get(&s, "/api/dashboard", &who).await.json();
    assert_eq!(d["down_bps"], 90_000_000 + 12_000_000 + 5_000);
    assert_eq!(d["up_bps"], 18_000_000 + 2_000_000 + 700);
    assert_eq!(d["top_circuits_down"][0]["circuit_id"], "1001");
    assert_eq!(d["top_circuits_down"][0]["name"], "Garcia, Maria");
    assert_eq!(d["top_circuits_down"][0]["plan_down_mbps"], 100.0);
    assert_eq!(d["top_hosts_up"][1]["ip"], "100.64.1.40");
    assert_eq!(d["counts"]["circuits"], 36);
    assert_eq!(d["counts"]["unknown_hosts"], 1);
    let queued: u64 = d["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["down_bps"].as_u64().unwrap())
        .sum();
    assert_eq!(
        queued, 102_000_000,
        "every shaped host's traffic is on some queue"
    );
    assert_eq!(d["issues"]["unacknowledged"], 1);
    assert_eq!(d["scheduler"]["phase"], "idle");
    assert_eq!(d["history"][0]["down_bps"], d["down_bps"]);
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

#[tokio::test]
async fn live_events_stream_the_dashboard_or_one_circuit() {
    let s = site();
    let who = admin(&s).await;
    let d = first_event(&s, "/api/live", &who).await;
    assert!(d.starts_with("event: dashboard\n") && d.contains("\"down_bps\":102005000"), "{d}");
    assert!(d.contains("\"history\":[]"), "live events carry no history: {d}");
    let c = first_event(&s, "/api/live?circuit=1001", &who).await;
    assert!(c.starts_with("event: circuit\n"), "a circuit's page gets its circuit only: {c}");
    assert!(c.contains("\"circuit_id\":\"1001\"") && c.contains("\"down_bps\":90000000"), "{c}");
}

#[tokio::test]
async fn the_tree_sums_circuits_up_to_their_nodes() {
    let s = site();
    let who = admin(&s).await;
    let top = get(&s, "/api/tree", &who).await.json();
    let names: Vec<&str> = top["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"North Region"), "{names:?}");
    let north = top["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "North Region")
        .unwrap();
    assert_eq!(
        north["down_bps"], 102_000_000,
        "both busy circuits are in the north"
    );
    let ap = get(&s, "/api/tree?node=Hilltop%20AP%20North", &who)
        .await
        .json();
    assert_eq!(
        ap["path"],
        json!(["North Region", "Hilltop Tower", "Hilltop AP North"])
    );
    assert_eq!(ap["node"]["down_bps"], 102_000_000);
    assert!((ap["node"]["utilization_down"].as_f64().unwrap() - 0.102).abs() < 1e-9);
    assert_eq!(ap["circuits_total"], 5);
    assert_eq!(ap["circuits"][0]["circuit_id"], "1001");
    let missing = get(&s, "/api/tree?node=Atlantis", &who).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"]
        .as_str()
        .unwrap()
        .contains("Atlantis"));
}

#[tokio::test]
async fn circuits_are_searched_and_paged_on_the_server() {
    let s = site();
    let who = admin(&s).await;
    let all = get(&s, "/api/circuits?per_page=7&page=2", &who)
        .await
        .json();
    assert_eq!(
        (
            all["total"].clone(),
            all["circuits"].as_array().unwrap().len()
        ),
        (json!(36), 7)
    );
    assert_eq!(all["circuits"][0]["circuit_id"], "1008");
    let found = get(&s, "/api/circuits?q=GARCIA", &who).await.json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["circuits"][0]["down_bps"], 90_000_000);
    let by_ip = get(&s, "/api/circuits?q=100.64.1.40", &who).await.json();
    assert_eq!(by_ip["circuits"][0]["circuit_id"], "1004");
    let by_node = get(&s, "/api/circuits?q=riverside%20ap%202", &who)
        .await
        .json();
    assert_eq!(by_node["total"], 3);
    for bad in [
        "/api/circuits?per_page=0",
        "/api/circuits?per_page=501",
        "/api/circuits?page=x",
    ] {
        let a = get(&s, bad, &who).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!a.json()["error"].as_str().unwrap().is_empty());
    }
    let c = get(&s, "/api/circuits/1003", &who).await.json();
    assert_eq!(c["devices"].as_array().unwrap().len(), 2);
    assert_eq!(c["parent_node"], "Hilltop AP North");
    let missing = get(&s, "/api/circuits/nope", &who).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_addresses_are_listed_and_exported() {
    let s = site();
    let who = admin(&s).await;
    let u = get(&s, "/api/unknown", &who).await.json();
    assert_eq!(u["hosts"][0]["ip"], "100.64.9.9");
    let csv = get(&s, "/api/unknown.csv", &who).await;
    assert!(csv.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("attachment"));
    assert_eq!(csv.text, "ip,down_bps,up_bps,bytes_down,bytes_up,last_seen_unix\n100.64.9.9,5000,700,123456,789,1700000000\n");
}

#[tokio::test]
async fn admins_acknowledge_issues_and_request_refreshes() {
    let s = site();
    let who = admin(&s).await;
    let issues = get(&s, "/api/issues", &who).await.json();
    let id = issues["issues"][0]["id"].as_u64().unwrap();
    let a = call(
        &s,
        Method::POST,
        &format!("/api/issues/{id}/ack"),
        &who,
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&s, "/api/issues", &who).await.json()["issues"][0]["acknowledged"],
        true
    );
    assert_eq!(
        call(&s, Method::POST, "/api/issues/999/ack", &who, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&s, Method::POST, "/api/issues/x/ack", &who, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = call(&s, Method::POST, "/api/scheduler/refresh", &who, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(s.state.inner.config.refresh_request_path().exists());
    let sched = get(&s, "/api/scheduler", &who).await.json();
    assert_eq!(sched["refresh_requested"], true);
    assert_eq!(sched["runs"][0]["ok"], true);
    assert_eq!(sched["report"]["last_duration_ms"], 420);
}

#[tokio::test]
async fn the_input_files_are_shown_and_nothing_else() {
    let s = site();
    let who = admin(&s).await;
    let conf_path = s.dir.path().join("lqos.conf");
    let mut conf = std::fs::read_to_string(&conf_path).unwrap();
    conf.push_str("[http_import]\nurl = \"https://crm.example/export\"\nbearer_token = \"s3cr3t\"\n# token = \"in a comment\"\n");
    std::fs::write(&conf_path, conf).unwrap();
    let conf = get(&s, "/api/config/lqos.conf", &who).await;
    assert!(conf.text.contains("to_internet = \"inet\""));
    assert!(!conf.text.contains("s3cr3t") && conf.text.contains("bearer_token = \"(hidden in the WebUI)\""), "{}", conf.text);
    assert!(conf.text.contains("https://crm.example/export"));
    let net = get(&s, "/api/config/network.json", &who).await;
    assert!(net.text.contains("Hilltop Tower"));
    for bad in ["/api/config/webusers.toml", "/api/config/..%2Fetc%2Fshadow"] {
        assert_eq!(
            get(&s, bad, &who).await.status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn circuit_edits_are_validated_written_and_reloaded() {
    let s = site();
    let who = admin(&s).await;
    let csv_path = s.dir.path().join("ShapedDevices.csv");
    let created = call(
        &s,
        Method::POST,
        "/api/circuits",
        &who,
        Some(edit_body("9001", 10.0)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json()["devices"][0]["comment"], "from the WebUI");
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(text.ends_with("9001,\"Web, Added\",9001-1,CPE,Riverside AP 1,ap-riverside-1,,,100.64.3.250,,10,2,20,4,from the WebUI,\n"), "{text}");
    assert!(
        text.starts_with(&example("ShapedDevices.csv")),
        "every other byte stays"
    );
    assert_eq!(
        get(&s, "/api/circuits?q=web,%20added", &who).await.json()["total"],
        1
    );
    let dup = call(
        &s,
        Method::POST,
        "/api/circuits",
        &who,
        Some(edit_body("9001", 10.0)),
    )
    .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);

    // min above max: refused with the file and line, nothing written.
    let before = std::fs::read_to_string(&csv_path).unwrap();
    let bad = call(
        &s,
        Method::PUT,
        "/api/circuits/9001",
        &who,
        Some(edit_body("9001", 50.0)),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    let problems = bad.json()["problems"].as_array().unwrap().clone();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("ShapedDevices.csv:")),
        "{problems:?}"
    );
    assert_eq!(before, std::fs::read_to_string(&csv_path).unwrap());
    let mut clash = edit_body("9002", 10.0);
    clash["devices"][0]["ipv4"] = json!("100.64.1.10");
    let clash = call(&s, Method::POST, "/api/circuits", &who, Some(clash)).await;
    assert_eq!(
        clash.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an address of another circuit: {}",
        clash.text
    );

    let ok = call(
        &s,
        Method::PUT,
        "/api/circuits/9001",
        &who,
        Some(edit_body("9001", 15.0)),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.json()["download_min_mbps"], 15.0);
    assert_eq!(
        call(
            &s,
            Method::PUT,
            "/api/circuits/404",
            &who,
            Some(edit_body("404", 1.0))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&s, Method::DELETE, "/api/circuits/9001", &who, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        std::fs::read_to_string(&csv_path).unwrap(),
        example("ShapedDevices.csv")
    );
    assert_eq!(
        call(&s, Method::DELETE, "/api/circuits/9001", &who, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bodies_that_are_not_the_expected_json_get_a_clear_4xx() {
    let s = site();
    let who = admin(&s).await;
    let req = |ct: &str, body: &str| {
        Request::post("/api/circuits")
            .header(header::COOKIE, who.cookie.clone().unwrap())
            .header("X-CSRF-Token", who.csrf.clone().unwrap())
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let cases = [
        (
            "text/plain",
            "{}",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: application/json",
        ),
        (
            "application/json",
            "{not json",
            StatusCode::BAD_REQUEST,
            "JSON",
        ),
        (
            "application/json",
            "{\"circuit_id\": 5}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "circuit_id",
        ),
    ];
    for (ct, body, status, says) in cases {
        let resp = s.app.clone().oneshot(req(ct, body)).await.unwrap();
        assert_eq!(resp.status(), status, "{body}");
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(v["error"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    let mut extra = edit_body("9003", 1.0);
    extra["colour"] = json!("red");
    let a = call(&s, Method::POST, "/api/circuits", &who, Some(extra)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.json()["error"].as_str().unwrap().contains("colour"));
}

#[tokio::test]
async fn health_metrics_and_the_page_need_no_login_and_carry_safe_headers() {
    let s = site();
    let h = get(&s, "/health", &Who::default()).await;
    assert_eq!(h.json()["status"], "ok");
    assert_eq!(h.json()["applied_generation"], 1);
    let m = get(&s, "/metrics", &Who::default()).await;
    for line in [
        "lqos_throughput_bps{direction=\"down\"} 102005000",
        "lqos_unknown_throughput_bps{direction=\"up\"} 700",
        "lqos_circuits 36",
        "lqos_unknown_hosts 1",
        "lqos_urgent_issues{state=\"unacknowledged\"} 1",
        "lqos_scheduler_up 1",
        "lqos_applies_total 0",
    ] {
        assert!(
            m.text.lines().any(|l| l == line),
            "missing {line:?} in\n{}",
            m.text
        );
    }
    let page = get(&s, "/", &Who::default()).await;
    assert!(page.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text.contains("<script"), "the embedded index.html");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let js = get(&s, "/assets/app.js", &Who::default()).await;
    assert!(js.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(
        get(&s, "/assets/nope.js", &Who::default()).await.status,
        StatusCode::NOT_FOUND
    );
    let api404 = get(&s, "/api/nope", &Who::default()).await;
    assert_eq!(api404.status, StatusCode::NOT_FOUND);
    assert!(api404.json()["error"]
        .as_str()
        .unwrap()
        .contains("no such API route"));
}

#[tokio::test]
async fn a_removed_user_is_logged_out_at_the_next_request() {
    let s = site();
    admin(&s).await;
    let viewer = read_only(&s).await;
    users::remove(&s.state.inner.config.web_users_path(), "viewer").unwrap();
    s.state.inner.users.reload();
    assert_eq!(
        get(&s, "/api/dashboard", &viewer).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn listen_addresses_are_read_as_operators_write_them() {
    assert_eq!(parse_listen(":::9123").unwrap().to_string(), "[::]:9123");
    assert_eq!(
        parse_listen("0.0.0.0:9123").unwrap().to_string(),
        "0.0.0.0:9123"
    );
    assert_eq!(parse_listen("[::1]:80").unwrap().to_string(), "[::1]:80");
    assert_eq!(parse_listen("::1:9123").unwrap().to_string(), "[::1]:9123");
    let e = parse_listen("localhost").unwrap_err().to_string();
    assert!(
        e.contains("webserver_listen") && e.contains(":::9123"),
        "{e}"
    );
}
