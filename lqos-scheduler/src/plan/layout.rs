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
    // The kernel refuses an mq root on a single-queue device (EOPNOTSUPP).
    if let Some((name, _)) = tx.iter().find(|(_, t)| *t < 2) {
        return Err(PlanError::NotMultiQueue {
            interface: name.to_string(),
        });
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
        // On a stick each direction has its own CPUs too: upload runs on CPU queues..2*queues.
        (None, Some(avail)) => QueueLayout {
            queues: avail.min((cpus / per_direction_divisor).max(1)),
            how: format!(
                "min(tx queues {avail}, CPUs {cpus}{})",
                if per_direction_divisor == 2 {
                    " / 2"
                } else {
                    ""
                }
            ),
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
    use std::collections::HashMap;
    use std::path::Path;

    struct Fake {
        tx: HashMap<&'static str, u16>,
        cpus: u16,
    }

    impl Machine for Fake {
        fn tx_queues(&self, interface: &str) -> Option<u16> {
            self.tx.get(interface).copied()
        }
        fn cpus(&self) -> u16 {
            self.cpus
        }
    }

    fn config(text: &str) -> Config {
        Config::parse(text, "lqos.conf", Path::new("/")).0.unwrap()
    }

    const BRIDGE: &str = "[bridge]\nto_internet = \"a\"\nto_network = \"b\"\n";
    const STICK: &str =
        "[single_interface]\ninterface = \"s\"\ninternet_vlan = 2\nnetwork_vlan = 3\n";

    fn machine(tx: &[(&'static str, u16)], cpus: u16) -> Fake {
        Fake {
            tx: tx.iter().copied().collect(),
            cpus,
        }
    }

    #[test]
    fn smaller_of_tx_queues_and_cpus() {
        let c = config(BRIDGE);
        assert_eq!(
            queue_layout(&c, &machine(&[("a", 8), ("b", 4)], 16), false)
                .unwrap()
                .queues,
            4
        );
        assert_eq!(
            queue_layout(&c, &machine(&[("a", 8), ("b", 8)], 2), false)
                .unwrap()
                .queues,
            2
        );
    }

    #[test]
    fn a_stick_splits_its_cpus_between_directions_too() {
        // Upload runs on CPUs queues..2*queues: 4 CPUs carry 2 queues per direction.
        let c = config(STICK);
        assert_eq!(
            queue_layout(&c, &machine(&[("s", 8)], 4), false)
                .unwrap()
                .queues,
            2
        );
        assert_eq!(
            queue_layout(&c, &machine(&[("s", 8)], 1), false)
                .unwrap()
                .queues,
            1
        );
    }

    #[test]
    fn a_stick_splits_its_queues_between_directions() {
        let c = config(STICK);
        assert_eq!(
            queue_layout(&c, &machine(&[("s", 8)], 16), false)
                .unwrap()
                .queues,
            4
        );
        assert_eq!(
            queue_layout(&c, &machine(&[("s", 3)], 16), false)
                .unwrap()
                .queues,
            1
        );
    }

    #[test]
    fn override_wins_unless_an_interface_has_fewer_queues() {
        let c = config(&format!(
            "{BRIDGE}[queues]\noverride_available_queues = 3\n"
        ));
        assert_eq!(
            queue_layout(&c, &machine(&[("a", 4), ("b", 4)], 2), false)
                .unwrap()
                .queues,
            3
        );
        assert_eq!(
            queue_layout(&c, &machine(&[("a", 4), ("b", 2)], 2), false),
            Err(PlanError::TooFewTxQueues {
                interface: "b".into(),
                have: 2,
                need: 3
            })
        );
    }

    #[test]
    fn missing_interfaces_are_errors_except_in_a_dry_run() {
        let c = config(BRIDGE);
        assert_eq!(
            queue_layout(&c, &machine(&[("b", 4)], 2), false),
            Err(PlanError::InterfaceMissing {
                interface: "a".into()
            })
        );
        let dry = queue_layout(&c, &machine(&[], 6), true).unwrap();
        assert_eq!(dry.queues, 6);
        assert!(dry.how.contains("dry run"));
    }

    #[test]
    fn single_queue_interfaces_are_refused_with_a_reason() {
        let e =
            queue_layout(&config(BRIDGE), &machine(&[("a", 1), ("b", 4)], 2), true).unwrap_err();
        assert_eq!(
            e,
            PlanError::NotMultiQueue {
                interface: "a".into()
            }
        );
        assert!(e.to_string().contains("multi-queue"));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list("0-3,6"), Some(5));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("x"), None);
    }
}
