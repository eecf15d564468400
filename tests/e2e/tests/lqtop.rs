//! lqtop against the real lqosd on the demo topology (etc/: 36 circuits), in a real terminal
//! (tmux): a download flow through circuit 1001 and an upload flow through circuit 1013; lqtop
//! shows 1001 first, `u` sorts by upload and shows 1013 first, Enter opens its detail, `p`
//! masks ids and addresses, `q` quits and leaves the terminal as it was (no alternate screen,
//! canonical mode and echo back on).

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::testbed::Testbed;
use lqos_e2e::{bin_path, etc_path, require_root};
use std::process::{Command, Output};
use std::time::Duration;

const WIDTH: usize = 160;

/// A tmux server of its own (`tmux -L`), killed on drop with everything in it.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Result<Output> {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env("LANG", "C.UTF-8")
            .output()
            .context("cannot run tmux (scripts/setup.sh installs it)")
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.cmd(args)?;
        ensure!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn screen(&self) -> Result<String> {
        self.run(&["capture-pane", "-p", "-t", "lqtop"])
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// The first word of the circuits table's first row (the left half of the screen).
fn first_circuit(screen: &str) -> Option<String> {
    let mut lines = screen.lines();
    lines.find(|l| l.contains("Circuit") && l.contains("RTT"))?;
    let row: String = lines.next()?.chars().take(WIDTH / 2).collect();
    row.trim_start_matches(['│', ' '])
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

fn wait_for_screen(tmux: &Tmux, what: &str, ok: impl Fn(&str) -> bool) -> Result<()> {
    let mut last = String::new();
    let found = wait_until(Duration::from_secs(5), || {
        last = tmux.screen()?;
        Ok(ok(&last))
    })?;
    ensure!(found, "lqtop never showed {what}:\n{last}");
    Ok(())
}

fn wait_for_first(tmux: &Tmux, circuit: &str) -> Result<String> {
    let mut last = String::new();
    let found = wait_until(Duration::from_secs(15), || {
        last = tmux.screen()?;
        Ok(first_circuit(&last).as_deref() == Some(circuit))
    })?;
    ensure!(
        found,
        "{circuit} never came first in lqtop's circuits:\n{last}"
    );
    Ok(last)
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: &str) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("stat")?
        .1
        .split_whitespace()
        .collect();
    Ok(fields[11].parse::<u64>()? + fields[12].parse::<u64>()?)
}

/// lqtop's pid: the only child of the pane's shell (`ip netns exec` execs it).
fn lqtop_pid(tmux: &Tmux) -> Result<String> {
    let shell = tmux.run(&["display-message", "-p", "-t", "lqtop", "#{pane_pid}"])?;
    let shell = shell.trim();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))?;
    children
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .context("the pane's shell has no child")
}

#[test]
fn lqtop_shows_the_busiest_circuit_sorts_by_upload_and_restores_the_terminal() -> Result<()> {
    require_root();
    let _one = serial();
    // The demo's inputs, with the leaf this kernel has (as scripts/demo.sh does): circuit 1001
    // is 100.64.1.10, circuit 1013 is 100.64.4.10, both 100/20 Mbit/s.
    let csv: String = std::fs::read_to_string(etc_path("ShapedDevices.csv"))?
        .lines()
        .map(|l| match l.rsplit_once(',') {
            Some((row, sqm)) if sqm.contains("cake") || sqm.contains("fq_codel") => {
                format!("{row},\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let mut tb = Testbed::new("lqtop")?;
    for a in ["100.64.1.10/16", "100.64.4.10/16"] {
        tb.add_subscriber_addr(a)?;
    }
    tb.write_inputs(
        &std::fs::read_to_string(etc_path("network.json"))?,
        &csv,
        "",
    )?;
    tb.start_lqosd()?;
    let out = tb.refresh()?;
    ensure!(out.contains("applied generation"), "{out}");
    let down = tb.start_flow("100.64.1.10", false, 12)?;
    let up = tb.start_flow("100.64.4.10", true, 12)?;

    let tmux = Tmux {
        socket: format!("lqos-e2e-lqtop-{}", std::process::id()),
    };
    // After lqtop: its exit status and the terminal's modes, then stay for capture-pane.
    let script = format!(
        "ip netns exec {ns} {bin} --config {conf}; echo \"lqtop exit=$?\"; \
         stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo; sleep 60",
        ns = tb.shaper.name(),
        bin = bin_path("lqtop").display(),
        conf = tb.config().display(),
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "lqtop",
        "-x",
        &WIDTH.to_string(),
        "-y",
        "45",
        &script,
    ])?;

    let screen = wait_for_first(&tmux, "1001")?;
    ensure!(
        screen.contains("CPU queues cpu"),
        "the per-CPU queue load is on screen:\n{screen}"
    );
    ensure!(
        screen.contains(", 36 circuits, "),
        "the live plan is on screen:\n{screen}"
    );
    // Flat CPU: one poll and one redraw a second, blocked on key events in between.
    let pid = lqtop_pid(&tmux)?;
    let before = cpu_ticks(&pid)?;
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(&pid)? - before;
    // SAFETY: sysconf only reads a constant.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let share = used as f64 / ticks_per_sec / 3.0;
    eprintln!("lqtop CPU over 3 s: {:.1}% of a core", share * 100.0);
    ensure!(share < 0.1, "lqtop used {:.0}% of a core", share * 100.0);
    tmux.run(&["send-keys", "-t", "lqtop", "u"])?;
    let screen = wait_for_first(&tmux, "1013")?;
    ensure!(screen.contains("Up ▼"), "the sort is marked:\n{screen}");
    // Enter: the selected (first) circuit's detail; p: privacy mode hides ids and addresses.
    tmux.run(&["send-keys", "-t", "lqtop", "Enter"])?;
    wait_for_screen(&tmux, "the detail of 1013", |s| {
        s.contains("circuit 1013") && s.contains("RTT and retransmits: not measured yet")
    })?;
    tmux.run(&["send-keys", "-t", "lqtop", "p"])?;
    wait_for_screen(&tmux, "privacy mode", |s| {
        s.contains("PRIVACY")
            && s.contains("host-")
            && !s.contains("circuit 1013")
            && !s.contains("100.64.")
            && s.contains("circuit circuit-")
    })?;
    tmux.run(&["send-keys", "-t", "lqtop", "Escape"])?;

    tmux.run(&["send-keys", "-t", "lqtop", "q"])?;
    let mut last = String::new();
    let exited = wait_until(Duration::from_secs(5), || {
        last = tmux.screen()?;
        Ok(last.contains("lqtop exit=0") && last.contains("icanon echo"))
    })?;
    ensure!(exited, "lqtop did not quit cleanly on q:\n{last}");
    ensure!(
        !last.contains("RTT") && !last.contains("-icanon") && !last.contains("-echo"),
        "the terminal is restored (normal screen, cooked mode, echo):\n{last}"
    );
    let alternate = tmux.run(&["display-message", "-p", "-t", "lqtop", "#{alternate_on}"])?;
    ensure!(
        alternate.trim() == "0",
        "alternate screen still on: {alternate}"
    );
    down.finish()?;
    up.finish()?;
    Ok(())
}
