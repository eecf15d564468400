//! How many CPU queues each direction gets, from the interfaces and CPUs of this machine.

use super::PlanError;
use lqos_config::{Config, Interfaces};

/// What the planner needs to know about the machine; the real one reads sysfs.
pub trait Machine {
    /// Tx queues of an interface, `None` when it does not exist.
    fn tx_queues(&self, interface: &str) -> Option<u16>;
    fn cpus(&self) -> u16;
}

/// Reads `/sys/class/net/<if>/queues` and the online CPUs.
pub struct ThisMachine;

impl Machine for ThisMachine {
    fn tx_queues(&self, interface: &str) -> Option<u16> {
        let dir = std::fs::read_dir(format!("/sys/class/net/{interface}/queues")).ok()?;
        let n = dir
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("tx-"))
            .count();
        Some(n.min(u16::MAX as usize) as u16)
    }
    /// Online CPUs from `/sys/devices/system/cpu/online` ("0-3,6"): the CPU numbers steering
    /// uses. Falls back to the scheduler's parallelism (which reads cgroup files: slower).
    fn cpus(&self) -> u16 {
        std::fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|s| count_cpu_list(s.trim()))
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(u16::MAX as usize) as u16
    }
}

/// Counts a kernel CPU list such as `0-3,6`.
fn count_cpu_list(list: &str) -> Option<usize> {
    list.split(',').try_fold(0usize, |n, part| {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
        Some(n + b.checked_sub(a)? + 1)
    })
}

/// A machine whose interfaces are not looked at: `validate` checks the inputs only.
pub struct InputsOnly;

impl Machine for InputsOnly {
    fn tx_queues(&self, _interface: &str) -> Option<u16> {
        None
    }
    fn cpus(&self) -> u16 {
        ThisMachine.cpus()
    }
}

/// Queues per direction and a note on how they were chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueLayout {
    pub queues: u16,
    pub how: String,
}

/// `override_available_queues`, else the smaller of the interfaces' tx queues and the CPUs; on a
/// stick the interface's queues are split between the directions. With `dry_run`, missing
/// interfaces are allowed: the override or the CPU count is used.
pub fn queue_layout(
    config: &Config,
    machine: &dyn Machine,
    dry_run: bool,
) -> Result<QueueLayout, PlanError> {
    let cpus = machine.cpus().max(1);
    let (ifaces, per_direction_divisor): (Vec<&str>, u16) = match &config.interfaces {
        Interfaces::Bridge {
            to_internet,
            to_network,
        } => (vec![to_internet, to_network], 1),
        Interfaces::OnAStick { interface, .. } => (vec![interface], 2),
    };
    let mut tx = Vec::new();
    for i in &ifaces {
        match machine.tx_queues(i) {
            Some(t) => tx.push((*i, t)),
            None if dry_run => {}
            None => {
                return Err(PlanError::InterfaceMissing {
                    interface: i.to_string(),
                })
            }
        }
    }
    let available = tx.iter().map(|(_, t)| *t / per_direction_divisor).min();
    if let Some((name, have)) = tx.iter().find(|(_, t)| *t / per_direction_divisor == 0) {
        return Err(PlanError::TooFewTxQueues {
            interface: name.to_string(),
            have: *have,
            need: per_direction_divisor,
        });
    }
    let layout = match (config.queues.override_available_queues, available) {
        (Some(n), Some(avail)) if n > avail => {
            let (name, have) = tx
                .iter()
                .min_by_key(|(_, t)| *t)
                .copied()
                .unwrap_or(("?", 0));
            return Err(PlanError::TooFewTxQueues {
                interface: name.to_string(),
                have,
                need: n * per_direction_divisor,
            });
        }
        (Some(n), _) => QueueLayout {
            queues: n,
            how: "override_available_queues".into(),
        },
        (None, Some(avail)) => QueueLayout {
            queues: avail.min(cpus),
            how: format!("min(tx queues {avail}, CPUs {cpus})"),
        },
        (None, None) => QueueLayout {
            queues: (cpus / per_direction_divisor).max(1),
            how: format!("{cpus} CPUs (interfaces absent: dry run)"),
        },
    };
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list("0-3,6"), Some(5));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("x"), None);
    }
}
