//! What lqosd refuses in a plan before touching the kernel: interfaces it does not shape,
//! queues an interface does not have, text that would not stay within its `tc -batch` line,
//! and any queue or mapping steered to a CPU that would leave packets unshaped (no such CPU,
//! no cpumap entry, a classid of another queue's HTB).
//!
//! A free function over the parts it reads, so that it can run beside a patch of the live plan.

use crate::dataplane::Shaped;
use lqos_plan::{steering_problems, QueuePlan, Steering};

/// Every problem found in `plan` on this machine (`cpumap_entries`: the cpumap's size).
pub fn problems(shaped: &Shaped, cpumap_entries: u32, plan: &QueuePlan) -> Vec<String> {
    let links = shaped.interfaces();
    let mut problems = crate::apply::unsafe_text(plan);
    for iface in &plan.interfaces {
        let Some(link) = links.iter().find(|l| l.name == iface.name) else {
            let shaped: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
            problems.push(format!("the plan shapes {} but lqosd shapes {} (lqos.conf of the scheduler and of lqosd differ?)", iface.name, shaped.join(", ")));
            continue;
        };
        for q in &iface.htbs {
            if u64::from(q.mq_minor) > link.tx_queues {
                problems.push(format!(
                    "{}: the plan uses tx queue {} but the interface has {}",
                    iface.name, q.mq_minor, link.tx_queues
                ));
            }
        }
    }
    let machine = Steering {
        // Read at every plan: CPUs can go offline while lqosd runs.
        online_cpus: lqos_plan::online_cpus().unwrap_or_else(|| (0..cpumap_entries).collect()),
        cpumap_entries,
        on_a_stick: shaped.vlans.is_some(),
    };
    problems.extend(steering_problems(plan, &machine));
    problems
}
