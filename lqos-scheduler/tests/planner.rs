//! Planner tests on small hand-made inputs: structure, rates, modes, limits.

use lqos_config::{parse_inputs, Config, InputTexts, Inputs, Severity};
use lqos_plan::{ClassOwner, Direction, HtbClass, QueuePlan, MAX_NODE_DEPTH};
use lqos_scheduler::plan::{plan, AssignOptions, PlanError, Planned};
mod common;
use common::check_structure;
use std::path::Path;

const HEADER: &str = "Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,sqm\n";

fn config(extra: &str) -> Config {
    config_sqm("pfifo", extra)
}

fn config_sqm(sqm: &str, extra: &str) -> Config {
    let text = format!("[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"{sqm}\"\ndownlink_bandwidth_mbps = 1000\nuplink_bandwidth_mbps = 500\ngenerated_pn_download_mbps = 200\ngenerated_pn_upload_mbps = 100\n{extra}");
    let (c, d) = Config::parse(&text, "lqos.conf", Path::new("/"));
    c.unwrap_or_else(|| panic!("{d}"))
}

fn inputs(rows: &str, network: &str) -> Inputs {
    let csv = format!("{HEADER}{rows}");
    let (i, d) = parse_inputs(
        &InputTexts {
            shaped_devices: csv.as_bytes(),
            network,
            overrides: None,
        },
        &Default::default(),
    );
    i.unwrap_or_else(|| panic!("{d}"))
}

fn run(i: &Inputs, c: &Config, queues: u16) -> Planned {
    plan(
        i,
        c,
        queues,
        None,
        AssignOptions {
            binpacking: c.queues.use_binpacking,
            rebalance: false,
        },
    )
    .unwrap()
}

fn class<'a>(p: &'a QueuePlan, dir: Direction, owner: &ClassOwner) -> &'a HtbClass {
    p.interfaces
        .iter()
        .flat_map(|i| &i.htbs)
        .filter(|q| q.direction == dir)
        .flat_map(|q| &q.classes)
        .find(|c| &c.owner == owner)
        .unwrap_or_else(|| panic!("{owner:?}"))
}

const NET: &str = r#"{"Site": {"downloadBandwidthMbps": 400, "uploadBandwidthMbps": 100, "children": {
    "Group": {"downloadBandwidthMbps": 9999, "uploadBandwidthMbps": 9999, "virtual": true, "children": {
        "AP": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 50}}}}}}"#;

#[test]
fn bridge_plan_has_the_tree_rates_and_leaves() {
    let i = inputs("C1,D1,AP,100.64.0.1,2001:db8::/64,30,5,60,10,\nC2,D2,AP,100.64.0.2,,50,10,500,10,\nC3,D3,,100.64.0.3,,10,1,20,2,\n", NET);
    let p = run(&i, &config(""), 2).plan;
    check_structure(&p);
    assert_eq!(
        p.interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["subs", "inet"]
    );
    assert_eq!(p.interfaces[0].htbs.len(), 2);
    assert!(
        p.classes()
            .all(|(_, _, c)| c.owner != ClassOwner::Node("Group".into())),
        "virtual: no class"
    );
    let site = class(&p, Direction::Download, &ClassOwner::Node("Site".into()));
    let ap = class(&p, Direction::Download, &ClassOwner::Node("AP".into()));
    assert_eq!(
        ap.parent,
        Some(site.id),
        "children of a virtual node are promoted"
    );
    let c1 = class(&p, Direction::Download, &ClassOwner::Circuit("C1".into()));
    assert_eq!(c1.parent, Some(ap.id));
    assert_eq!(
        (c1.rate_bps, c1.ceil_bps, c1.leaf.as_deref()),
        (30_000_000, 60_000_000, Some("pfifo"))
    );
    assert_eq!(
        class(&p, Direction::Download, &ClassOwner::Circuit("C2".into())).ceil_bps,
        100_000_000,
        "clamped to the AP"
    );
    let c3 = class(&p, Direction::Upload, &ClassOwner::Circuit("C3".into()));
    let pn = p
        .classes()
        .find(|(i, _, c)| i.name == "inet" && Some(c.id) == c3.parent)
        .unwrap()
        .2;
    assert!(
        matches!(&pn.owner, ClassOwner::Node(n) if n.starts_with("Generated_PN_")),
        "{:?}",
        pn.owner
    );
    assert_eq!(pn.ceil_bps, 100_000_000, "generated_pn_upload_mbps");
    assert_eq!(p.mappings.len(), 4);
}

#[test]
fn oversubscribed_minimums_are_scaled_proportionally_and_reported() {
    let i = inputs(
        "C1,D1,AP,100.64.0.1,,60,5,100,10,\nC2,D2,AP,100.64.0.2,,90,5,100,10,\n",
        NET,
    );
    let planned = run(&i, &config(""), 1);
    let p = &planned.plan;
    check_structure(p);
    let r1 = class(p, Direction::Download, &ClassOwner::Circuit("C1".into())).rate_bps;
    let r2 = class(p, Direction::Download, &ClassOwner::Circuit("C2".into())).rate_bps;
    assert_eq!(
        (r1, r2),
        (39_375_000, 59_062_500),
        "150 Mbps of minimums in a 100 Mbps AP: x2/3 each, rounded down to 42/64 so small changes keep it"
    );
    assert!(
        planned
            .notes
            .iter()
            .any(|n| n.severity == Severity::Info && n.message.contains("scaled by 0.667")),
        "{}",
        planned.notes
    );
}

#[test]
fn deep_trees_are_folded_to_what_htb_allows() {
    let mut net = String::new();
    for d in 0..9 {
        net.push_str(&format!("{{\"N{d}\": {{\"downloadBandwidthMbps\": 100, \"uploadBandwidthMbps\": 100, \"children\": "));
    }
    net.push_str("{}");
    for _ in 0..9 {
        net.push_str("}}");
    }
    let i = inputs("C1,D1,N8,100.64.0.1,,1,1,2,2,\n", &net);
    let planned = run(&i, &config(""), 1);
    let p = &planned.plan;
    check_structure(p);
    let nodes = p
        .classes()
        .filter(|(i, _, c)| i.name == "subs" && matches!(c.owner, ClassOwner::Node(_)))
        .count();
    assert_eq!(nodes, MAX_NODE_DEPTH);
    let c1 = class(p, Direction::Download, &ClassOwner::Circuit("C1".into()));
    let n5 = class(p, Direction::Download, &ClassOwner::Node("N5".into()));
    assert_eq!(
        c1.parent,
        Some(n5.id),
        "the circuit lands on the deepest allowed ancestor"
    );
    assert!(
        planned
            .notes
            .iter()
            .any(|n| n.severity == Severity::Warning && n.message.contains("3 node(s) deeper")),
        "{}",
        planned.notes
    );
}

#[test]
fn on_a_stick_uses_one_interface_with_upload_queues_after_download() {
    let (c, d) = Config::parse("[single_interface]\ninterface = \"stick\"\ninternet_vlan = 2\nnetwork_vlan = 3\n[queues]\ndefault_sqm = \"none\"\n", "x", Path::new("/"));
    let c = c.unwrap_or_else(|| panic!("{d}"));
    let i = inputs(
        "C1,D1,,100.64.0.1,,1,1,2,2,\nC2,D2,,100.64.0.2,,1,1,2,2,\n",
        "{}",
    );
    let p = run(&i, &c, 2).plan;
    assert_eq!(p.interfaces.len(), 1);
    let majors: Vec<(u16, Direction)> = p.interfaces[0]
        .htbs
        .iter()
        .map(|q| (q.major, q.direction))
        .collect();
    assert_eq!(
        majors,
        [
            (1, Direction::Download),
            (2, Direction::Download),
            (3, Direction::Upload),
            (4, Direction::Upload)
        ]
    );
    check_structure(&p);
    for m in &p.mappings {
        assert_eq!(m.upload.major, m.download.major + 2);
        assert_eq!(m.upload.minor, m.download.minor);
        assert_eq!(m.cpu as u16, m.download.major - 1);
    }
    assert!(
        p.classes().all(|(_, _, c)| c.leaf.is_none()),
        "default_sqm none: no leaf qdisc"
    );
}

#[test]
fn leaf_qdisc_follows_sqm_column_then_fast_threshold_then_default() {
    let i = inputs("C1,D1,,100.64.0.1,,1,1,2,2,cake\nC2,D2,,100.64.0.2,,1,1,2000,2,\nC3,D3,,100.64.0.3,,1,1,2,2,fq_codel/none\nC4,D4,,100.64.0.4,,1,1,2,2,\n", "{}");
    let p = run(&i, &config("fast_queues_fq_codel = 1000\n"), 1).plan;
    let leaf = |id: &str, d| class(&p, d, &ClassOwner::Circuit(id.into())).leaf.clone();
    assert_eq!(
        leaf("C1", Direction::Download).as_deref(),
        Some("cake diffserv4 rtt 180ms"),
        "cake at 2 Mbps: the slow-circuit rtt"
    );
    assert_eq!(leaf("C2", Direction::Download).as_deref(), Some("fq_codel"));
    assert_eq!(leaf("C2", Direction::Upload).as_deref(), Some("pfifo"));
    assert_eq!(leaf("C3", Direction::Download).as_deref(), Some("fq_codel"));
    assert_eq!(leaf("C3", Direction::Upload), None);
    assert_eq!(leaf("C4", Direction::Upload).as_deref(), Some("pfifo"));
}

/// Issue 13 (1.5): CAKE on circuits of at most 4 Mbps gets LibreQoS's longer rtt (in ms).
#[test]
fn slow_cake_circuits_get_a_longer_rtt_and_nothing_else_does() {
    let i = inputs(
        "A,A1,,100.64.0.1,,0.2,0.2,0.5,1,cake\n\
         B,B1,,100.64.0.2,,1,1,1.5,3,\n\
         C,C1,,100.64.0.3,,1,1,4,4.01,fq_codel/\n\
         D,D1,,100.64.0.4,,1,1,100,2,\n",
        "{}",
    );
    let p = run(&i, &config_sqm("cake besteffort", ""), 1).plan;
    let leaf = |id: &str, d| class(&p, d, &ClassOwner::Circuit(id.into())).leaf.clone();
    let got: Vec<_> = ["A", "B", "C", "D"]
        .iter()
        .flat_map(|id| [leaf(id, Direction::Download), leaf(id, Direction::Upload)])
        .collect();
    let want = [
        "cake diffserv4 rtt 300ms",
        "cake diffserv4 rtt 300ms",
        "cake besteffort rtt 180ms",
        "cake besteffort rtt 140ms",
        "fq_codel",
        "cake besteffort",
        "cake besteffort",
        "cake besteffort rtt 180ms",
    ];
    assert_eq!(got, want.map(|w| Some(std::sync::Arc::from(w))));
    // An rtt of the operator's own is kept; other qdiscs are never touched.
    for sqm in ["cake diffserv4 rtt 50ms", "fq_codel", "pfifo"] {
        let p = run(&i, &config_sqm(sqm, ""), 1).plan;
        let l = class(&p, Direction::Download, &ClassOwner::Circuit("B".into()))
            .leaf
            .clone();
        assert_eq!(l.as_deref(), Some(sqm));
    }
}

#[test]
fn binpacking_balances_top_level_nodes_by_weight() {
    let mut net = String::from("{");
    let mut rows = String::new();
    for (n, w) in [900, 800, 400, 400, 300, 200, 100, 100].iter().enumerate() {
        net.push_str(&format!(
            "{}\"S{n}\": {{\"downloadBandwidthMbps\": 1000, \"uploadBandwidthMbps\": 1000}}",
            if n > 0 { "," } else { "" }
        ));
        rows.push_str(&format!("C{n},D{n},S{n},100.64.0.{},,1,1,{w},1,\n", n + 1));
    }
    net.push('}');
    let i = inputs(&rows, &net);
    let p = run(&i, &config("use_binpacking = true\n"), 2).plan;
    let load: Vec<u64> = p.interfaces[0]
        .htbs
        .iter()
        .map(|q| {
            q.classes
                .iter()
                .filter(|c| matches!(c.owner, ClassOwner::Circuit(_)))
                .map(|c| c.ceil_bps / 1_000_000)
                .sum()
        })
        .collect();
    assert_eq!(load.iter().sum::<u64>(), 3200);
    assert_eq!(load, [1600, 1600], "LPT splits these weights evenly");
}

#[test]
fn class_and_ip_map_limits_are_checked_before_anything_is_applied() {
    let mut rows = String::with_capacity(70_000 * 40);
    for n in 0..65_535u32 {
        rows.push_str(&format!(
            "C{n},D{n},,100.{}.{}.{},,1,1,2,2,\n",
            64 + (n >> 16),
            (n >> 8) & 255,
            n & 255
        ));
    }
    let i = inputs(&rows, "{}");
    let err = plan(&i, &config(""), 1, None, AssignOptions::default()).unwrap_err();
    assert_eq!(
        err,
        PlanError::TooManyClasses {
            queue: 0,
            needed: 65_536,
            max: 65_534
        }
    );
    assert!(
        err.to_string().contains("queue 1 needs 65536 HTB classes"),
        "{err}"
    );
    // Two queues hold the classes, but one interface cannot number 65,535 leaf qdiscs.
    let err = plan(&i, &config(""), 2, None, AssignOptions::default()).unwrap_err();
    assert_eq!(
        err,
        PlanError::TooManyLeafQdiscs {
            interface: "subs".into(),
            needed: 65_535,
            max: 64_511
        }
    );
    assert!(err.to_string().contains("sqm \"none\""), "{err}");
    let bare = {
        let text = "[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"none\"\ndownlink_bandwidth_mbps = 1000\nuplink_bandwidth_mbps = 500\ngenerated_pn_download_mbps = 200\ngenerated_pn_upload_mbps = 100\n";
        Config::parse(text, "lqos.conf", Path::new("/")).0.unwrap()
    };
    assert!(
        plan(&i, &bare, 2, None, AssignOptions::default()).is_ok(),
        "two queues hold them without leaves"
    );
    let mut small = bare.clone();
    small.lqosd.ip_map_capacity = 1000;
    let err = plan(&i, &small, 2, None, AssignOptions::default()).unwrap_err();
    assert_eq!(
        err,
        PlanError::IpMapFull {
            needed: 65_535,
            capacity: 1000
        }
    );
}

#[test]
fn round_robin_spreads_new_top_level_nodes_by_count() {
    let mut net = String::from("{");
    let mut rows = String::new();
    for n in 0..6 {
        net.push_str(&format!(
            "{}\"S{n}\": {{\"downloadBandwidthMbps\": 1000, \"uploadBandwidthMbps\": 1000}}",
            if n > 0 { "," } else { "" }
        ));
        rows.push_str(&format!(
            "C{n},D{n},S{n},100.64.0.{},,1,1,{},1,\n",
            n + 1,
            100 * (n + 1)
        ));
    }
    net.push('}');
    let i = inputs(&rows, &net);
    let p = run(&i, &config("use_binpacking = false\n"), 3).plan;
    let nodes_per_queue: Vec<usize> = p.interfaces[0]
        .htbs
        .iter()
        .map(|q| {
            q.classes
                .iter()
                .filter(|c| matches!(c.owner, ClassOwner::Node(_)))
                .count()
        })
        .collect();
    assert_eq!(nodes_per_queue, [2, 2, 2]);
    let first = p.interfaces[0].htbs[0]
        .classes
        .iter()
        .filter_map(|c| match &c.owner {
            ClassOwner::Node(n) => Some(n.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(first, ["S0", "S3"], "in file order, one per queue in turn");
}
