//! Property: class ids are stable. Adding, removing or re-rating one circuit changes no other
//! circuit's or node's class id; re-planning unchanged inputs changes nothing.

mod common;
use common::check_structure;
use lqos_config::{parse_inputs, Config, InputTexts, Inputs};
use lqos_gen::{generate, GenSpec};
use lqos_scheduler::plan::{plan, AssignOptions};
use proptest::prelude::*;
use std::path::Path;

fn config(binpacking: bool) -> Config {
    let text = format!("[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"pfifo\"\nuse_binpacking = {binpacking}\n");
    Config::parse(&text, "lqos.conf", Path::new("/")).0.unwrap()
}

fn generated(circuits: usize, seed: u64) -> Inputs {
    let g = generate(&GenSpec {
        seed,
        ..GenSpec::new(circuits)
    });
    let texts = InputTexts {
        shaped_devices: g.shaped_devices_csv.as_bytes(),
        network: &g.network_json,
        overrides: None,
    };
    let (i, d) = parse_inputs(&texts, &Default::default());
    i.unwrap_or_else(|| panic!("{d}"))
}

#[derive(Debug, Clone)]
enum Change {
    Add,
    Remove(usize),
    Rerate(usize, f64),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Add),
        any::<usize>().prop_map(Change::Remove),
        (any::<usize>(), 0.1f64..4.0).prop_map(|(i, f)| Change::Rerate(i, f)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn one_circuit_change_moves_no_other_class(seed in any::<u64>(), circuits in 20usize..300, queues in 1u16..5, binpacking in any::<bool>(), change in change()) {
        let config = config(binpacking);
        let opts = AssignOptions { binpacking, rebalance: false };
        let before_inputs = generated(circuits, seed);
        let before = plan(&before_inputs, &config, queues, None, opts).unwrap();
        check_structure(&before.plan);

        let mut after_inputs = before_inputs.clone();
        let n = after_inputs.circuits.len();
        let touched = match change {
            Change::Add => {
                let mut c = after_inputs.circuits[seed as usize % n].clone();
                c.id = "NEW-CIRCUIT".into();
                c.devices.truncate(1);
                c.devices[0].ips = vec!["203.0.113.77/32".parse().unwrap()];
                after_inputs.circuits.push(c);
                "NEW-CIRCUIT".to_string()
            }
            Change::Remove(i) => after_inputs.circuits.remove(i % n).id,
            Change::Rerate(i, f) => {
                let c = &mut after_inputs.circuits[i % n];
                c.download_max *= f;
                c.download_min = c.download_min.min(c.download_max);
                c.upload_max *= f;
                c.upload_min = c.upload_min.min(c.upload_max);
                c.id.clone()
            }
        };
        let after = plan(&after_inputs, &config, queues, Some(&before.state), opts).unwrap();
        check_structure(&after.plan);
        for (id, ids) in &before.state.circuits {
            if *id != touched {
                prop_assert_eq!(after.state.circuits.get(id), Some(ids), "circuit {} moved", id);
            }
        }
        prop_assert_eq!(&after.state.nodes, &before.state.nodes);
        if let Change::Rerate(..) = change {
            prop_assert_eq!(after.state.circuits.get(&touched), before.state.circuits.get(&touched), "a re-rated circuit keeps its own id too");
        }
    }

    #[test]
    fn replanning_unchanged_inputs_is_identical(seed in any::<u64>(), circuits in 10usize..200, queues in 1u16..5) {
        let config = config(true);
        let inputs = generated(circuits, seed);
        let first = plan(&inputs, &config, queues, None, AssignOptions { binpacking: true, rebalance: false }).unwrap();
        let again = plan(&inputs, &config, queues, Some(&first.state), AssignOptions { binpacking: true, rebalance: false }).unwrap();
        prop_assert_eq!(&first.plan, &again.plan);
        prop_assert_eq!(&first.state, &again.state);
    }
}

#[test]
fn a_removed_circuits_minor_is_not_handed_straight_to_a_newcomer() {
    let config = config(false);
    let opts = AssignOptions::default();
    let inputs = generated(50, 7);
    let first = plan(&inputs, &config, 1, None, opts).unwrap();
    let mut next = inputs.clone();
    let gone = next.circuits.remove(10);
    let mut newcomer = next.circuits[0].clone();
    newcomer.id = "NEWCOMER".into();
    newcomer.devices.truncate(1);
    newcomer.devices[0].ips = vec!["203.0.113.9/32".parse().unwrap()];
    next.circuits.push(newcomer);
    let second = plan(&next, &config, 1, Some(&first.state), opts).unwrap();
    assert_ne!(
        second.state.circuits["NEWCOMER"],
        first.state.circuits[&gone.id]
    );
}

#[test]
fn a_changed_queue_count_rebins_and_stays_consistent() {
    let config = config(true);
    let inputs = generated(200, 3);
    let first = plan(
        &inputs,
        &config,
        2,
        None,
        AssignOptions {
            binpacking: true,
            rebalance: false,
        },
    )
    .unwrap();
    let second = plan(
        &inputs,
        &config,
        4,
        Some(&first.state),
        AssignOptions {
            binpacking: true,
            rebalance: false,
        },
    )
    .unwrap();
    check_structure(&second.plan);
    let used: std::collections::HashSet<u16> =
        second.state.circuits.values().map(|(q, _)| *q).collect();
    assert_eq!(used.len(), 4, "all four queues used after re-binning");
}
