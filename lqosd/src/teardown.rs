//! `lqosd teardown`: removes everything lqosd put in the kernel, for uninstalling or starting
//! over: the program links (which detaches the programs), the pinned maps, the root qdiscs of
//! the shaped interfaces, and the saved live plan.

use crate::state::StateDir;
use lqos_config::{Config, Interfaces};
use std::process::Command;

/// What was removed, for the operator.
pub fn teardown(config: &Config) -> Vec<String> {
    let mut done = Vec::new();
    let dir = &config.lqosd.bpf_pin_dir;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            match std::fs::remove_file(&path) {
                Ok(()) => done.push(format!("unpinned {}", path.display())),
                Err(err) => done.push(format!("cannot unpin {}: {err}", path.display())),
            }
        }
        if std::fs::remove_dir(dir).is_ok() {
            done.push(format!("removed {}", dir.display()));
        }
    }
    let devs: Vec<&str> = match &config.interfaces {
        Interfaces::Bridge {
            to_internet,
            to_network,
        } => vec![to_internet, to_network],
        Interfaces::OnAStick { interface, .. } => vec![interface],
    };
    for dev in devs {
        let out = Command::new("tc")
            .args(["qdisc", "del", "dev", dev, "root"])
            .output();
        if matches!(&out, Ok(o) if o.status.success()) {
            done.push(format!("removed the root qdisc of {dev}"));
        }
    }
    StateDir::new(&config.state_directory).forget();
    done.push("forgot the saved live plan".to_owned());
    done
}
