//! The telemetry routes with data: a hub whose circuit index maps the example's circuits, fed
//! synthetic flow records, RTT histograms and queue dumps (as the readers would).

use super::*;
use crate::circuit_index::CircuitIndex;
use crate::telemetry::classes::ClassIndex;
use lqos_ebpf::{
    LqosFlow, LqosFlowKey, LqosRttHist, FLOW_DOWN, FLOW_UP, RTT_EDGES_US, RTT_INTERNET,
    RTT_SUBSCRIBER,
};
use lqos_queue_stats::{ClassStats, InterfaceQueues, QdiscStats};
use std::collections::HashMap;
use std::net::Ipv4Addr;

const SEC: u64 = 1_000_000_000;
/// The telemetry's clock at the test's last pass (seconds of a fake CLOCK_MONOTONIC).
const T0: u64 = 10_000;

fn add_samples(h: &mut LqosRttHist, side: usize, us: u32, n: u32) {
    let b = RTT_EDGES_US
        .iter()
        .position(|&e| us <= e)
        .unwrap_or(RTT_EDGES_US.len());
    h.side[side].count[b] += n;
    h.side[side].sum_us[b] += us * n;
}

fn key(local: Ipv4Addr, remote: Ipv4Addr, port: u16) -> LqosFlowKey {
    LqosFlowKey {
        remote: remote.to_ipv6_mapped().octets(),
        local: local.to_ipv6_mapped().octets(),
        remote_port: port.to_be(),
        local_port: 40_000u16.to_be(),
        proto: 6,
        pad: [0; 3],
    }
}

fn plan_of(s: &Site) -> lqos_plan::QueuePlan {
    let config = &s.state.inner.config;
    let loaded = lqos_config::load_inputs(config).expect("inputs");
    let opts = lqos_scheduler::plan::AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    lqos_scheduler::plan::plan(&loaded.inputs, config, 2, None, opts)
        .expect("plan")
        .plan
}

/// The queue samples' time: 5 s ago, to the second (Unix ms).
fn queue_ms() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (now - 5) * 1000
}

/// One interface's dump with `circuit`'s classes: pfifo leaves with these cumulative counters.
fn dumps(
    plan: &lqos_plan::QueuePlan,
    circuit: &str,
    drops: u64,
    sent: u64,
) -> Vec<InterfaceQueues> {
    plan.interfaces
        .iter()
        .map(|iface| {
            let mut classes = HashMap::new();
            let mut qdiscs = Vec::new();
            for q in &iface.htbs {
                for c in &q.classes {
                    if c.owner != lqos_plan::ClassOwner::Circuit(circuit.into()) {
                        continue;
                    }
                    let id = c.id.as_u32();
                    classes.insert(
                        id,
                        ClassStats {
                            kind: "htb".into(),
                            classid: id,
                            bytes: sent,
                            packets: sent / 1000,
                            drops,
                            ..ClassStats::default()
                        },
                    );
                    qdiscs.push(QdiscStats {
                        kind: "pfifo".into(),
                        handle: 0x9000_0000 | (id & 0xffff),
                        parent: id,
                        drops,
                        backlog_bytes: 3_000,
                        qlen: 2,
                        ..QdiscStats::default()
                    });
                }
            }
            InterfaceQueues::new(classes, qdiscs)
        })
        .collect()
}

/// The example site with telemetry: circuit 1001 has two TCP flows and RTT samples on both
/// sides, 1002 RTT samples, 1004 significant retransmits (down), 1003 too few packets;
/// 1001's queues were read twice, a second apart, with 5 more drops.
fn telemetry_site() -> Site {
    let s = site();
    let plan = plan_of(&s);
    let hub = s.state.inner.shared.telemetry.clone();
    {
        let mut ix = hub.circuits.lock().unwrap();
        *ix = CircuitIndex::new(64);
        for m in &plan.mappings {
            ix.map(m.prefix, &m.circuit_id);
        }
    }
    hub.plan_applied(&plan);
    let index = |id: &str| hub.circuits.lock().unwrap().index_of(id).unwrap();
    let (c1001, c1002, c1003, c1004) = (index("1001"), index("1002"), index("1003"), index("1004"));
    let garcia = Ipv4Addr::new(100, 64, 1, 10);
    let flows = |t: u64, k: u64| -> Vec<(LqosFlowKey, LqosFlow)> {
        let mut big = LqosFlow {
            first_seen_ns: (T0 - 100) * SEC,
            last_seen_ns: t * SEC,
            circuit: c1001,
            rtt_us: [6_000, 21_000],
            sample_ns: [t * SEC, t * SEC],
            ..LqosFlow::default()
        };
        big.dir[FLOW_DOWN].bytes = 1_000_000 * k;
        big.dir[FLOW_DOWN].packets = 700 * k as u32;
        big.dir[FLOW_UP].bytes = 20_000 * k;
        big.dir[FLOW_UP].packets = 350 * k as u32;
        let mut small = big;
        small.dir[FLOW_DOWN].bytes = 5_000 * k;
        small.dir[FLOW_UP].bytes = 1_000 * k;
        let mut retx = LqosFlow {
            circuit: c1004,
            ..big
        };
        retx.dir[FLOW_DOWN].packets = 500 * k as u32;
        retx.dir[FLOW_DOWN].retransmits = 10 * k as u32;
        let mut few = LqosFlow {
            circuit: c1003,
            ..big
        };
        few.dir[FLOW_DOWN].packets = 10 * k as u32;
        few.dir[FLOW_UP].packets = 10 * k as u32;
        few.dir[FLOW_DOWN].retransmits = 5 * k as u32;
        vec![
            (key(garcia, Ipv4Addr::new(203, 0, 113, 5), 443), big),
            (key(garcia, Ipv4Addr::new(198, 51, 100, 7), 80), small),
            (
                key(
                    Ipv4Addr::new(100, 64, 1, 40),
                    Ipv4Addr::new(203, 0, 113, 9),
                    443,
                ),
                retx,
            ),
            (
                key(
                    Ipv4Addr::new(100, 64, 1, 30),
                    Ipv4Addr::new(203, 0, 113, 9),
                    22,
                ),
                few,
            ),
        ]
    };
    {
        let mut st = hub.write();
        let t = &mut st.telemetry;
        let mut h1001 = LqosRttHist::default();
        let mut h1002 = LqosRttHist::default();
        t.ingest_flows((T0 - 40) * SEC, &flows(T0 - 40, 1));
        t.ingest_rtt(T0 - 40, c1001, &h1001);
        t.ingest_rtt(T0 - 40, c1002, &h1002);
        // A slot 30 s ago, then the last 10 s.
        add_samples(&mut h1001, RTT_INTERNET, 40_000, 10);
        add_samples(&mut h1001, RTT_SUBSCRIBER, 9_000, 10);
        t.ingest_flows((T0 - 30) * SEC, &flows(T0 - 30, 2));
        t.ingest_rtt(T0 - 30, c1001, &h1001);
        add_samples(&mut h1001, RTT_INTERNET, 21_000, 20);
        add_samples(&mut h1001, RTT_SUBSCRIBER, 6_000, 20);
        add_samples(&mut h1002, RTT_INTERNET, 90_000, 10);
        add_samples(&mut h1002, RTT_SUBSCRIBER, 2_500, 10);
        t.ingest_flows(T0 * SEC, &flows(T0, 3));
        t.ingest_rtt(T0, c1001, &h1001);
        t.ingest_rtt(T0, c1002, &h1002);
        st.kernel.entries = 4;
        st.kernel.capacity = 65_536;
        st.kernel.insert_failed = 7;
        st.kernel.passes = 3;
    }
    {
        let mut q = hub.queues_mut();
        let classes = ClassIndex::new(&plan);
        let id: Arc<str> = "1001".into();
        let now = std::time::Instant::now();
        q.watch(&id, now);
        let ms = queue_ms();
        q.update(&classes, &dumps(&plan, "1001", 10, 1_000_000), ms, now);
        q.update(
            &classes,
            &dumps(&plan, "1001", 15, 1_250_000),
            ms + 1000,
            now,
        );
    }
    s.state.refresh_live();
    s
}

#[tokio::test]
async fn the_circuit_telemetry_has_both_rtt_sides_retransmits_qoo_and_queues() {
    let s = telemetry_site();
    let who = admin(&s).await;
    let a = get(&s, "/api/circuits/1001/telemetry", &who).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let t = a.json();
    assert_eq!(t["circuit_id"], "1001");
    assert_eq!(t["measured"], true);
    // The last 10 s: 21 ms internet, 6 ms subscriber, never averaged together.
    let rtt = &t["rtt"];
    assert!(
        (rtt["internet"]["p50_ms"].as_f64().unwrap() - 21.0).abs() < 0.01,
        "{rtt}"
    );
    assert!(
        (rtt["subscriber"]["p90_ms"].as_f64().unwrap() - 6.0).abs() < 0.01,
        "{rtt}"
    );
    assert_eq!(rtt["internet"]["samples"], 20);
    assert_eq!(rtt["subscriber"]["samples_5m"], 30);
    // The series: the slot 30 s ago and the current one, each with its own figures.
    let series = t["rtt_series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{series:?}");
    assert!((series[0]["internet"]["p50_ms"].as_f64().unwrap() - 40.0).abs() < 0.01);
    assert!((series[1]["subscriber"]["p50_ms"].as_f64().unwrap() - 6.0).abs() < 0.01);
    let (t0, t1) = (
        series[0]["t_unix"].as_f64().unwrap(),
        series[1]["t_unix"].as_f64().unwrap(),
    );
    let now = t["t_unix"].as_f64().unwrap();
    assert!(
        (now - t1).abs() < 1.0,
        "the current slot is now: {t1} vs {now}"
    );
    // The old slot (9970..9979) at its last second, 21 s before the current one's.
    assert!((t1 - t0 - 21.0).abs() < 0.01, "{t0} {t1}");
    // Retransmits: 1001's flows have none; the gate is told.
    assert_eq!(t["retransmits"]["significant_down"], false);
    assert_eq!(t["gate"]["min_packets"], 100);
    assert_eq!(t["gate"]["min_retransmits"], 2);
    assert_eq!(t["flows"], 2);
    assert_eq!(t["qoo"]["profile"], "web_browsing");
    assert_eq!(t["qoo"]["excluded"], false);
    assert_eq!(
        t["qoo"]["score"], 100,
        "21 ms p90 is within web browsing's 50 ms"
    );
    // Queues: the latest counters, and one second of deltas.
    assert_eq!(t["queue"]["down"]["drops"], 15);
    assert_eq!(t["queue"]["down"]["leaf"], "pfifo");
    let q = &t["queue_history"];
    assert_eq!(
        q["t_unix"].as_array().unwrap().len(),
        1,
        "two samples make one point: {q:?}"
    );
    assert_eq!(q["down"]["drops"], json!([5]));
    assert_eq!(q["down"]["sent_bps"], json!([2_000_000]));
    assert_eq!(q["down"]["backlog_bytes"], json!([3_000]));
    assert!(
        q["down"].get("ecn_marks").is_none() && q["down"].get("peak_delay_us").is_none(),
        "pfifo marks nothing and has no delays: left out, {q:?}"
    );
    let last = q["t_unix"][0].as_f64().unwrap();
    assert!(
        (last - (queue_ms() / 1000) as f64 - 1.0).abs() < 10.0,
        "{last}"
    );
    // Asking for newer points only (the page's later polls).
    let later = get(
        &s,
        &format!("/api/circuits/1001/telemetry?queue_since={last}"),
        &who,
    )
    .await
    .json();
    assert_eq!(later["queue_history"]["t_unix"], json!([]));
    assert_eq!(later["queue_history"]["up"]["drops"], json!([]));
}

#[tokio::test]
async fn retransmits_below_the_gate_are_not_significant() {
    let s = telemetry_site();
    let who = admin(&s).await;
    let t = get(&s, "/api/circuits/1004/telemetry", &who).await.json();
    let r = &t["retransmits"];
    assert_eq!(r["significant_down"], true, "{r}");
    assert!((r["down"].as_f64().unwrap() - 2.0).abs() < 1e-9, "{r}");
    let few = get(&s, "/api/circuits/1003/telemetry", &who).await.json();
    let r = &few["retransmits"];
    assert_eq!(r["significant_down"], false, "{r}");
    assert_eq!(r["down_packets"], 10, "{r}");
    assert!(
        r["down"].as_f64().unwrap() > 10.0,
        "the raw figure is still told: {r}"
    );
}

#[tokio::test]
async fn the_flows_table_lists_a_circuits_flows_busiest_first_with_its_id() {
    let s = telemetry_site();
    let who = admin(&s).await;
    let f = get(&s, "/api/circuits/1001/flows", &who).await.json();
    assert_eq!(f["total"], 2);
    let flows = f["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0]["circuit_id"], "1001");
    assert_eq!(flows[0]["remote"], "203.0.113.5:443");
    assert_eq!(flows[0]["local"], "100.64.1.10:40000");
    assert_eq!(flows[0]["proto"], "tcp");
    assert_eq!(flows[0]["bytes_down"], 3_000_000);
    assert_eq!(
        flows[0]["rate_down_bps"], 266_666,
        "1 MB in the last 30 s: {}",
        flows[0]
    );
    assert!((flows[0]["rtt_internet_ms"].as_f64().unwrap() - 21.0).abs() < 0.01);
    assert!((flows[0]["rtt_subscriber_ms"].as_f64().unwrap() - 6.0).abs() < 0.01);
    assert_eq!(flows[1]["remote"], "198.51.100.7:80");
    let one = get(&s, "/api/circuits/1001/flows?limit=1", &who)
        .await
        .json();
    assert_eq!(one["flows"].as_array().unwrap().len(), 1);
    assert_eq!(one["total"], 2, "the total counts them all");
    // A circuit without flows, bad limits, unknown circuits.
    let none = get(&s, "/api/circuits/1010/flows", &who).await.json();
    assert_eq!(none["flows"], json!([]));
    assert_eq!(none["total"], 0);
    for bad in ["limit=0", "limit=5000", "limit=many"] {
        let a = get(&s, &format!("/api/circuits/1001/flows?{bad}"), &who).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.text);
        assert!(
            a.json()["error"].as_str().unwrap().contains("limit"),
            "{}",
            a.text
        );
    }
    for route in ["/api/circuits/9999/flows", "/api/circuits/9999/telemetry"] {
        let a = get(&s, route, &who).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{route}");
        assert!(a.json()["error"].as_str().unwrap().contains("9999"));
    }
    let bad = get(&s, "/api/circuits/1001/telemetry?queue_since=soon", &who).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_dashboard_has_the_rtt_histogram_worst_circuits_and_flow_counts() {
    let s = telemetry_site();
    let who = admin(&s).await;
    let d = get(&s, "/api/dashboard", &who).await.json();
    let t = &d["telemetry"];
    let h = &t["rtt_histogram"];
    let edges = h["edges_ms"].as_array().unwrap();
    assert_eq!(edges.len() + 1, h["internet"].as_array().unwrap().len());
    let total = |side: &str| -> u64 {
        h[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        total("internet"),
        30,
        "1001's 20 and 1002's 10 of the last 10 s"
    );
    assert_eq!(total("subscriber"), 30);
    let worst = t["worst_internet_rtt"].as_array().unwrap();
    assert_eq!(worst[0]["circuit_id"], "1002", "{worst:?}");
    assert_eq!(worst[0]["name"], "Chen, Wei");
    assert!((worst[0]["p90_ms"].as_f64().unwrap() - 90.0).abs() < 0.01);
    assert_eq!(worst[1]["circuit_id"], "1001");
    assert_eq!(t["worst_subscriber_rtt"][0]["circuit_id"], "1001");
    let retx = t["worst_retransmits"].as_array().unwrap();
    assert_eq!(retx.len(), 1, "only significant ones: {retx:?}");
    assert_eq!(retx[0]["circuit_id"], "1004");
    assert_eq!(t["flows"]["tracked"], 4);
    assert_eq!(t["flows"]["kernel_capacity"], 65_536);
    assert_eq!(t["flows"]["insert_failed"], 7);
    assert_eq!(t["queues"]["drops_down"], 15);
    assert_eq!(t["gate"]["min_packets"], 100);
    // The live events carry it too.
    let e = first_event(&s, "/api/live", &who).await;
    let data: Value =
        serde_json::from_str(e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(
        data["telemetry"]["worst_internet_rtt"][0]["circuit_id"],
        "1002"
    );
}

#[tokio::test]
async fn tree_nodes_merge_the_histograms_of_the_circuits_below() {
    let s = telemetry_site();
    let who = admin(&s).await;
    let ap = get(&s, "/api/tree?node=Hilltop%20AP%20North", &who)
        .await
        .json();
    let t = &ap["node"]["telemetry"];
    // 1001: 20 x 21 ms, 1002: 10 x 90 ms (internet, last 10 s). Merged: p50 = rank 15 ->
    // 21 ms, p90 = rank 27 -> 90 ms. Averaging the circuits' p90s would say 55.5 ms.
    assert!(
        (t["rtt"]["internet"]["p50_ms"].as_f64().unwrap() - 21.0).abs() < 0.01,
        "{t}"
    );
    assert!(
        (t["rtt"]["internet"]["p90_ms"].as_f64().unwrap() - 90.0).abs() < 0.01,
        "{t}"
    );
    assert_eq!(t["rtt"]["internet"]["samples"], 30);
    assert_eq!(
        t["retransmits"]["significant_down"], true,
        "1004 is below this AP"
    );
    assert_eq!(t["flows"], 4);
    assert_eq!(t["circuits_measured"], 4);
    // Up the tree: the same samples in the region.
    let top = get(&s, "/api/tree", &who).await.json();
    let north = top["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "North Region")
        .unwrap();
    assert_eq!(north["telemetry"]["rtt"]["internet"]["samples"], 30);
    // A node without measured circuits has none.
    let south = get(&s, "/api/tree?node=Hilltop%20AP%20South", &who)
        .await
        .json();
    assert_eq!(south["node"]["telemetry"], Value::Null);
}

#[tokio::test]
async fn the_telemetry_routes_need_a_login_and_an_unattached_hub_answers_empty() {
    let s = site();
    for route in ["/api/circuits/1001/telemetry", "/api/circuits/1001/flows"] {
        let a = get(&s, route, &Who::default()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{route}");
    }
    let who = admin(&s).await;
    let t = get(&s, "/api/circuits/1001/telemetry", &who).await.json();
    assert_eq!(t["measured"], false);
    assert_eq!(t["rtt"]["internet"]["p50_ms"], Value::Null);
    assert_eq!(t["rtt_series"], json!([]));
    let d = get(&s, "/api/dashboard", &who).await.json();
    assert_eq!(d["telemetry"]["flows"]["passes"], 0);
    assert_eq!(d["telemetry"]["worst_internet_rtt"], json!([]));
}
