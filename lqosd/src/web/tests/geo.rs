//! The geo pages' routes: ASN lists, detail and search, countries for the globe, the site
//! map, the About page, the map data files and the tile origin in the security policy.

use super::*;
use lqos_ebpf::{LqosFlow, LqosFlowKey, FLOW_DOWN, FLOW_UP};
use lqos_telemetry::geo::build::{AsnBuilder, CountryBuilder};
use lqos_telemetry::geo::GeoTables;
use std::net::Ipv4Addr;

const SEC: u64 = 1_000_000_000;

struct GeoSite {
    site: Site,
    _geo_dir: tempfile::TempDir,
}

/// The example site with a small ASN/country table and map data of its own.
fn geo_site(extra: &str) -> GeoSite {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut a = AsnBuilder::new();
    a.add_csv(
        "100.80.0.0,100.95.255.255,64501,Exemple Video CDN\n100.96.0.0,100.103.255.255,64502,Example Cloud K.K.\n"
            .as_bytes(),
        "asn.csv",
    )
    .unwrap();
    let mut c = CountryBuilder::new();
    c.add_csv(
        "100.80.0.0,100.95.255.255,FR\n100.96.0.0,100.103.255.255,JP\n".as_bytes(),
        "country.csv",
    )
    .unwrap();
    std::fs::write(d.join("asn.bin"), a.finish("test").unwrap().0.to_bytes()).unwrap();
    std::fs::write(
        d.join("country.bin"),
        c.finish("test").unwrap().0.to_bytes(),
    )
    .unwrap();
    std::fs::write(
        d.join("country-centroids.json"),
        r#"{"format":1,"countries":{"FR":{"name":"France","centroid":[2.46,46.57]},"JP":{"name":"Japan","centroid":[138.0,36.5]}}}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("world.json"),
        r#"{"format":1,"source":"t","countries":[{"code":"FR","name":"France","rings":[[0,43,7,43,7,50,0,50]]}]}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("datasets.json"),
        r#"{"format":1,"datasets":[{"id":"asn","title":"IP to ASN","license":"CC-BY-4.0","attribution_html":"<a href='https://db-ip.com'>IP Geolocation by DB-IP</a>","license_files":["licenses/asn-LICENSE"]}]}"#,
    )
    .unwrap();
    std::fs::create_dir(d.join("licenses")).unwrap();
    std::fs::write(
        d.join("licenses/asn-LICENSE"),
        "Attribution 4.0 International",
    )
    .unwrap();
    let conf = format!(
        "[geo]\nasn_file = \"{0}/asn.bin\"\ncountry_file = \"{0}/country.bin\"\ndata_dir = \"{0}\"\n{extra}",
        d.display()
    );
    let site = site_with(&conf);
    let geo = GeoTables::load(&d.join("asn.bin"), &d.join("country.bin")).unwrap();
    site.state.inner.shared.telemetry.set_geo(Arc::new(geo));
    GeoSite {
        site,
        _geo_dir: dir,
    }
}

fn key(local: [u8; 4], remote: [u8; 4], port: u16) -> LqosFlowKey {
    LqosFlowKey {
        remote: Ipv4Addr::from(remote).to_ipv6_mapped().octets(),
        local: Ipv4Addr::from(local).to_ipv6_mapped().octets(),
        remote_port: 443u16.to_be(),
        local_port: port.to_be(),
        proto: 6,
        pad: [0; 3],
    }
}

fn flow(circuit: u32, now: u64, down: u64, up: u64, retx: u32, rtt_us: u32) -> LqosFlow {
    let mut f = LqosFlow {
        first_seen_ns: SEC,
        last_seen_ns: now,
        circuit,
        ..Default::default()
    };
    f.dir[FLOW_DOWN].bytes = down;
    f.dir[FLOW_DOWN].packets = 200;
    f.dir[FLOW_DOWN].retransmits = retx;
    f.dir[FLOW_UP].bytes = up;
    f.dir[FLOW_UP].packets = 200;
    if rtt_us > 0 {
        f.sample_ns[FLOW_UP] = now;
        f.rtt_us[FLOW_UP] = rtt_us;
    }
    f
}

/// Two circuits of the example talking to the CDN (FR) and one to the cloud (JP).
fn traffic(s: &Site) -> (String, String) {
    let hub = &s.state.inner.shared.telemetry;
    let catalog = s.state.catalog();
    let (c1, c2) = (
        catalog.circuits[0].id.clone(),
        catalog.circuits[1].id.clone(),
    );
    let (i1, i2) = {
        let mut ix = hub.circuits.lock().unwrap();
        *ix = crate::circuit_index::CircuitIndex::new(100);
        (
            ix.map("100.64.1.10/32".parse().unwrap(), &c1.as_str().into()),
            ix.map("100.64.1.40/32".parse().unwrap(), &c2.as_str().into()),
        )
    };
    let a = key([100, 64, 1, 10], [100, 80, 0, 10], 40000);
    let b = key([100, 64, 1, 40], [100, 80, 0, 11], 40001);
    let c = key([100, 64, 1, 40], [100, 96, 0, 10], 40002);
    let mut t = hub.write();
    t.telemetry.ingest_flows(
        2 * SEC,
        &[
            (a, flow(i1, 2 * SEC, 0, 0, 0, 0)),
            (b, flow(i2, 2 * SEC, 0, 0, 0, 0)),
            (c, flow(i2, 2 * SEC, 0, 0, 0, 0)),
        ],
    );
    t.telemetry.ingest_flows(
        3 * SEC,
        &[
            (a, flow(i1, 3 * SEC, 5_000_000, 100_000, 0, 20_000)),
            (b, flow(i2, 3 * SEC, 1_000_000, 50_000, 9, 30_000)),
            (c, flow(i2, 3 * SEC, 200_000, 10_000, 0, 150_000)),
        ],
    );
    (c1, c2)
}

#[tokio::test]
async fn asn_lists_detail_and_search() {
    let g = geo_site("");
    let s = &g.site;
    let (c1, c2) = traffic(s);
    let who = admin(s).await;
    let l = get(s, "/api/asns", &who).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    let l = l.json();
    assert_eq!(l["geo_loaded"], true);
    assert_eq!(l["asns"][0]["asn"], 64501);
    assert_eq!(l["asns"][0]["name"], "Exemple Video CDN");
    assert_eq!(l["asns"][0]["bytes_down"], 6_000_000);
    assert_eq!(l["asns"][0]["active_flows"], 2);
    assert_eq!(l["asns"][0]["circuits"], 2);
    // The most affected circuit first: the one with retransmits.
    assert_eq!(l["asns"][0]["top_circuits"][0]["circuit_id"], c2.as_str());
    assert!(l["asns"][0]["top_circuits"][0]["name"].is_string());
    // By RTT the cloud (150 ms) comes first.
    let r = get(s, "/api/asns?sort=rtt&limit=1", &who).await.json();
    assert_eq!(r["asns"].as_array().unwrap().len(), 1);
    assert_eq!(r["asns"][0]["asn"], 64502);
    assert_eq!(
        get(s, "/api/asns?sort=sideways", &who).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(s, "/api/asns?limit=0", &who).await.status,
        StatusCode::BAD_REQUEST
    );

    let d = get(s, "/api/asns/AS64501", &who).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let d = d.json();
    assert_eq!(d["tracked"], true);
    assert_eq!(d["trend"].as_array().unwrap().len(), 15);
    let circuits: Vec<&str> = d["circuits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["circuit_id"].as_str().unwrap())
        .collect();
    assert_eq!(circuits, [c2.as_str(), c1.as_str()]);
    assert_eq!(d["flows"].as_array().unwrap().len(), 2);
    assert_eq!(d["flows"][0]["asn_name"], "Exemple Video CDN");
    assert_eq!(d["flows"][0]["country"], "FR");
    assert_eq!(d["countries"][0]["name"], "France");
    assert_eq!(
        get(s, "/api/asns/google", &who).await.status,
        StatusCode::BAD_REQUEST
    );
    let quiet = get(s, "/api/asns/64999", &who).await.json();
    assert_eq!(quiet["tracked"], false);

    let found = get(s, "/api/asn-search?q=cloud", &who).await.json();
    assert_eq!(found["results"][0]["asn"], 64502);
    assert_eq!(found["results"][0]["tracked"], true);
    let by_number = get(s, "/api/asn-search?q=AS64501", &who).await.json();
    assert_eq!(by_number["results"][0]["name"], "Exemple Video CDN");
    assert_eq!(
        get(s, "/api/asn-search?q=", &who).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn countries_carry_their_position_for_the_globe() {
    let g = geo_site("");
    let s = &g.site;
    traffic(s);
    let who = admin(s).await;
    let c = get(s, "/api/geo/countries", &who).await.json();
    let fr = &c["countries"][0];
    assert_eq!(fr["country"], "FR");
    assert_eq!(fr["name"], "France");
    assert_eq!(fr["centroid"], json!([2.46, 46.57]));
    assert_eq!(fr["bytes_down"], 6_000_000);
    assert!(fr["rtt_median_ms"].as_f64().unwrap() > 10.0);
    assert_eq!(c["countries"][1]["country"], "JP");
    let w = get(s, "/api/geo/world", &who).await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(w.json()["countries"][0]["code"], "FR");
    assert_eq!(
        get(s, "/api/geo/centroids", &who).await.json()["countries"]["JP"]["name"],
        "Japan"
    );
}

#[tokio::test]
async fn the_site_map_places_sites_and_their_aps() {
    let g = geo_site("");
    let s = &g.site;
    let who = admin(s).await;
    let m = get(s, "/api/sitemap", &who).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    let m = m.json();
    assert_eq!(m["tile_url"], Value::Null);
    let nodes = m["nodes"].as_array().unwrap();
    let node = |n: &str| nodes.iter().find(|x| x["name"] == n).cloned();
    let hill = node("Hilltop Tower").expect("the example's sites have coordinates");
    assert_eq!(hill["inherited"], false);
    let ap = node("Hilltop AP North").expect("APs inherit their site's position");
    assert_eq!(ap["inherited"], true);
    assert_eq!(
        (ap["lat"].clone(), ap["lon"].clone()),
        (hill["lat"].clone(), hill["lon"].clone())
    );
    assert!(
        node("North Region").is_none(),
        "a node without a located ancestor is left off"
    );
    assert!(m["located"].as_u64().unwrap() >= 4);
}

#[tokio::test]
async fn about_lists_the_datasets_and_serves_their_licences() {
    let g = geo_site("");
    let s = &g.site;
    let who = admin(s).await;
    let a = get(s, "/api/about", &who).await.json();
    assert_eq!(a["datasets"]["datasets"][0]["id"], "asn");
    assert!(a["datasets"]["datasets"][0]["attribution_html"]
        .as_str()
        .unwrap()
        .contains("db-ip.com"));
    assert_eq!(a["tables"]["asn"]["asns"], 2);
    assert_eq!(a["licenses"], json!(["asn-LICENSE"]));
    assert_eq!(a["problems"], json!([]));
    let l = get(s, "/api/geo/licenses/asn-LICENSE", &who).await;
    assert_eq!(l.text, "Attribution 4.0 International");
    assert_eq!(
        get(s, "/api/geo/licenses/passwd", &who).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn geo_routes_need_a_session() {
    let g = geo_site("");
    for uri in [
        "/api/asns",
        "/api/asns/1",
        "/api/asn-search?q=a",
        "/api/geo/countries",
        "/api/geo/world",
        "/api/sitemap",
        "/api/about",
    ] {
        assert_eq!(
            get(&g.site, uri, &Who::default()).await.status,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn the_tile_server_is_the_only_other_origin_allowed() {
    let plain = geo_site("");
    let csp = get(&plain.site, "/", &Who::default()).await.headers[header::CONTENT_SECURITY_POLICY]
        .clone();
    assert_eq!(
        csp,
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    );
    let tiles = geo_site("tile_url = \"https://tiles.example.net/{z}/{x}/{y}.png\"\n");
    let csp = get(&tiles.site, "/", &Who::default()).await.headers[header::CONTENT_SECURITY_POLICY]
        .clone();
    assert_eq!(
        csp,
        "default-src 'self'; img-src 'self' data: https://tiles.example.net; frame-ancestors 'none'"
    );
    let who = admin(&tiles.site).await;
    let m = get(&tiles.site, "/api/sitemap", &who).await.json();
    assert_eq!(m["tile_url"], "https://tiles.example.net/{z}/{x}/{y}.png");
}
