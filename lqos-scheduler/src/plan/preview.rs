//! The rebalance preview: what `refresh --rebalance` would move. The binning a refresh kept
//! (sticky: every top-level node stays where it was) against the one a rebalance would make
//! from scratch, with the same inputs and queue count. Written to `state_directory` as
//! [`lqos_plan::REBALANCE_PREVIEW_FILE`] for lqosd's CPU Weights page.

use super::assign::{bin, Binning};
use super::tree::ShapeTree;
use lqos_config::Inputs;
use lqos_plan::{
    EntryKind, Move, QueueWeight, RebalancePreview, MAX_LISTED_MOVES, REBALANCE_PREVIEW_FORMAT,
};

/// The preview for `kept` (the binning the plan was made with). `generation`, `dry_run` and
/// `written_unix` are left for the caller (known only once the plan is applied or printed).
pub fn rebalance_preview(
    tree: &ShapeTree,
    inputs: &Inputs,
    queues: u16,
    kept: &Binning,
    binpacking: bool,
) -> RebalancePreview {
    let fresh = bin(tree, inputs, queues, None, binpacking);
    let mut per_queue: Vec<QueueWeight> = (0..queues)
        .map(|queue| QueueWeight {
            queue,
            ..QueueWeight::default()
        })
        .collect();
    let mut moves = Vec::new();
    let mut entries = 0;
    let mut count = |kind: EntryKind, name: &str, weight: f64, from: usize, to: usize| {
        entries += 1;
        if let Some(q) = per_queue.get_mut(from) {
            q.kept_weight_mbps += weight;
            q.kept_entries += 1;
        }
        if let Some(q) = per_queue.get_mut(to) {
            q.rebalanced_weight_mbps += weight;
            q.rebalanced_entries += 1;
        }
        if from != to {
            moves.push(Move {
                kind,
                name: name.to_owned(),
                weight_mbps: weight,
                from: from as u16,
                to: to as u16,
            });
        }
    };
    for r in tree.roots() {
        count(
            EntryKind::Node,
            &tree.nodes[r].name,
            kept.weights[r],
            kept.root_queue[r],
            fresh.root_queue[r],
        );
    }
    for &c in &tree.unparented {
        let circuit = &inputs.circuits[c];
        count(
            EntryKind::Circuit,
            &circuit.id,
            circuit.download_max,
            kept.circuit_queue[c],
            fresh.circuit_queue[c],
        );
    }
    moves.sort_by(|a, b| {
        b.weight_mbps
            .total_cmp(&a.weight_mbps)
            .then_with(|| a.name.cmp(&b.name))
    });
    let moves_total = moves.len();
    moves.truncate(MAX_LISTED_MOVES);
    RebalancePreview {
        format: REBALANCE_PREVIEW_FORMAT,
        generation: None,
        dry_run: false,
        written_unix: 0,
        queues,
        binpacking,
        per_queue,
        moves,
        moves_total,
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{plan, AssignOptions};
    use lqos_config::{parse_inputs, Config, InputTexts, Inputs};
    use lqos_plan::{ClassIdState, EntryKind, RebalancePreview};
    use std::path::Path;

    const HEADER: &str = "Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps\n";

    fn config() -> Config {
        let text = "[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"pfifo\"\n";
        let (c, d) = Config::parse(text, "lqos.conf", Path::new("/"));
        c.unwrap_or_else(|| panic!("{d}"))
    }

    /// Top-level nodes A..D (D under a virtual group), each with one circuit of `weights[i]`
    /// Mbps, and unparented circuits U1 (50) and U2 (10).
    fn inputs(weights: [u32; 4]) -> Inputs {
        let net = r#"{"A": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
            "B": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
            "C": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
            "Group": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000, "virtual": true,
              "children": {"D": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000}}}}"#;
        let mut csv = HEADER.to_owned();
        for (i, (node, w)) in ["A", "B", "C", "D"].iter().zip(weights).enumerate() {
            csv += &format!("C{node},D{node},{node},100.64.0.{},,1,1,{w},{w}\n", i + 1);
        }
        csv += "U1,DU1,,100.64.1.1,,1,1,50,50\nU2,DU2,,100.64.1.2,,1,1,10,10\n";
        let (i, d) = parse_inputs(
            &InputTexts {
                shaped_devices: csv.as_bytes(),
                network: net,
                overrides: None,
            },
            &Default::default(),
        );
        i.unwrap_or_else(|| panic!("{d}"))
    }

    fn preview(
        i: &Inputs,
        prev: Option<&ClassIdState>,
        binpacking: bool,
        rebalance: bool,
    ) -> RebalancePreview {
        let opts = AssignOptions {
            binpacking,
            rebalance,
        };
        plan(i, &config(), 2, prev, opts).expect("plan").preview
    }

    /// Class ids with every node and circuit on the given queues (minors made up).
    fn sticky(nodes: &[(&str, u16)], circuits: &[(&str, u16)]) -> ClassIdState {
        let mut s = ClassIdState {
            queues: 2,
            ..Default::default()
        };
        for (m, (n, q)) in nodes.iter().enumerate() {
            s.nodes.insert((*n).into(), (*q, 10 + m as u16));
        }
        for (m, (c, q)) in circuits.iter().enumerate() {
            s.circuits.insert((*c).into(), (*q, 100 + m as u16));
        }
        s
    }

    #[test]
    fn a_fresh_plan_has_nothing_to_move() {
        let i = inputs([100, 100, 100, 100]);
        let p = preview(&i, None, true, false);
        assert_eq!((p.moves_total, p.entries, p.queues), (0, 6, 2), "{p:?}");
        assert!(p.moves.is_empty());
        // Every entry counted once on each side, with its weight.
        let kept: f64 = p.per_queue.iter().map(|q| q.kept_weight_mbps).sum();
        let after: f64 = p.per_queue.iter().map(|q| q.rebalanced_weight_mbps).sum();
        assert_eq!((kept, after), (460.0, 460.0));
        assert_eq!(p.per_queue[0], {
            let mut q = p.per_queue[0].clone();
            q.rebalanced_weight_mbps = q.kept_weight_mbps;
            q.rebalanced_entries = q.kept_entries;
            q
        });
    }

    #[test]
    fn a_lopsided_sticky_binning_lists_the_nodes_a_rebalance_would_move() {
        // A grew: A, B and C were binned onto queue 0 when they were small; D is on queue 1.
        let i = inputs([400, 100, 100, 100]);
        let prev = sticky(
            &[("A", 0), ("B", 0), ("C", 0), ("D", 1)],
            &[("U1", 0), ("U2", 1)],
        );
        let p = preview(&i, Some(&prev), true, false);
        // Kept: queue 0 holds A+B+C+U1 = 650, queue 1 D+U2 = 110.
        assert_eq!(p.per_queue[0].kept_weight_mbps, 650.0);
        assert_eq!(p.per_queue[0].kept_entries, 4);
        assert_eq!(p.per_queue[1].kept_weight_mbps, 110.0);
        // From scratch, heaviest first to the least loaded: A (400) q0, then B, C, D (100
        // each, by name) q1, q1, q1; then U1 (50) q1? no: q0 400 vs q1 300 -> q1 = 350,
        // then U2 (10) -> q1 (350 < 400) = 360.
        assert_eq!(p.per_queue[0].rebalanced_weight_mbps, 400.0);
        assert_eq!(p.per_queue[1].rebalanced_weight_mbps, 360.0);
        let moved: Vec<(EntryKind, &str, u16, u16)> = p
            .moves
            .iter()
            .map(|m| (m.kind, m.name.as_str(), m.from, m.to))
            .collect();
        assert_eq!(
            moved,
            [
                (EntryKind::Node, "B", 0, 1),
                (EntryKind::Node, "C", 0, 1),
                (EntryKind::Circuit, "U1", 0, 1),
            ],
            "heaviest first, then by name; D (a virtual node's child) and U2 stay"
        );
        assert_eq!(p.moves_total, 3);
        assert_eq!(p.moves[0].weight_mbps, 100.0);
    }

    #[test]
    fn after_a_rebalance_the_preview_is_empty() {
        let i = inputs([400, 100, 100, 100]);
        let prev = sticky(&[("A", 0), ("B", 0), ("C", 0), ("D", 1)], &[]);
        let p = preview(&i, Some(&prev), true, true);
        assert_eq!(p.moves_total, 0, "{:?}", p.moves);
    }

    #[test]
    fn round_robin_previews_by_count() {
        let i = inputs([400, 100, 100, 100]);
        // All six entries on queue 0: a rebalance deals them out 3 and 3.
        let prev = sticky(
            &[("A", 0), ("B", 0), ("C", 0), ("D", 0)],
            &[("U1", 0), ("U2", 0)],
        );
        let p = preview(&i, Some(&prev), false, false);
        assert!(!p.binpacking);
        assert_eq!(
            (p.per_queue[0].kept_entries, p.per_queue[1].kept_entries),
            (6, 0)
        );
        assert_eq!(
            (
                p.per_queue[0].rebalanced_entries,
                p.per_queue[1].rebalanced_entries
            ),
            (3, 3)
        );
        assert_eq!(p.moves_total, 3);
        assert!(p.moves.iter().all(|m| (m.from, m.to) == (0, 1)));
    }

    #[test]
    fn a_changed_queue_count_moves_nothing_it_did_not_already_move() {
        // Class ids saved for 4 queues: the plan re-bins from scratch, as a rebalance would.
        let i = inputs([400, 100, 100, 100]);
        let mut prev = sticky(&[("A", 3), ("B", 3)], &[]);
        prev.queues = 4;
        assert_eq!(preview(&i, Some(&prev), true, false).moves_total, 0);
    }
}
