//! What the routes answer: live rates, the tree, circuits, edits, unknown IPs, issues, files.

use super::*;

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

#[tokio::test]
async fn live_events_stream_the_dashboard_or_one_circuit() {
    let s = site();
    let who = admin(&s).await;
    let d = first_event(&s, "/api/live", &who).await;
    assert!(
        d.starts_with("event: dashboard\n") && d.contains("\"down_bps\":102005000"),
        "{d}"
    );
    assert!(
        d.contains("\"history\":[]"),
        "live events carry no history: {d}"
    );
    let c = first_event(&s, "/api/live?circuit=1001", &who).await;
    assert!(
        c.starts_with("event: circuit\n"),
        "a circuit's page gets its circuit only: {c}"
    );
    assert!(
        c.contains("\"circuit_id\":\"1001\"") && c.contains("\"down_bps\":90000000"),
        "{c}"
    );
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
    assert!(
        !conf.text.contains("s3cr3t")
            && conf
                .text
                .contains("bearer_token = \"(hidden in the WebUI)\""),
        "{}",
        conf.text
    );
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

/// Issue 13 (1.4): a ShapedDevices.csv saved as "Unicode text" (UTF-16LE with a byte order
/// mark) is edited in place, stays UTF-16LE, is read back into the catalog and shown as UTF-8.
#[tokio::test]
async fn a_utf16_file_is_edited_in_its_own_encoding() {
    use lqos_config::TextEncoding;
    let s = site();
    let who = admin(&s).await;
    let csv_path = s.dir.path().join("ShapedDevices.csv");
    let original = example("ShapedDevices.csv");
    std::fs::write(&csv_path, TextEncoding::Utf16Le.encode(&original)).unwrap();
    let created = call(
        &s,
        Method::POST,
        "/api/circuits",
        &who,
        Some(edit_body("9001", 10.0)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let bytes = std::fs::read(&csv_path).unwrap();
    let (text, encoding) = lqos_config::text_encoding::decode(&bytes).unwrap();
    assert_eq!(
        encoding,
        TextEncoding::Utf16Le,
        "written back as UTF-16LE with its mark"
    );
    assert!(
        text.starts_with(&original) && text.ends_with("from the WebUI,\n"),
        "{text}"
    );
    let shown = get(&s, "/api/config/ShapedDevices.csv", &who).await;
    assert!(
        shown.text.starts_with(&original) && shown.text.contains("9001,"),
        "{}",
        shown.text
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
async fn live_events_of_an_unknown_circuit_are_refused() {
    let s = site();
    let who = admin(&s).await;
    let a = get(&s, "/api/live?circuit=nope", &who).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.json()["error"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn circuits_that_come_from_a_crm_are_not_edited_here() {
    let s = site_with(
        "[http_import]\nshaped_devices_url = \"https://crm.example/ShapedDevices.csv\"\n",
    );
    let who = admin(&s).await;
    let before = std::fs::read_to_string(s.dir.path().join("ShapedDevices.csv")).unwrap();
    let a = call(&s, Method::DELETE, "/api/circuits/1001", &who, None).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .contains("[http_import]"));
    assert_eq!(
        before,
        std::fs::read_to_string(s.dir.path().join("ShapedDevices.csv")).unwrap()
    );
}

#[tokio::test]
async fn a_fleet_box_shows_the_fleet_on_the_scheduler_page() {
    let single = site();
    let who = admin(&single).await;
    assert_eq!(
        get(&single, "/api/scheduler", &who).await.json()["fleet"],
        Value::Null
    );

    let s = site_with(
        "[fleet]\nendpoints = [\"http://10.0.0.1:2379\"]\nname = \"a\"\nshare = [\"Site\"]\n",
    );
    let who = admin(&s).await;
    let state = s.dir.path().join("state");
    std::fs::create_dir_all(state.join("fleet")).unwrap();
    std::fs::create_dir_all(state.join("lqosd")).unwrap();
    std::fs::write(
        state.join("lqosd/fence.json"),
        r#"{"token":7,"generation":3}"#,
    )
    .unwrap();
    std::fs::write(
        state.join("fleet/status.json"),
        r#"{"etcd":"ok","leader":{"name":"b","token":7},"manifest":{"token":7,"generation":4},
            "boxes":[{"name":"a","share":["Site"],"applied_token":7,"applied_generation":3,"health":"ok"}]}"#,
    )
    .unwrap();
    let f = get(&s, "/api/scheduler", &who).await.json()["fleet"].clone();
    assert_eq!(f["name"], "a");
    assert_eq!(f["applied_fence"], json!({"token": 7, "generation": 3}));
    assert_eq!(f["status"]["leader"]["name"], "b");
    assert_eq!(f["status"]["boxes"][0]["applied_generation"], 3);
    assert_eq!(f["lags"], json!([1]), "one publication behind");
}
