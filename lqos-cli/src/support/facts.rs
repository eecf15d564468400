//! The facts of a support bundle, each as the text of the commands an engineer would run.
//! A command that is missing or fails leaves its error in the text instead.

use lqos_config::{Config, Interfaces};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Most bytes of one command's output kept (a journal can be large).
const MAX_OUTPUT: usize = 8 << 20;

/// `$ program args`, then what it printed, then its exit status if it failed.
fn run(program: &str, args: &[&str]) -> String {
    let mut text = format!("$ {program} {}\n", args.join(" "));
    match Command::new(program).args(args).output() {
        Ok(out) => {
            let mut printed = String::from_utf8_lossy(&out.stdout).into_owned();
            printed += &String::from_utf8_lossy(&out.stderr);
            if printed.len() > MAX_OUTPUT {
                let mut cut = MAX_OUTPUT;
                while !printed.is_char_boundary(cut) {
                    cut -= 1;
                }
                printed.truncate(cut);
                printed += "\n(cut: output too long)\n";
            }
            text += &printed;
            if !out.status.success() {
                let _ = writeln!(text, "({program} exited with {})", out.status);
            }
        }
        Err(e) => {
            let _ = writeln!(text, "(cannot run {program}: {e})");
        }
    }
    text + "\n"
}

fn file(path: &str) -> String {
    match std::fs::read_to_string(path) {
        Ok(t) => format!("== {path}\n{t}\n"),
        Err(e) => format!("== {path}\n(cannot read: {e})\n\n"),
    }
}

/// An lqos binary installed beside this one, else the one on PATH.
fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn run_sibling(name: &str, args: &[&str]) -> String {
    run(&sibling(name).to_string_lossy(), args)
}

pub fn now_utc() -> String {
    run("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .lines()
        .nth(1)
        .unwrap_or("")
        .to_owned()
}

pub fn versions() -> String {
    let mut t = format!("lqos (this CLI) {}\n\n", env!("CARGO_PKG_VERSION"));
    t += &run_sibling("lqosd", &["--version"]);
    t += &run_sibling("lqos-scheduler", &["--version"]);
    t += &file("/etc/os-release");
    for (p, a) in [
        ("ip", "-V"),
        ("tc", "-V"),
        ("bpftool", "version"),
        ("ethtool", "--version"),
    ] {
        t += &run(p, &[a]);
    }
    t
}

pub fn kernel() -> String {
    let mut t = run("uname", &["-a"]);
    for f in [
        "/proc/cmdline",
        "/sys/devices/system/cpu/online",
        "/sys/devices/system/cpu/possible",
    ] {
        t += &file(f);
    }
    let _ = writeln!(
        t,
        "BTF (/sys/kernel/btf/vmlinux): {}\n",
        if Path::new("/sys/kernel/btf/vmlinux").exists() {
            "present"
        } else {
            "missing"
        }
    );
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    t += "== bpffs mounts\n";
    for l in mounts.lines().filter(|l| l.contains(" bpf ")) {
        t += l;
        t += "\n";
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    t += "\n== /proc/meminfo (first lines)\n";
    for l in meminfo.lines().take(5) {
        t += l;
        t += "\n";
    }
    t
}

/// The shaped interfaces of lqos.conf, each once.
pub fn interface_names(config: &Config) -> Vec<String> {
    match &config.interfaces {
        Interfaces::Bridge {
            to_internet,
            to_network,
        } => vec![to_internet.clone(), to_network.clone()],
        Interfaces::OnAStick { interface, .. } => vec![interface.clone()],
    }
}

/// Driver, queues, offloads and XPS of every shaped interface.
pub fn nics(interfaces: &[String]) -> String {
    let mut t = String::new();
    for dev in interfaces {
        let _ = writeln!(t, "######## {dev}");
        t += &run("ip", &["-d", "-s", "link", "show", "dev", dev]);
        for flag in ["-i", "-l", "-g", "-k"] {
            t += &run("ethtool", &[flag, dev]);
        }
        let queues = format!("/sys/class/net/{dev}/queues");
        let mut tx: Vec<String> = std::fs::read_dir(&queues)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("tx-"))
                    .collect()
            })
            .unwrap_or_default();
        tx.sort_by_key(|n| n[3..].parse::<u32>().unwrap_or(u32::MAX));
        let _ = writeln!(t, "== XPS ({queues}/tx-*/xps_cpus)");
        for q in tx {
            let mask = std::fs::read_to_string(format!("{queues}/{q}/xps_cpus"))
                .map_or_else(|e| format!("({e})"), |m| m.trim().to_owned());
            let _ = writeln!(t, "{q}: {mask}");
        }
        t += "\n";
    }
    t
}

pub fn validation(config_path: &Path) -> String {
    run_sibling(
        "lqos-scheduler",
        &["--config", &config_path.to_string_lossy(), "validate"],
    )
}

/// Per interface: qdiscs and classes counted by kind, and the statistics of the mq root and
/// of every HTB root (not the leaves: a large shaper has hundreds of thousands).
pub fn tc_summary(interfaces: &[String]) -> String {
    let mut t = String::new();
    for dev in interfaces {
        let _ = writeln!(t, "######## {dev}");
        for (what, label) in [("qdisc", "qdiscs"), ("class", "classes")] {
            let out = run("tc", &[what, "show", "dev", dev]);
            let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
            for l in out.lines().skip(1).filter(|l| l.starts_with(what)) {
                *kinds
                    .entry(l.split_whitespace().nth(1).unwrap_or("?"))
                    .or_default() += 1;
            }
            let _ = writeln!(t, "{label} by kind: {kinds:?}");
        }
        let stats = run("tc", &["-s", "qdisc", "show", "dev", dev]);
        let mut keep = false;
        for l in stats.lines() {
            if l.starts_with("qdisc ") {
                keep = l.starts_with("qdisc mq ") || l.starts_with("qdisc htb ");
            }
            if keep || l.starts_with('$') || l.starts_with('(') {
                t += l;
                t += "\n";
            }
        }
        t += "\n";
    }
    t
}

/// lqos's programs, maps and links, and the pin directory.
pub fn bpf_summary(config: &Config) -> String {
    let mut t = String::new();
    for what in ["prog", "map", "link"] {
        let out = run("bpftool", &[what, "show"]);
        let mut lines = out.lines();
        if let Some(head) = lines.next() {
            t += head;
            t += "\n";
        }
        // bpftool prints an object's first line unindented, its details indented below.
        let mut keep = false;
        for l in lines {
            if !l.starts_with(char::is_whitespace) {
                keep = l.contains("lqos")
                    || l.contains("xdp")
                    || l.contains("tcx")
                    || l.starts_with('(');
            }
            if keep {
                t += l;
                t += "\n";
            }
        }
        t += "\n";
    }
    t += &run("ls", &["-la", &config.lqosd.bpf_pin_dir.to_string_lossy()]);
    t
}

/// The last hour of both services' journals.
pub fn service_logs() -> String {
    run(
        "journalctl",
        &[
            "-u",
            "lqosd",
            "-u",
            "lqos_scheduler",
            "--since",
            "-1h",
            "--no-pager",
            "-o",
            "short-iso",
        ],
    )
}
