//! Which CPU queue each top-level node and unparented circuit goes to, and which minor each
//! class gets. Both are sticky: whatever kept its identity keeps its queue and its minor, so a
//! rebuild changes only what changed.

use super::tree::ShapeTree;
use super::PlanError;
use lqos_config::Inputs;
use lqos_plan::{ClassIdState, MAX_MINOR, QUEUE_ROOT_MINOR};

/// What a class in a queue stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// The generated parent node of this queue (holds unparented circuits).
    Generated,
    /// A shaped node (index into [`ShapeTree::nodes`]).
    Node(usize),
    /// A circuit (index into `Inputs::circuits`).
    Circuit(usize),
}

/// One class of a queue: parent-first order; `parent` indexes `items` (`None`: the root class).
#[derive(Debug, Clone)]
pub struct Item {
    pub entity: Entity,
    pub parent: Option<usize>,
    pub minor: u16,
}

#[derive(Debug, Default)]
pub struct QueueItems {
    pub items: Vec<Item>,
}

/// Options that change binning.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssignOptions {
    /// Balance by bandwidth weight (LibreQoS `use_binpacking`) instead of round-robin.
    pub binpacking: bool,
    /// Ignore the previous assignment and re-bin everything.
    pub rebalance: bool,
}

/// Which queue each top-level node and unparented circuit went to, with the weights binned by.
#[derive(Debug, Clone)]
pub struct Binning {
    /// Indexed like [`ShapeTree::nodes`]: the queue of each root (`usize::MAX` for the others).
    pub root_queue: Vec<usize>,
    /// Indexed like `Inputs::circuits`: the queue of each unparented circuit (`usize::MAX` for
    /// the others).
    pub circuit_queue: Vec<usize>,
    /// Indexed like [`ShapeTree::nodes`]: each subtree's binning weight (Mbps).
    pub weights: Vec<f64>,
}

/// Bins the roots and unparented circuits over `queues` queues: what `sticky` assigned keeps
/// its queue (when the queue count is the same), the rest goes to the least loaded queue
/// (binpacking, heaviest first) or round-robin.
pub fn bin(
    tree: &ShapeTree,
    inputs: &Inputs,
    queues: u16,
    sticky: Option<&ClassIdState>,
    binpacking: bool,
) -> Binning {
    let n = queues as usize;
    let sticky = sticky.filter(|p| p.queues == queues);
    let weights = subtree_weights(tree, inputs);
    let mut load = vec![0f64; n];
    let mut count = vec![0usize; n];
    let place = |prev_q: Option<u16>,
                 weight: f64,
                 load: &mut [f64],
                 count: &mut [usize]|
     -> Option<usize> {
        let q = prev_q.map(usize::from).filter(|q| *q < n)?;
        load[q] += weight;
        count[q] += 1;
        Some(q)
    };

    // Roots first (sticky ones, then new ones), then unparented circuits, sharing the loads.
    let mut root_queue = vec![usize::MAX; tree.nodes.len()];
    let mut fresh_roots = Vec::new();
    for r in tree.roots() {
        let prev_q = sticky
            .and_then(|p| p.nodes.get(&tree.nodes[r].name))
            .map(|(q, _)| *q);
        match place(prev_q, weights[r], &mut load, &mut count) {
            Some(q) => root_queue[r] = q,
            None => fresh_roots.push(r),
        }
    }
    let mut circuit_queue = vec![usize::MAX; inputs.circuits.len()];
    let mut fresh_circuits = Vec::new();
    for &c in &tree.unparented {
        let prev_q = sticky
            .and_then(|p| p.circuits.get(&inputs.circuits[c].id))
            .map(|(q, _)| *q);
        match place(
            prev_q,
            inputs.circuits[c].download_max,
            &mut load,
            &mut count,
        ) {
            Some(q) => circuit_queue[c] = q,
            None => fresh_circuits.push(c),
        }
    }
    if binpacking {
        // Longest-processing-time first: heaviest new node to the least loaded queue.
        fresh_roots.sort_by(|a, b| {
            weights[*b]
                .total_cmp(&weights[*a])
                .then_with(|| tree.nodes[*a].name.cmp(&tree.nodes[*b].name))
        });
    }
    let pick = |load: &[f64], count: &[usize]| -> usize {
        if binpacking {
            (0..n)
                .min_by(|a, b| load[*a].total_cmp(&load[*b]).then(a.cmp(b)))
                .unwrap_or(0)
        } else {
            (0..n).min_by_key(|q| (count[*q], *q)).unwrap_or(0)
        }
    };
    for r in fresh_roots {
        let q = pick(&load, &count);
        root_queue[r] = q;
        load[q] += weights[r];
        count[q] += 1;
    }
    for c in fresh_circuits {
        let q = pick(&load, &count);
        circuit_queue[c] = q;
        load[q] += inputs.circuits[c].download_max;
        count[q] += 1;
    }
    Binning {
        root_queue,
        circuit_queue,
        weights,
    }
}

/// Bins (see [`bin`]; `opts.rebalance` ignores `prev`), then lists each queue's classes
/// parent-first and gives them minors, as stable as `prev` allows.
pub fn assign(
    tree: &ShapeTree,
    inputs: &Inputs,
    queues: u16,
    prev: Option<&ClassIdState>,
    opts: AssignOptions,
) -> Result<(Vec<QueueItems>, ClassIdState, Binning), PlanError> {
    let n = queues as usize;
    let sticky = prev.filter(|p| p.queues == queues && !opts.rebalance);
    let binning = bin(tree, inputs, queues, sticky, opts.binpacking);
    let (root_queue, circuit_queue) = (&binning.root_queue, &binning.circuit_queue);
    let roots: Vec<usize> = tree.roots().collect();

    // Parent-first item lists per queue.
    let mut out: Vec<QueueItems> = (0..n).map(|_| QueueItems::default()).collect();
    for &c in &tree.unparented {
        let items = &mut out[circuit_queue[c]].items;
        if items.is_empty() {
            items.push(Item {
                entity: Entity::Generated,
                parent: None,
                minor: 0,
            });
        }
        items.push(Item {
            entity: Entity::Circuit(c),
            parent: Some(0),
            minor: 0,
        });
    }
    for &r in &roots {
        let items = &mut out[root_queue[r]].items;
        let mut stack = vec![(r, None)];
        while let Some((node, parent)) = stack.pop() {
            let at = items.len();
            items.push(Item {
                entity: Entity::Node(node),
                parent,
                minor: 0,
            });
            for &c in &tree.nodes[node].circuits {
                items.push(Item {
                    entity: Entity::Circuit(c),
                    parent: Some(at),
                    minor: 0,
                });
            }
            for &child in tree.nodes[node].children.iter().rev() {
                stack.push((child, Some(at)));
            }
        }
    }

    let mut state = ClassIdState {
        queues,
        ..Default::default()
    };
    for (q, qi) in out.iter_mut().enumerate() {
        allocate_minors(q as u16, qi, tree, inputs, sticky)?;
        for it in &qi.items {
            let q16 = q as u16;
            match it.entity {
                Entity::Generated => {
                    state.generated.insert(q16, it.minor);
                }
                Entity::Node(i) => {
                    state
                        .nodes
                        .insert(tree.nodes[i].name.clone(), (q16, it.minor));
                }
                Entity::Circuit(c) => {
                    state
                        .circuits
                        .insert(inputs.circuits[c].id.clone(), (q16, it.minor));
                }
            }
        }
    }
    Ok((out, state, binning))
}

/// Download weight of each node's subtree: the sum of its circuits' max rates (its own
/// bandwidth when it has no circuits yet).
fn subtree_weights(tree: &ShapeTree, inputs: &Inputs) -> Vec<f64> {
    let mut w: Vec<f64> = tree
        .nodes
        .iter()
        .map(|n| {
            n.circuits
                .iter()
                .map(|c| inputs.circuits[*c].download_max)
                .sum()
        })
        .collect();
    // Children always come after their parent in `nodes`, so a reverse sweep sums bottom-up.
    for i in (0..tree.nodes.len()).rev() {
        if let Some(p) = tree.nodes[i].parent {
            w[p] += w[i];
        }
    }
    for (i, n) in tree.nodes.iter().enumerate() {
        if w[i] == 0.0 {
            w[i] = n.download_mbps;
        }
    }
    w
}

fn allocate_minors(
    q: u16,
    qi: &mut QueueItems,
    tree: &ShapeTree,
    inputs: &Inputs,
    sticky: Option<&ClassIdState>,
) -> Result<(), PlanError> {
    let capacity = (MAX_MINOR - QUEUE_ROOT_MINOR) as usize;
    if qi.items.len() > capacity {
        return Err(PlanError::TooManyClasses {
            queue: q,
            needed: qi.items.len(),
            max: capacity,
        });
    }
    let mut used = vec![false; MAX_MINOR as usize + 1];
    used[0] = true;
    used[QUEUE_ROOT_MINOR as usize] = true;
    // Minors the previous plan used on this queue are not handed to newcomers while others are
    // free, so a removed circuit's id is not immediately reused by a different circuit.
    let mut previously = vec![false; MAX_MINOR as usize + 1];
    if let Some(p) = sticky {
        let on_q = |&(pq, m): &(u16, u16)| (pq == q).then_some(m);
        for m in p
            .nodes
            .values()
            .filter_map(on_q)
            .chain(p.circuits.values().filter_map(on_q))
            .chain(p.generated.get(&q).copied())
        {
            previously[m as usize] = true;
        }
        for it in qi.items.iter_mut() {
            let prev = match it.entity {
                Entity::Generated => p.generated.get(&q).map(|m| (q, *m)),
                Entity::Node(i) => p.nodes.get(&tree.nodes[i].name).copied(),
                Entity::Circuit(c) => p.circuits.get(&inputs.circuits[c].id).copied(),
            };
            if let Some((pq, m)) = prev {
                if pq == q && m > QUEUE_ROOT_MINOR && !used[m as usize] {
                    used[m as usize] = true;
                    it.minor = m;
                }
            }
        }
    }
    let total = qi.items.len();
    let mut cursor = QUEUE_ROOT_MINOR as usize + 1;
    let mut allow_reuse = false;
    for it in qi.items.iter_mut().filter(|it| it.minor == 0) {
        loop {
            if cursor > MAX_MINOR as usize {
                if allow_reuse {
                    return Err(PlanError::TooManyClasses {
                        queue: q,
                        needed: total,
                        max: capacity,
                    });
                }
                allow_reuse = true;
                cursor = QUEUE_ROOT_MINOR as usize + 1;
            }
            if !used[cursor] && (allow_reuse || !previously[cursor]) {
                break;
            }
            cursor += 1;
        }
        used[cursor] = true;
        it.minor = cursor as u16;
        cursor += 1;
    }
    Ok(())
}
