//! The plan diff, applied to a model that enforces HTB's rules (add only under an existing
//! parent, delete only without children, change only in place), turns the old plan into
//! exactly the new one, for random edits of generated networks.

mod common;

use common::edits::{config, edit, generated, plan_pair};
use lqos_plan::{diff, ClassId, IpMapping, PlanDiff, QueuePlan};
use lqos_scheduler::plan::{plan, AssignOptions};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

type Sized = (u64, u64, u32, u32, u32);

#[derive(Debug, Clone, PartialEq)]
struct Class {
    parent: Option<ClassId>,
    sized: Sized,
    leaf: Option<Arc<str>>,
}

/// One interface in the kernel: its queue layout (major, mq minor, CPU) and its classes.
type IfaceModel = (Vec<(u16, u16, u32)>, BTreeMap<ClassId, Class>);

/// What the kernel would hold: per interface its queue layout and classes, and the IP map.
#[derive(Debug, Clone, PartialEq, Default)]
struct Model {
    ifaces: BTreeMap<String, IfaceModel>,
    ip_map: BTreeMap<ipnet::IpNet, IpMapping>,
}

fn iface_model(i: &lqos_plan::InterfacePlan) -> IfaceModel {
    let layout = i
        .htbs
        .iter()
        .map(|q| (q.major, q.mq_minor, q.cpu))
        .collect();
    let classes = i
        .htbs
        .iter()
        .flat_map(|q| &q.classes)
        .map(|c| {
            (
                c.id,
                Class {
                    parent: c.parent,
                    sized: (c.rate_bps, c.ceil_bps, c.burst, c.cburst, c.quantum),
                    leaf: c.leaf.clone(),
                },
            )
        })
        .collect();
    (layout, classes)
}

impl Model {
    fn of(p: &QueuePlan) -> Model {
        Model {
            ifaces: p
                .interfaces
                .iter()
                .map(|i| (i.name.clone(), iface_model(i)))
                .collect(),
            ip_map: p.mappings.iter().map(|m| (m.prefix, m.clone())).collect(),
        }
    }

    /// Applies the diff in the order lqosd (and `write_diff`) does, failing on what HTB refuses.
    fn apply(&mut self, d: &PlanDiff) -> Result<(), String> {
        for dev in &d.remove_interfaces {
            self.ifaces
                .remove(dev)
                .ok_or(format!("remove absent interface {dev}"))?;
        }
        for i in &d.rebuild {
            self.ifaces.insert(i.name.clone(), iface_model(i));
        }
        let classes = |m: &mut Model, dev: &str| -> Result<*mut BTreeMap<ClassId, Class>, String> {
            m.ifaces
                .get_mut(dev)
                .map(|(_, c)| c as *mut _)
                .ok_or(format!("no interface {dev}"))
        };
        for (dev, id) in &d.remove_classes {
            // SAFETY (test): the pointer is used before any other borrow of the model.
            let c = unsafe { &mut *classes(self, dev)? };
            if c.values().any(|x| x.parent == Some(*id)) {
                return Err(format!("delete {id} on {dev} while it has children"));
            }
            c.remove(id).ok_or(format!("delete absent {id} on {dev}"))?;
        }
        for (dev, new) in &d.change_classes {
            let c = unsafe { &mut *classes(self, dev)? };
            let x = c
                .get_mut(&new.id)
                .ok_or(format!("change absent {} on {dev}", new.id))?;
            if x.parent != new.parent {
                return Err(format!("change would re-parent {}", new.id));
            }
            x.sized = (
                new.rate_bps,
                new.ceil_bps,
                new.burst,
                new.cburst,
                new.quantum,
            );
        }
        for (dev, new) in &d.add_classes {
            let c = unsafe { &mut *classes(self, dev)? };
            if c.contains_key(&new.id) {
                return Err(format!("add existing {} on {dev}", new.id));
            }
            if let Some(p) = new.parent {
                if !c.contains_key(&p) {
                    return Err(format!("add {} under absent {p} on {dev}", new.id));
                }
            }
            c.insert(
                new.id,
                Class {
                    parent: new.parent,
                    sized: (
                        new.rate_bps,
                        new.ceil_bps,
                        new.burst,
                        new.cburst,
                        new.quantum,
                    ),
                    leaf: new.leaf.clone(),
                },
            );
        }
        for (dev, id, leaf) in &d.change_leaves {
            let c = unsafe { &mut *classes(self, dev)? };
            c.get_mut(id).ok_or(format!("leaf of absent {id}"))?.leaf = leaf.clone();
        }
        for prefix in &d.remove_mappings {
            self.ip_map
                .remove(prefix)
                .ok_or(format!("unmap absent {prefix}"))?;
        }
        for m in &d.upsert_mappings {
            self.ip_map.insert(m.prefix, m.clone());
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_diff_turns_the_old_plan_into_the_new_one(seed in any::<u64>(), circuits in 5usize..150, queues in 1u16..4, requeue in proptest::bool::weighted(0.1), edits in proptest::collection::vec(edit(), 1..6)) {
        let (old, new) = plan_pair(seed, circuits, queues, requeue, &edits);
        let d = diff(&old.plan, &new.plan);
        let mut model = Model::of(&old.plan);
        model.apply(&d).map_err(|e| TestCaseError::fail(format!("{e}\n{edits:?}")))?;
        prop_assert_eq!(model, Model::of(&new.plan));
        if !requeue {
            prop_assert!(d.rebuild.is_empty(), "same queues: no interface rebuilt");
        }
    }
}

#[test]
fn no_change_is_an_empty_diff_and_one_rerate_is_two_changes() {
    let config = config();
    let opts = AssignOptions::default();
    let inputs = generated(300, 5);
    let old = plan(&inputs, &config, 2, None, opts).unwrap();
    let same = plan(&inputs, &config, 2, Some(&old.state), opts).unwrap();
    assert!(diff(&old.plan, &same.plan).is_empty());

    let mut edited = inputs.clone();
    edited.circuits[17].download_max *= 2.0;
    edited.circuits[17].upload_max *= 2.0;
    let new = plan(&edited, &config, 2, Some(&old.state), opts).unwrap();
    let d = diff(&old.plan, &new.plan);
    assert_eq!(d.change_classes.len(), 2, "{d:#?}");
    assert_eq!(d.class_operations(), 2);
    assert!(d.upsert_mappings.is_empty() && d.remove_mappings.is_empty());
    let text = lqos_plan::render_diff(&d);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("class change dev "))
            .count(),
        2,
        "{text}"
    );
}
