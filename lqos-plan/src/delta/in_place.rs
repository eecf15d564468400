//! Patching a plan where it lies: a delta whose every list keeps its start and its end and
//! changes one stretch between them (a circuit re-rated, added or removed) replaces that
//! stretch in the plan's own lists. At 100k circuits this spares copying 500k classes and
//! mappings (and freeing the old ones); what it replaced is kept so that the base plan can be
//! put back when the result is refused.

use super::{InterfaceDelta, ListDelta, PlanDelta, Run};
use crate::{HtbClass, IpMapping, QueuePlan};

/// What [`PlanDelta::patch_in_place`] took out of the base plan, to put it back.
#[derive(Debug)]
#[must_use = "dropping it loses the way back to the base plan"]
pub struct Replaced {
    queues: u16,
    /// (interface, HTB, stretch) of every class list that changed.
    classes: Vec<(usize, usize, Stretch<HtbClass>)>,
    mappings: Option<Stretch<IpMapping>>,
}

/// `removed` was at `at`, where `inserted` elements are now.
#[derive(Debug)]
struct Stretch<T> {
    at: usize,
    inserted: usize,
    removed: Vec<T>,
}

/// A list delta that replaces one stretch: (start of the stretch, its end in the old list,
/// its replacement); `None`: the list is unchanged.
type Shape<'a, T> = Option<(usize, usize, &'a [T])>;

impl<T: Clone> ListDelta<T> {
    /// Its [`Shape`] for an old list of `old_len`; `None` when the delta does more than
    /// replace one stretch.
    fn one_stretch(&self, old_len: usize) -> Option<Shape<'_, T>> {
        let mut runs = self.runs.as_slice();
        let mut start = 0;
        if let [Run::Copy { from: 0, len }, rest @ ..] = runs {
            (start, runs) = (*len as usize, rest);
        }
        let mut end = old_len;
        if let [rest @ .., Run::Copy { from, len }] = runs {
            if *from as usize + *len as usize == old_len {
                (end, runs) = (*from as usize, rest);
            }
        }
        let inserted: &[T] = match runs {
            [] => &[],
            [Run::New(items)] => items,
            _ => return None,
        };
        if start > end || end > old_len {
            return None;
        }
        let unchanged = start == end && inserted.is_empty();
        Some((!unchanged).then_some((start, end, inserted)))
    }
}

impl<T: Clone> Stretch<T> {
    fn replace(list: &mut Vec<T>, (start, end, inserted): (usize, usize, &[T])) -> Self {
        let removed = list.splice(start..end, inserted.iter().cloned()).collect();
        Stretch {
            at: start,
            inserted: inserted.len(),
            removed,
        }
    }

    fn restore(self, list: &mut Vec<T>) {
        list.splice(self.at..self.at + self.inserted, self.removed);
    }
}

impl PlanDelta {
    /// Makes `plan` (the base, which the caller checked with [`PlanDelta::check_base`]) the
    /// delta's result in place, when every list changes in one stretch at most and every
    /// interface is patched where it was; `None` (and `plan` untouched) otherwise: use
    /// [`PlanDelta::patch_unverified`]. As with that, pass the result through
    /// [`PlanDelta::verify`]; [`Replaced::restore`] puts the base back.
    pub fn patch_in_place(&self, plan: &mut QueuePlan) -> Option<Replaced> {
        if self.interfaces.len() != plan.interfaces.len() {
            return None;
        }
        let mut class_shapes = Vec::new();
        for (i, (delta, iface)) in self.interfaces.iter().zip(&plan.interfaces).enumerate() {
            let InterfaceDelta::Patched { base, classes } = delta else {
                return None;
            };
            if *base as usize != i || classes.len() != iface.htbs.len() {
                return None;
            }
            for (q, (d, htb)) in classes.iter().zip(&iface.htbs).enumerate() {
                if let Some(shape) = d.one_stretch(htb.classes.len())? {
                    class_shapes.push((i, q, shape));
                }
            }
        }
        let mapping_shape = self.mappings.one_stretch(plan.mappings.len())?;
        // Nothing is touched before every list is known to fit.
        let classes = class_shapes
            .into_iter()
            .map(|(i, q, shape)| {
                let list = &mut plan.interfaces[i].htbs[q].classes;
                (i, q, Stretch::replace(list, shape))
            })
            .collect();
        let mappings = mapping_shape.map(|shape| Stretch::replace(&mut plan.mappings, shape));
        Some(Replaced {
            queues: std::mem::replace(&mut plan.queues, self.queues),
            classes,
            mappings,
        })
    }
}

impl Replaced {
    /// Whether the patch changed the queue count or any mapping.
    pub(crate) fn beyond_classes(&self, plan: &QueuePlan) -> bool {
        self.queues != plan.queues || self.mappings.is_some()
    }

    /// Every stretch of classes replaced: (interface, HTB, the stretch's range in the
    /// patched class list, the classes that were there).
    pub(crate) fn class_stretches(
        &self,
    ) -> impl Iterator<Item = (usize, usize, std::ops::Range<usize>, &[HtbClass])> {
        (self.classes.iter())
            .map(|(i, q, s)| (*i, *q, s.at..s.at + s.inserted, s.removed.as_slice()))
    }

    /// Puts back the base plan that [`PlanDelta::patch_in_place`] patched into `plan`.
    pub fn restore(self, plan: &mut QueuePlan) {
        plan.queues = self.queues;
        for (i, q, stretch) in self.classes {
            stretch.restore(&mut plan.interfaces[i].htbs[q].classes);
        }
        if let Some(stretch) = self.mappings {
            stretch.restore(&mut plan.mappings);
        }
    }
}
