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
        lqos_plan::online_cpus()
            .map(|c| c.len())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(u16::MAX as usize) as u16
    }
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
    /// Why the configured count could not be used (`override_available_queues` above the
    /// CPUs): a warning for the operator.
    pub warning: Option<String>,
}

/// `override_available_queues` (never more than the CPUs), else the smaller of the interfaces'
/// tx queues and the CPUs; on a stick the interface's queues and the CPUs are split between the
/// directions. With `dry_run`, missing
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
    // A queue needs a CPU of its own: XDP steers a circuit's packets to the CPU of its queue,
    // and a queue whose CPU does not exist would pass its circuits unshaped.
    let cpu_limit = (cpus / per_direction_divisor).max(1);
    let per_direction = if per_direction_divisor == 2 {
        " / 2 (on a stick each direction has its own CPUs)"
    } else {
        ""
    };
    let layout = match (config.queues.override_available_queues, available) {
        (Some(n), avail) => {
            let queues = n.min(cpu_limit);
            if let Some(avail) = avail.filter(|a| queues > *a) {
                let (name, have) = tx
                    .iter()
                    .min_by_key(|(_, t)| *t)
                    .copied()
                    .unwrap_or(("?", avail));
                return Err(PlanError::TooFewTxQueues {
                    interface: name.to_string(),
                    have,
                    need: queues * per_direction_divisor,
                });
            }
            if queues < n {
                QueueLayout {
                    queues,
                    how: format!("override_available_queues {n} clamped to the CPUs"),
                    warning: Some(format!(
                        "asks for {n} queues per direction but this machine has {cpus} CPUs{per_direction}: \
                         using {queues} (a queue without a CPU of its own would leave its circuits unshaped)"
                    )),
                }
            } else {
                QueueLayout {
                    queues,
                    how: "override_available_queues".into(),
                    warning: None,
                }
            }
        }
        (None, Some(avail)) => QueueLayout {
            queues: avail.min(cpu_limit),
            how: format!(
                "min(tx queues {avail}, CPUs {cpus}{})",
                if per_direction_divisor == 2 {
                    " / 2"
                } else {
                    ""
                }
            ),
            warning: None,
        },
        (None, None) => QueueLayout {
            queues: cpu_limit,
            how: format!("{cpus} CPUs (interfaces absent: dry run)"),
            warning: None,
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
        let l = queue_layout(&c, &machine(&[("a", 4), ("b", 4)], 4), false).unwrap();
        assert_eq!((l.queues, l.warning), (3, None));
        assert_eq!(
            queue_layout(&c, &machine(&[("a", 4), ("b", 2)], 4), false),
            Err(PlanError::TooFewTxQueues {
                interface: "b".into(),
                have: 2,
                need: 3
            })
        );
    }

    #[test]
    fn override_above_the_cpus_is_clamped_with_a_warning() {
        // 2 CPUs and 4-queue veths: queues 3 and 4 would have no CPU (issue 13, bug 1).
        let c = config(&format!(
            "{BRIDGE}[queues]\noverride_available_queues = 4\n"
        ));
        for dry_run in [false, true] {
            let l = queue_layout(&c, &machine(&[("a", 4), ("b", 4)], 2), dry_run).unwrap();
            assert_eq!(l.queues, 2);
            let w = l.warning.expect("a warning");
            assert!(w.contains("2 CPUs") && w.contains("using 2"), "{w}");
        }
        let l = queue_layout(&c, &machine(&[], 2), true).unwrap();
        assert_eq!(l.queues, 2, "a dry run without interfaces clamps too");
        // On a stick the CPUs are halved per direction.
        let stick = config(&format!("{STICK}[queues]\noverride_available_queues = 4\n"));
        let l = queue_layout(&stick, &machine(&[("s", 8)], 4), false).unwrap();
        assert_eq!(l.queues, 2);
        assert!(l.warning.is_some());
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
}
