//! Random edits of generated inputs, shared by the property tests over plan pairs.

use lqos_config::{Config, Inputs, SqmKind, SqmOverride};
use lqos_scheduler::plan::{plan, AssignOptions, Planned};
use proptest::prelude::*;
use std::path::Path;

pub fn config() -> Config {
    Config::parse("[bridge]\nto_internet = \"inet\"\nto_network = \"subs\"\n[queues]\ndefault_sqm = \"pfifo\"\n", "lqos.conf", Path::new("/")).0.unwrap()
}

pub fn generated(circuits: usize, seed: u64) -> Inputs {
    lqos_gen::inputs(&lqos_gen::GenSpec {
        seed,
        ..lqos_gen::GenSpec::new(circuits)
    })
    .unwrap()
}

#[derive(Debug, Clone)]
pub enum Edit {
    Rerate(usize, f64),
    Add(usize),
    Remove(usize),
    Reparent(usize, usize),
    NodeRate(usize, f64),
    NodeVirtual(usize),
    Sqm(usize),
}

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0.2f64..3.0).prop_map(|(i, f)| Edit::Rerate(i, f)),
        any::<usize>().prop_map(Edit::Add),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), any::<usize>()).prop_map(|(c, n)| Edit::Reparent(c, n)),
        (any::<usize>(), 0.2f64..3.0).prop_map(|(i, f)| Edit::NodeRate(i, f)),
        any::<usize>().prop_map(Edit::NodeVirtual),
        any::<usize>().prop_map(Edit::Sqm),
    ]
}

pub fn apply_edit(i: &mut Inputs, e: &Edit, n: usize) {
    let c = i.circuits.len();
    let nodes = i.network.nodes.len();
    match *e {
        Edit::Rerate(k, f) => {
            let x = &mut i.circuits[k % c];
            x.download_max *= f;
            x.download_min = x.download_min.min(x.download_max);
        }
        Edit::Add(k) => {
            let mut x = i.circuits[k % c].clone();
            x.id = format!("ADDED-{n}");
            x.devices.truncate(1);
            x.devices[0].ips = vec![format!("203.0.113.{}/32", n % 250).parse().unwrap()];
            i.circuits.push(x);
        }
        Edit::Remove(k) if c > 1 => {
            i.circuits.remove(k % c);
        }
        Edit::Reparent(k, p) if nodes > 0 => i.circuits[k % c].parent = Some(p % nodes),
        Edit::NodeRate(k, f) if nodes > 0 => i.network.nodes[k % nodes].download_mbps *= f,
        Edit::NodeVirtual(k) if nodes > 0 => i.network.nodes[k % nodes].is_virtual ^= true,
        Edit::Sqm(k) => {
            i.circuits[k % c].sqm = Some(SqmOverride {
                download: Some(SqmKind::FqCodel),
                upload: None,
            })
        }
        _ => {}
    }
}

/// The plan of `circuits` generated circuits on `queues` queues, and the plan after `edits`
/// (on one more queue with `requeue`), keeping the class ids of the first.
pub fn plan_pair(
    seed: u64,
    circuits: usize,
    queues: u16,
    requeue: bool,
    edits: &[Edit],
) -> (Planned, Planned) {
    let config = config();
    let opts = AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    let before = generated(circuits, seed);
    let old = plan(&before, &config, queues, None, opts).unwrap();
    let mut after = before.clone();
    for (n, e) in edits.iter().enumerate() {
        apply_edit(&mut after, e, n);
    }
    let next_queues = if requeue { queues + 1 } else { queues };
    let new = plan(&after, &config, next_queues, Some(&old.state), opts).unwrap();
    (old, new)
}
