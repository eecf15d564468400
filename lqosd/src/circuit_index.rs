//! Dense circuit indexes for the kernel's per-circuit RTT histograms (`lqos_rtt`, indexed by
//! `lqos_ip_info.circuit`). An index is given to a circuit when its first prefix is mapped and
//! taken back when its last prefix goes; freed indexes are reused. Index 0 means "no
//! histogram": it is never given out, and circuits beyond the map's capacity get it (their
//! flows are still tracked). Which circuit holds an index is kept here, so that the telemetry
//! reader can tell when an index changed hands and start that circuit's histogram afresh.

use ipnet::IpNet;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Circuit id <-> index, with a reference count of mapped prefixes per circuit.
#[derive(Debug)]
pub struct CircuitIndex {
    /// Indexes `1..capacity` can be given out (the kernel map has `capacity` entries).
    capacity: u32,
    by_id: FxHashMap<Arc<str>, (u32, u32)>,
    /// Index -> circuit (slot 0 unused).
    ids: Vec<Option<Arc<str>>>,
    free: Vec<u32>,
    /// Which circuit each mapped prefix belongs to.
    prefixes: FxHashMap<IpNet, Arc<str>>,
    /// Circuits that got index 0 because every index was taken.
    pub overflowed: u64,
}

impl CircuitIndex {
    /// `capacity`: `max_entries` of `lqos_rtt`.
    pub fn new(capacity: u32) -> Self {
        Self {
            capacity,
            by_id: FxHashMap::default(),
            ids: vec![None],
            free: Vec::new(),
            prefixes: FxHashMap::default(),
            overflowed: 0,
        }
    }

    /// `prefix` now belongs to `circuit`: its index (0 when none is left).
    pub fn map(&mut self, prefix: IpNet, circuit: &Arc<str>) -> u32 {
        match self.prefixes.get(&prefix) {
            Some(old) if old == circuit => return self.index_of(circuit).unwrap_or(0),
            Some(_) => self.unmap(&prefix),
            None => {}
        }
        self.prefixes.insert(prefix, circuit.clone());
        if let Some((index, refs)) = self.by_id.get_mut(circuit) {
            *refs += 1;
            return *index;
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None if (self.ids.len() as u32) < self.capacity => {
                self.ids.push(None);
                self.ids.len() as u32 - 1
            }
            None => {
                self.overflowed += 1;
                0
            }
        };
        if index != 0 {
            self.ids[index as usize] = Some(circuit.clone());
        }
        self.by_id.insert(circuit.clone(), (index, 1));
        index
    }

    /// `prefix` is no longer mapped; its circuit's index is freed with its last prefix.
    pub fn unmap(&mut self, prefix: &IpNet) {
        let Some(circuit) = self.prefixes.remove(prefix) else {
            return;
        };
        let Some((index, refs)) = self.by_id.get_mut(&circuit) else {
            return;
        };
        *refs -= 1;
        if *refs > 0 {
            return;
        }
        let index = *index;
        self.by_id.remove(&circuit);
        if index != 0 {
            self.ids[index as usize] = None;
            self.free.push(index);
        }
    }

    /// The index of a circuit with at least one mapped prefix.
    pub fn index_of(&self, circuit: &str) -> Option<u32> {
        self.by_id.get(circuit).map(|(i, _)| *i)
    }

    /// The circuit holding `index`.
    pub fn circuit_at(&self, index: u32) -> Option<&Arc<str>> {
        self.ids.get(index as usize).and_then(Option::as_ref)
    }

    /// Circuits with an index.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn indexes_are_dense_stable_and_reused() {
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        let mut ix = CircuitIndex::new(16);
        assert_eq!(ix.map(net("10.0.0.1/32"), &a), 1);
        assert_eq!(
            ix.map(net("10.0.0.2/32"), &a),
            1,
            "a second prefix of a keeps its index"
        );
        assert_eq!(ix.map(net("10.0.0.3/32"), &b), 2);
        assert_eq!(
            ix.map(net("10.0.0.1/32"), &a),
            1,
            "re-mapping is idempotent"
        );
        ix.unmap(&net("10.0.0.1/32"));
        assert_eq!(ix.index_of("a"), Some(1), "a still has a prefix");
        ix.unmap(&net("10.0.0.2/32"));
        assert_eq!(ix.index_of("a"), None);
        assert_eq!(ix.circuit_at(1), None);
        assert_eq!(
            ix.map(net("10.0.0.9/32"), &c),
            1,
            "the freed index is reused"
        );
        assert_eq!(ix.circuit_at(1).map(|s| &**s), Some("c"));
        assert_eq!(ix.len(), 2);
    }

    #[test]
    fn a_prefix_moving_to_another_circuit_releases_the_old_one() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let mut ix = CircuitIndex::new(16);
        ix.map(net("10.0.0.1/32"), &a);
        // a's index is freed first, then given to b: the reader sees the owner change.
        assert_eq!(ix.map(net("10.0.0.1/32"), &b), 1);
        assert_eq!(ix.index_of("a"), None, "a lost its only prefix");
        assert_eq!(ix.circuit_at(1).map(|s| &**s), Some("b"));
    }

    #[test]
    fn beyond_capacity_circuits_get_index_zero() {
        let mut ix = CircuitIndex::new(3); // indexes 1 and 2
        let ids: Vec<Arc<str>> = (0..4).map(|i| format!("c{i}").into()).collect();
        let got: Vec<u32> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| ix.map(net(&format!("10.0.0.{i}/32")), id))
            .collect();
        assert_eq!(got, [1, 2, 0, 0]);
        assert_eq!(ix.overflowed, 2);
        ix.unmap(&net("10.0.0.2/32"));
        assert_eq!(ix.circuit_at(0), None, "index 0 is never a circuit's");
    }
}
