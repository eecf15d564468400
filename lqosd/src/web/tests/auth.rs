//! Logging in, roles, CSRF, origins, and what needs no login.

use super::*;

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
        Some(json!({"username": "ops", "password": "short", "token": setup_token(&s)})),
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
    assert_eq!(me["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(me["node_name"], "lqos");
    assert_eq!(
        (
            me["setup_required"].clone(),
            me["user"]["username"].clone(),
            me["user"]["role"].clone()
        ),
        (json!(false), json!("ops"), json!("admin"))
    );
}

async fn setup_with(s: &Site, token: Option<&str>) -> Answer {
    let mut body = json!({"username": "ops", "password": "correct horse"});
    if let Some(t) = token {
        body["token"] = json!(t);
    }
    call(s, Method::POST, "/api/setup", &Who::default(), Some(body)).await
}

#[tokio::test]
async fn first_run_needs_the_setup_token_from_the_state_directory() {
    use std::os::unix::fs::PermissionsExt;
    let s = site();
    let file = s.dir.path().join("state/webui-setup-token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only root may read the token");
    let token = setup_token(&s);
    assert_eq!(token.len(), 32, "128 random bits: {token}");
    let session = get(&s, "/api/session", &Who::default()).await.json();
    assert_eq!(
        session["setup_token_file"],
        json!(file.display().to_string())
    );

    for wrong in [None, Some(""), Some("0123456789abcdef0123456789abcdef")] {
        let a = setup_with(&s, wrong).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{wrong:?}: {}", a.text);
        let e = a.json()["error"].as_str().unwrap().to_owned();
        assert!(
            e.contains("setup token") && e.contains("webui-setup-token"),
            "{e}"
        );
    }
    assert!(s.state.inner.users.users().is_empty(), "no admin was made");
    assert!(file.exists(), "a wrong token uses nothing up");

    // Pasted with a line end, as from `cat`.
    let a = setup_with(&s, Some(&format!("{token}\n"))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(!file.exists(), "the token is used up");
    let again = setup_with(&s, Some(&token)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let session = get(&s, "/api/session", &Who::default()).await.json();
    assert_eq!(session.get("setup_token_file"), None);

    // A restart with a user: no token is made.
    let restarted = WebState::new(
        s.state.inner.shared.clone(),
        s.state.inner.config.clone(),
        s.dir.path().join("lqos.conf"),
    );
    assert!(!restarted.inner.setup_token.exists());
}

#[tokio::test]
async fn a_restart_without_users_keeps_the_token_and_lqosd_user_add_removes_it() {
    let s = site();
    let token = setup_token(&s);
    let restarted = WebState::new(
        s.state.inner.shared.clone(),
        s.state.inner.config.clone(),
        s.dir.path().join("lqos.conf"),
    );
    assert_eq!(
        std::fs::read_to_string(&restarted.inner.setup_token)
            .unwrap()
            .trim(),
        token,
        "the token the operator copied still works"
    );
    // A user added on the shaper (the CLI) while lqosd runs: the next look removes the token.
    users::add(
        &s.state.inner.config.web_users_path(),
        "cli-admin",
        "from the shell",
        users::Role::Admin,
    )
    .unwrap();
    s.state.inner.users.reload();
    s.state.drop_setup_token_if_users();
    assert!(!s.state.inner.setup_token.exists());
    assert_eq!(
        setup_with(&s, Some(&token)).await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn setup_token_guesses_are_rate_limited_per_address() {
    let s = site();
    let token = setup_token(&s);
    for _ in 0..super::super::sessions::MAX_FAILURES {
        assert_eq!(
            setup_with(&s, Some("guess")).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let limited = setup_with(&s, Some(&token)).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text
    );
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    assert!(s.state.inner.users.users().is_empty());
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

#[tokio::test]
async fn parallel_guesses_cannot_pass_the_rate_limit() {
    let s = site();
    admin(&s).await;
    let guesses = (0..12).map(|_| {
        let s = &s;
        async move { login(s, "ops", "wrong horse").await.status }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let tried = answers
        .iter()
        .filter(|a| **a == StatusCode::UNAUTHORIZED)
        .count();
    assert!(tried <= super::super::sessions::MAX_FAILURES, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| *a == StatusCode::UNAUTHORIZED || *a == StatusCode::TOO_MANY_REQUESTS),
        "{answers:?}"
    );
    let long = "x".repeat(65);
    assert_eq!(
        login(&s, &long, "whatever pw").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_new_password_ends_the_old_sessions() {
    let s = site();
    admin(&s).await;
    let viewer = read_only(&s).await;
    let path = s.state.inner.config.web_users_path();
    users::remove(&path, "viewer").unwrap();
    users::add(
        &path,
        "viewer",
        "a brand new password",
        users::Role::ReadOnly,
    )
    .unwrap();
    s.state.inner.users.reload();
    assert_eq!(
        get(&s, "/api/dashboard", &viewer).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn wrong_methods_and_oversized_bodies_get_json_errors() {
    let s = site();
    let who = admin(&s).await;
    let a = call(&s, Method::DELETE, "/api/dashboard", &who, None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(a.json()["error"].as_str().unwrap().contains("method"));
    let mut big = edit_body("9100", 1.0);
    big["name"] = json!("x".repeat(100_000));
    let a = call(&s, Method::POST, "/api/circuits", &who, Some(big)).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text);
    assert!(a.json()["error"].is_string());
}

#[test]
fn ipv6_clients_are_limited_per_64() {
    let key = |a: &str| super::super::auth::client_key(Some(a.parse().unwrap()));
    assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
    assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    assert_eq!(key("::ffff:10.0.0.1"), "ip:10.0.0.1");
    assert_eq!(key("10.0.0.1"), "ip:10.0.0.1");
}

/// One HTTP/1.1 request over a real socket; the status code and the body.
async fn over_the_wire(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn the_served_site_limits_logins_by_client_address() {
    let s = site();
    admin(&s).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(
        s.state.clone(),
        listener,
        Timeouts::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let (status, body) = over_the_wire(addr, "GET", "/health", "").await;
    assert_eq!(status, 200, "{body}");
    // Different names each time: only the client address can stop them.
    for i in 0..super::super::sessions::MAX_FAILURES {
        let (status, _) = over_the_wire(
            addr,
            "POST",
            "/api/login",
            &format!("{{\"username\":\"guess{i}\",\"password\":\"wrong one\"}}"),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, body) = over_the_wire(
        addr,
        "POST",
        "/api/login",
        "{\"username\":\"ops\",\"password\":\"correct horse\"}",
    )
    .await;
    assert_eq!(status, 429, "the address used up its attempts: {body}");
    let _ = stop.send(());
    server.await.unwrap();
}
