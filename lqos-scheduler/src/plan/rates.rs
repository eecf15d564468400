//! Rates of every class in one queue and direction: ceilings clamped to the parent's, and
//! guarantees scaled down where the children's minimums add up to more than their parent has.
//!
//! HTB lets a class below its own `rate` send whatever its parent has left, so children whose
//! rates sum above the parent's rate silently break the parent's cap. LibreQoS squashes such
//! minimums to 1 Mbps; lqos scales each child's guarantee by the same factor, so relative
//! guarantees survive, and reports it (docs/planning.md).

use super::assign::{Entity, Item};
use super::tree::ShapeTree;
use lqos_config::Inputs;
use lqos_plan::Direction;

/// The lowest rate tc can express usefully (one kbyte/s).
pub const MIN_RATE_BPS: u64 = 8_000;

pub fn mbps_to_bps(mbps: f64) -> u64 {
    ((mbps * 1e6).round() as u64).max(MIN_RATE_BPS)
}

/// Final (rate, ceil) in bit/s for each item, plus what was adjusted.
pub struct Rates {
    pub rate: Vec<u64>,
    pub ceil: Vec<u64>,
    /// (parent item or None for the root, children's minimum sum, parent's rate) where scaled.
    pub scaled: Vec<(Option<usize>, u64, u64)>,
    /// Items whose own maximum was above their parent's ceiling (clamped).
    pub clamped: Vec<usize>,
}

/// (min, max) in bit/s that an item asks for in a direction.
fn wants(
    item: &Item,
    tree: &ShapeTree,
    inputs: &Inputs,
    generated_mbps: f64,
    dir: Direction,
) -> (u64, u64) {
    let pick = |d: f64, u: f64| mbps_to_bps(if dir == Direction::Download { d } else { u });
    match item.entity {
        Entity::Generated => {
            let g = mbps_to_bps(generated_mbps);
            (g, g)
        }
        Entity::Node(i) => {
            let n = &tree.nodes[i];
            let c = pick(n.download_mbps, n.upload_mbps);
            (c, c)
        }
        Entity::Circuit(c) => {
            let c = &inputs.circuits[c];
            (
                pick(c.download_min, c.upload_min),
                pick(c.download_max, c.upload_max),
            )
        }
    }
}

/// Steps the scaling factor moves in. Adding or removing one circuit shifts the sum of its
/// siblings' minimums by a little; a factor rounded down to 1/64 usually stays put, so the
/// siblings' classes are not rewritten by every refresh (and guarantees never exceed the parent).
const FACTOR_STEPS: f64 = 64.0;

fn stable_factor(exact: f64) -> f64 {
    let stepped = (exact * FACTOR_STEPS).floor() / FACTOR_STEPS;
    if stepped > 0.0 {
        stepped
    } else {
        exact
    }
}

pub fn compute(
    items: &[Item],
    tree: &ShapeTree,
    inputs: &Inputs,
    link_bps: u64,
    generated_mbps: f64,
    dir: Direction,
) -> Rates {
    let len = items.len();
    let mut ceil = vec![0u64; len];
    let mut pre = vec![0u64; len];
    let mut clamped = Vec::new();
    let mut child_sum = vec![0u64; len];
    let mut root_sum = 0u64;
    for (i, it) in items.iter().enumerate() {
        let (min, max) = wants(it, tree, inputs, generated_mbps, dir);
        let parent_ceil = it.parent.map_or(link_bps, |p| ceil[p]);
        if max > parent_ceil {
            clamped.push(i);
        }
        ceil[i] = max.min(parent_ceil);
        pre[i] = min.min(ceil[i]);
        match it.parent {
            Some(p) => child_sum[p] += pre[i],
            None => root_sum += pre[i],
        }
    }
    let mut rate = vec![0u64; len];
    let mut scaled = Vec::new();
    let factor = |sum: u64, have: u64| {
        if sum > have {
            stable_factor(have as f64 / sum as f64)
        } else {
            1.0
        }
    };
    let root_factor = factor(root_sum, link_bps);
    if root_factor < 1.0 {
        scaled.push((None, root_sum, link_bps));
    }
    let mut factors = vec![1.0f64; len];
    for (i, it) in items.iter().enumerate() {
        let f = it.parent.map_or(root_factor, |p| factors[p]);
        rate[i] = ((pre[i] as f64 * f) as u64).clamp(MIN_RATE_BPS.min(ceil[i]), ceil[i]);
        factors[i] = factor(child_sum[i], rate[i]);
        if factors[i] < 1.0 {
            scaled.push((Some(i), child_sum[i], rate[i]));
        }
    }
    Rates {
        rate,
        ceil,
        scaled,
        clamped,
    }
}
