//! The CPU pages' routes: the live plan by queue with live rates, node expansion, and the
//! weights with the scheduler's rebalance preview (present, missing, corrupt, stale).

use super::*;
use lqos_plan::{EntryKind, Move, QueueWeight, RebalancePreview, REBALANCE_PREVIEW_FILE};

/// The plan's top-level nodes of the bundled example (North Region is virtual: no class).
const TOPS: [&str; 4] = ["Downtown POP", "Hilltop Tower", "Lakeview", "Riverside"];

#[tokio::test]
async fn the_cpu_tree_lists_every_top_level_node_under_one_queue_with_live_rates() {
    let s = site();
    let who = admin(&s).await;
    let t = get(&s, "/api/cpu/tree", &who).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let t = t.json();
    assert_eq!(t["generation"], 1);
    assert_eq!(t["circuits_total"], 36);
    let queues = t["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 2);
    let mut names: Vec<&str> = Vec::new();
    let mut circuits = 0;
    for (i, q) in queues.iter().enumerate() {
        assert_eq!(q["queue"], i);
        assert_eq!(q["download"]["interface"], "subs");
        assert_eq!(q["upload"]["interface"], "inet");
        assert_eq!(q["download"]["cpu"], i);
        let nodes = q["nodes"].as_array().unwrap();
        let sum: u64 = nodes.iter().map(|n| n["down_bps"].as_u64().unwrap()).sum();
        assert_eq!(q["down_bps"], sum, "a queue's rate is its nodes' rates");
        circuits += q["circuits"].as_u64().unwrap();
        for n in nodes {
            assert_eq!(n["queue"], i);
            if n["generated"] == false {
                names.push(n["name"].as_str().unwrap());
            } else {
                assert_eq!(n["name"], format!("Generated_PN_{}", i + 1));
            }
        }
    }
    assert_eq!(circuits, 36);
    names.sort_unstable();
    assert_eq!(names, TOPS, "each top-level node once, on one queue");
    let node = |name: &str| {
        queues
            .iter()
            .flat_map(|q| q["nodes"].as_array().unwrap())
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    let hilltop = node("Hilltop Tower");
    assert_eq!(hilltop["virtual_parents"], json!(["North Region"]));
    assert_eq!(node("Lakeview")["virtual_parents"], json!([]));
    // 1001 and 1004 are under Hilltop AP North.
    assert_eq!(hilltop["down_bps"], 102_000_000);
    assert_eq!(hilltop["up_bps"], 20_000_000);
    assert_eq!(hilltop["children"], 3);
    assert!(hilltop["plan_down_ceil_mbps"].as_f64().unwrap() > 0.0);
    let total: u64 = queues.iter().map(|q| q["down_bps"].as_u64().unwrap()).sum();
    assert_eq!(total, 102_000_000, "every shaped host's traffic, no more");
}

#[tokio::test]
async fn a_node_expands_to_its_children_and_circuits() {
    let s = site();
    let who = admin(&s).await;
    let a = get(&s, "/api/cpu/tree?node=Hilltop%20Tower", &who)
        .await
        .json();
    assert_eq!(a["path"], json!(["Hilltop Tower"]));
    let children: Vec<&str> = a["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        children,
        ["Hilltop AP North", "Hilltop AP South", "Hilltop AP East"]
    );
    let north = get(&s, "/api/cpu/tree?node=Hilltop%20AP%20North", &who)
        .await
        .json();
    assert_eq!(north["path"], json!(["Hilltop Tower", "Hilltop AP North"]));
    assert_eq!(north["node"]["down_bps"], 102_000_000);
    let c = north["circuits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["circuit_id"] == "1001")
        .expect("circuit 1001 under its AP")
        .clone();
    assert_eq!(c["name"], "Garcia, Maria");
    assert_eq!(c["down_bps"], 90_000_000);
    assert_eq!(
        north["circuits_total"],
        north["circuits"].as_array().unwrap().len()
    );
    let gone = get(&s, "/api/cpu/tree?node=North%20Region", &who).await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "a virtual node has no class"
    );
    assert!(gone.json()["error"].as_str().unwrap().contains("live plan"));
}

fn preview(generation: Option<u64>) -> RebalancePreview {
    RebalancePreview {
        format: lqos_plan::REBALANCE_PREVIEW_FORMAT,
        generation,
        dry_run: generation.is_none(),
        written_unix: 1_700_000_000,
        queues: 2,
        binpacking: true,
        per_queue: (0..2)
            .map(|q| QueueWeight {
                queue: q,
                kept_weight_mbps: 1000.0 + f64::from(q),
                kept_entries: 3,
                rebalanced_weight_mbps: 900.0,
                rebalanced_entries: 3,
            })
            .collect(),
        moves: vec![Move {
            kind: EntryKind::Node,
            name: "Lakeview".into(),
            weight_mbps: 250.0,
            from: 0,
            to: 1,
        }],
        moves_total: 1,
        entries: 6,
    }
}

#[tokio::test]
async fn cpu_weights_show_each_queue_and_the_preview_or_why_there_is_none() {
    let s = site();
    let who = admin(&s).await;
    let state_dir = s.state.inner.config.state_directory.clone();
    let w = get(&s, "/api/cpu/weights", &who).await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text);
    let w = w.json();
    assert_eq!(w["planned_basis"], "ceil");
    let rows = w["queues"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let circuits: u64 = rows.iter().map(|r| r["circuits"].as_u64().unwrap()).sum();
    assert_eq!(circuits, 36);
    for r in rows {
        assert!(r["planned_down_mbps"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["planned_up_mbps"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["weight_mbps"].is_null(), "no preview, no weight: {r}");
    }
    let busy = rows
        .iter()
        .find(|r| r["down_bps"] == 102_000_000)
        .expect("the busy queue");
    let load = busy["load_down"].as_f64().unwrap();
    let expected = 102.0 / busy["planned_down_mbps"].as_f64().unwrap();
    assert!((load - expected).abs() < 1e-9, "{load} vs {expected}");
    assert_eq!(w["preview"]["available"], false);
    assert!(
        w["preview"]["reason"]
            .as_str()
            .unwrap()
            .contains("does not exist yet"),
        "{}",
        w["preview"]
    );

    // The scheduler's preview for the live generation.
    preview(Some(1)).save(&state_dir).unwrap();
    let w = get(&s, "/api/cpu/weights", &who).await.json();
    let p = &w["preview"];
    assert_eq!(
        (p["available"].clone(), p["status"].clone()),
        (json!(true), json!("current"))
    );
    assert_eq!(p["moves"][0]["name"], "Lakeview");
    assert_eq!(
        (p["moves_total"].clone(), p["entries"].clone()),
        (json!(1), json!(6))
    );
    assert_eq!(w["queues"][1]["weight_mbps"], 1001.0);
    assert_eq!(w["queues"][0]["rebalanced_weight_mbps"], 900.0);

    // Another generation's, a dry run's: shown, with what to keep in mind.
    preview(Some(7)).save(&state_dir).unwrap();
    let p = get(&s, "/api/cpu/weights", &who).await.json()["preview"].clone();
    assert_eq!(p["status"], "other_generation");
    assert!(
        p["reason"].as_str().unwrap().contains("generation 7"),
        "{p}"
    );
    preview(None).save(&state_dir).unwrap();
    let p = get(&s, "/api/cpu/weights", &who).await.json()["preview"].clone();
    assert_eq!(p["status"], "dry_run");

    // A corrupt file: no preview, the reason, never a 500.
    std::fs::write(
        state_dir.join(REBALANCE_PREVIEW_FILE),
        "{\"format\": 1, \"gen",
    )
    .unwrap();
    let w = get(&s, "/api/cpu/weights", &who).await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text);
    let p = w.json()["preview"].clone();
    assert_eq!(p["available"], false);
    assert!(
        p["reason"]
            .as_str()
            .unwrap()
            .contains("not a rebalance preview"),
        "{p}"
    );
}
