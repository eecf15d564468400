//! The integration editors: admins only, secrets never sent back, comments kept, every change
//! validated like lqos.conf, "import now".

use super::*;

const TABLE: &str = "# Our UISP: keep this comment\n[uisp_integration]\nenable_uisp = false\ntoken = \"s3cret-token\" # from UISP\nurl = \"https://old.example.net\"\nstrategy = \"full\"\n";

#[tokio::test]
async fn admins_edit_an_integration_and_secrets_stay_secret() {
    let s = site_with(TABLE);
    let a = admin(&s).await;
    let r = get(&s, "/api/integrations", &a).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        !r.text.contains("s3cret"),
        "a secret is never sent: {}",
        r.text
    );
    let uisp = r.json()["integrations"][0].clone();
    assert_eq!(uisp["name"], "uisp");
    let key = |j: &Value, k: &str| {
        j["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["key"] == k)
            .cloned()
            .unwrap()
    };
    assert_eq!(key(&uisp, "token")["set"], true);
    assert!(key(&uisp, "token").get("value").is_none());
    assert_eq!(key(&uisp, "url")["value"], "https://old.example.net");

    let v = read_only(&s).await;
    assert_eq!(
        get(&s, "/api/integrations", &v).await.status,
        StatusCode::FORBIDDEN
    );
    let put = |who: &Who, body: Value| {
        let who = who.clone();
        let s = &s;
        async move { call(s, Method::PUT, "/api/integrations/uisp", &who, Some(body)).await }
    };
    assert_eq!(
        put(&v, json!({"enabled": true})).await.status,
        StatusCode::FORBIDDEN
    );

    // Saved: the secret left empty stays, comments stay, the values are written.
    let r = put(
        &a,
        json!({"enabled": true, "values": {"url": "https://uisp.example.net", "token": "", "strategy": "ap_site", "exclude_sites": "Lab\nOld Tower", "airmax_capacity": "0.65"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let conf = std::fs::read_to_string(s.dir.path().join("lqos.conf")).unwrap();
    assert!(
        conf.contains("# Our UISP: keep this comment")
            && conf.contains("token = \"s3cret-token\" # from UISP"),
        "{conf}"
    );
    let (c, d) = Config::parse(&conf, "lqos.conf", s.dir.path());
    assert!(!d.rejects(), "{d}");
    let u = c.unwrap().integrations.uisp.expect("enabled");
    assert_eq!(u.url, "https://uisp.example.net");
    assert_eq!(u.strategy, lqos_config::integrations::Strategy::ApSite);
    assert_eq!(u.exclude_sites, ["Lab", "Old Tower"]);
    assert_eq!(u.airmax_capacity, 0.65);
    assert_eq!(u.token, "s3cret-token");

    // Refused: nothing written, every problem named.
    let before = std::fs::read_to_string(s.dir.path().join("lqos.conf")).unwrap();
    for bad in [
        json!({"enabled": true, "values": {"strategy": "tree"}}),
        json!({"enabled": true, "values": {"airmax_capacity": -1}}),
        json!({"enabled": true, "values": {"url": "ftp://x"}}),
        json!({"enabled": true, "values": {"no_such_key": 1}}),
    ] {
        let r = put(&a, bad.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text
        );
    }
    let r = put(
        &a,
        json!({"enabled": true, "values": {"airmax_capacity": -1}}),
    )
    .await;
    assert!(
        r.text.contains("uisp_integration.airmax_capacity"),
        "{}",
        r.text
    );
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("lqos.conf")).unwrap(),
        before
    );

    // A new table for another integration; a new secret is written.
    let r = call(&s, Method::PUT, "/api/integrations/netzur", &a, Some(json!({"enabled": true, "values": {"api_url": "https://nz.example.net/api", "api_key": "nz-key"}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!r.text.contains("nz-key"));
    let conf = std::fs::read_to_string(s.dir.path().join("lqos.conf")).unwrap();
    assert!(
        conf.contains("[netzur_integration]") && conf.contains("api_key = \"nz-key\""),
        "{conf}"
    );

    // Import now: the files lqos-scheduler looks for.
    let r = call(&s, Method::POST, "/api/integrations/uisp/import", &a, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert!(s.dir.path().join("state/integrations/import-now").exists());
    assert!(s.state.inner.config.refresh_request_path().exists());
    let r = call(&s, Method::POST, "/api/integrations/nope/import", &a, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
