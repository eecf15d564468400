//! A model of the kernel for unit tests: per interface the mq/HTB tree with HTB's rules (add
//! only under an existing parent, delete only without children, change only in place), and
//! the IP map. Failures can be injected at any operation.

use super::{Kernel, MapFailure, TcFailure};
use ipnet::IpNet;
use lqos_plan::{ClassId, HtbClass, IpMapping, TcOp};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub parent: Option<ClassId>,
    pub sized: (u64, u64, u32, u32, u32),
    pub leaf: Option<Arc<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Device {
    pub htbs: BTreeSet<(u16, u16)>,
    pub classes: BTreeMap<ClassId, Class>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FakeKernel {
    /// Devices with an mq root.
    pub devices: BTreeMap<String, Device>,
    pub ip_map: BTreeMap<IpNet, IpMapping>,
    /// Leaf qdisc handles in use: (device, handle) -> class. Not part of [`FakeKernel::state`]:
    /// an incremental apply and a fresh build number leaves differently.
    pub leaf_handles: BTreeMap<(String, u16), ClassId>,
    /// Fail the tc operation with this index (counted over every `run_tc` call).
    pub fail_tc_at: Option<usize>,
    /// Fail the upsert of this prefix.
    pub fail_upsert: Option<IpNet>,
    pub tc_ops_run: usize,
}

fn class(c: &HtbClass) -> Class {
    Class {
        parent: c.parent,
        sized: (c.rate_bps, c.ceil_bps, c.burst, c.cburst, c.quantum),
        leaf: None,
    }
}

impl FakeKernel {
    /// The state without counters and failure switches, for comparisons.
    pub fn state(&self) -> (BTreeMap<String, Device>, BTreeMap<IpNet, IpMapping>) {
        (self.devices.clone(), self.ip_map.clone())
    }

    fn op(&mut self, op: &TcOp) -> Result<(), String> {
        match op {
            TcOp::ClearRoot { dev } => {
                self.devices.remove(dev);
                self.leaf_handles.retain(|(d, _), _| d != dev);
                Ok(())
            }
            TcOp::AddRoot { dev } => {
                // Like the kernel: replacing an mq root by an mq root keeps what is below it.
                self.devices.entry(dev.clone()).or_default();
                Ok(())
            }
            TcOp::AddLeaf {
                dev,
                parent,
                handle,
                ..
            }
            | TcOp::ReplaceLeaf {
                dev,
                parent,
                handle,
                ..
            } if handle.is_some_and(|h| {
                self.leaf_handles
                    .get(&(dev.clone(), h))
                    .is_some_and(|c| c != parent)
            }) =>
            {
                Err(format!("{dev}: handle {handle:?} is taken"))
            }
            TcOp::AddHtb { dev, .. }
            | TcOp::AddClass { dev, .. }
            | TcOp::ChangeClass { dev, .. }
            | TcOp::DelClass { dev, .. }
            | TcOp::AddLeaf { dev, .. }
            | TcOp::ReplaceLeaf { dev, .. }
            | TcOp::DelLeaf { dev, .. } => match self.devices.get_mut(dev) {
                Some(d) => device_op(d, op).map(|()| self.track_handles(op)),
                None => Err(format!("{dev}: no mq root")),
            },
        }
    }
}

impl FakeKernel {
    /// Which leaf holds which handle after `op` succeeded.
    fn track_handles(&mut self, op: &TcOp) {
        let drop_class = |m: &mut BTreeMap<(String, u16), ClassId>, dev: &str, class: ClassId| {
            m.retain(|(d, _), c| !(d == dev && *c == class))
        };
        match op {
            TcOp::AddLeaf {
                dev,
                parent,
                handle,
                ..
            }
            | TcOp::ReplaceLeaf {
                dev,
                parent,
                handle,
                ..
            } => {
                drop_class(&mut self.leaf_handles, dev, *parent);
                if let Some(h) = handle {
                    self.leaf_handles.insert((dev.clone(), *h), *parent);
                }
            }
            TcOp::DelLeaf { dev, parent } | TcOp::DelClass { dev, id: parent } => {
                drop_class(&mut self.leaf_handles, dev, *parent)
            }
            _ => {}
        }
    }
}

fn device_op(d: &mut Device, op: &TcOp) -> Result<(), String> {
    let has_children = |d: &Device, id: ClassId| d.classes.values().any(|c| c.parent == Some(id));
    match op {
        TcOp::AddHtb {
            mq_minor, major, ..
        } => {
            if d.htbs.iter().any(|(m, q)| m == mq_minor || q == major) {
                return Err(format!("htb {major:x}: or mq class {mq_minor} taken"));
            }
            d.htbs.insert((*mq_minor, *major));
        }
        TcOp::AddClass { class: c, .. } => {
            if !d.htbs.iter().any(|(_, m)| *m == c.id.major) {
                return Err(format!("no htb {:x}:", c.id.major));
            }
            if d.classes.contains_key(&c.id) {
                return Err(format!("class {} exists", c.id));
            }
            if let Some(p) = c.parent {
                if !d.classes.contains_key(&p) {
                    return Err(format!("parent {p} of {} missing", c.id));
                }
            }
            d.classes.insert(c.id, class(c));
        }
        TcOp::ChangeClass { class: c, .. } => match d.classes.get_mut(&c.id) {
            Some(x) if x.parent == c.parent => x.sized = class(c).sized,
            _ => return Err(format!("class {} missing or moved", c.id)),
        },
        TcOp::DelClass { id, .. } => {
            if !d.classes.contains_key(id) || has_children(d, *id) {
                return Err(format!("class {id} missing or has children"));
            }
            d.classes.remove(id);
        }
        TcOp::AddLeaf { parent, spec, .. } => match d.classes.get_mut(parent) {
            Some(c) if c.leaf.is_none() => c.leaf = Some(spec.clone()),
            _ => return Err(format!("class {parent} missing or has a leaf")),
        },
        TcOp::ReplaceLeaf { parent, spec, .. } => match d.classes.get_mut(parent) {
            Some(c) => c.leaf = Some(spec.clone()),
            None => return Err(format!("class {parent} missing")),
        },
        TcOp::DelLeaf { parent, .. } => match d.classes.get_mut(parent) {
            Some(c) if c.leaf.is_some() => c.leaf = None,
            _ => return Err(format!("class {parent} missing or has no leaf")),
        },
        TcOp::ClearRoot { .. } | TcOp::AddRoot { .. } => unreachable!(),
    }
    Ok(())
}

impl Kernel for FakeKernel {
    fn run_tc(&mut self, ops: &[TcOp]) -> Result<(), TcFailure> {
        for (index, op) in ops.iter().enumerate() {
            let n = self.tc_ops_run;
            self.tc_ops_run += 1;
            let result = if self.fail_tc_at == Some(n) {
                Err("injected failure".to_owned())
            } else {
                self.op(op)
            };
            if let Err(message) = result {
                return Err(TcFailure {
                    index,
                    op: op.to_string(),
                    message,
                });
            }
        }
        Ok(())
    }

    fn upsert_mappings(&mut self, mappings: &[IpMapping]) -> Result<(), MapFailure> {
        for m in mappings {
            if self.fail_upsert == Some(m.prefix) {
                self.fail_upsert = None;
                return Err(MapFailure {
                    prefix: m.prefix,
                    message: "injected failure".into(),
                });
            }
            self.ip_map.insert(m.prefix, m.clone());
        }
        Ok(())
    }

    fn remove_mappings(&mut self, prefixes: &[IpNet]) -> Result<(), MapFailure> {
        for p in prefixes {
            self.ip_map.remove(p);
        }
        Ok(())
    }
}
