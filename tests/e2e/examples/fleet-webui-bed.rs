//! A fleet for the WebUI's browser test (webui/tests/fleet.test.mjs; docs/fleet.md): a real
//! 3-member etcd in a management namespace, and two shaper boxes, each with its own lqosd and
//! `lqos-scheduler run` in fleet mode (lease TTL 2 s): box a leads (share SiteA), box b
//! follows (`campaign = false`; its share is a rule, `share_rule` matching SiteB's type). Box b's WebUI is forwarded to a loopback port of
//! this host, with a read-only user made for the test.
//!
//! Talks JSON lines: once the fleet has published and both boxes applied, it prints
//! `{"event":"ready","url",...}` with the facts the page must show (read from the boxes'
//! journals and lqosd's fence, not from the status file the page reads). Then, one command a
//! line on stdin:
//! - `lag`: box a's lqosd is killed and the inputs change: the next publication reaches b only
//!   (a falls one generation behind); prints `{"event":"lag",...}`;
//! - `quorum-loss`: 2 of the 3 etcd members are killed; prints `{"event":"quorum-loss"}`;
//! - `quit`, the end of stdin, SIGTERM, SIGINT or SIGHUP: everything is removed (etcd, lqosd,
//!   the schedulers, the namespaces, the bpffs) and the bed exits.
//!
//! Needs root. Run as `fleet-webui-bed` with `LQOS_BIN_DIR` pointing at the built binaries.

use anyhow::{bail, ensure, Context, Result};
use lqos_e2e::fleet::{field, journal, Management};
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER};
use lqos_e2e::{in_namespace, require_root};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NET: &str = r#"{"SiteA": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
    "SiteB": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000, "type": "POP"}}"#;
/// Box b's share, by a rule over network.json's node attributes (SiteB is the only POP).
const B_SHARE: &str = "@type=POP*";
const USER: &str = "fleet-viewer";
const PASSWORD: &str = "fleet viewer pw";

/// Set by SIGTERM, SIGINT or SIGHUP: every wait gives up and the bed is removed.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn catch_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

struct Bed {
    boxes: Vec<Testbed>,
    mgmt: Management,
}

fn csv(a_mbps: f64) -> String {
    format!(
        "{CSV_HEADER}{}{}",
        device_row("A1", "SiteA", "100.64.1.10", "", a_mbps, 5.0),
        device_row("B1", "SiteB", "100.64.2.10", "", 30.0, 5.0)
    )
}

/// The fence lqosd applied last on a box (its `fence.json`).
fn applied(tb: &Testbed) -> Option<(u64, u64)> {
    let bytes = std::fs::read(tb.dir.join("state/lqosd/fence.json")).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((field(&v, "token"), field(&v, "generation")))
}

/// Box a's newest successful publication.
fn published(tb: &Testbed) -> Option<(u64, u64)> {
    journal(tb, "state/fleet/publications.jsonl")
        .iter()
        .filter(|p| p["succeeded"] == true)
        .map(|p| (field(p, "token"), field(p, "generation")))
        .max()
}

/// Polls `ready` every 200 ms; fails after `timeout`, or at once when a signal came.
fn wait_for(timeout: Duration, what: &str, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !ready() {
        if STOP.load(Ordering::SeqCst) {
            bail!("stopped by a signal while waiting for {what}");
        }
        ensure!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn start() -> Result<Bed> {
    let mgmt = Management::start()?;
    let mut boxes = Vec::new();
    for (i, (name, role)) in [
        ("a", "share = [\"SiteA\"]"),
        (
            "b",
            "share_rule = { attribute = \"type\", matches = [\"POP*\"] }\ncampaign = false",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let tb = Testbed::new(&format!("fleetui-{name}"))?;
        mgmt.attach(i, &tb)?;
        tb.write_inputs(NET, &csv(20.0), &mgmt.fleet_conf("webui", name, role))?;
        boxes.push(tb);
    }
    let mut bed = Bed { boxes, mgmt };
    for tb in &mut bed.boxes {
        tb.start_lqosd()?;
        tb.start_scheduler_service()?;
    }
    Ok(bed)
}

/// `lqosd user add` (read-only) on box b.
fn add_user(tb: &Testbed) -> Result<()> {
    let config = tb.config();
    let mut cmd = std::process::Command::new(lqos_e2e::bin_path("lqosd"));
    cmd.arg("--config")
        .arg(&config)
        .args(["user", "add", USER, "--role", "read-only"]);
    lqos_e2e::run_checked(&mut cmd, Some(format!("{PASSWORD}\n").as_bytes()))?;
    Ok(())
}

/// Forwards connections to `127.0.0.1:<port>` of this host to `to` inside namespace `ns`;
/// returns the port.
fn forward(ns: &str, to: SocketAddr) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the forwarder")?;
    let port = listener.local_addr()?.port();
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let ns = ns.clone();
            std::thread::spawn(move || {
                // The socket belongs to the namespace it was made in, whichever thread uses it.
                let server = in_namespace(&ns, move || Ok(TcpStream::connect(to)?));
                if let Ok(server) = server {
                    pipe(client, server);
                }
            });
        }
    });
    Ok(port)
}

fn pipe(client: TcpStream, server: TcpStream) {
    let (Ok(mut c2), Ok(mut s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let mut c = client;
        let _ = std::io::copy(&mut c, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let mut s = server;
    let _ = std::io::copy(&mut s, &mut c2);
    let _ = c2.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

fn say(v: Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()?;
    Ok(())
}

/// Waits until box a published and both lqosd applied that publication; returns it.
fn settled(bed: &Bed, after: (u64, u64)) -> Result<(u64, u64)> {
    let (a, b) = (&bed.boxes[0], &bed.boxes[1]);
    let mut fence = (0, 0);
    wait_for(
        Duration::from_secs(60),
        "a publication applied on both boxes",
        || {
            fence = published(a).unwrap_or_default();
            fence > after && applied(a) == Some(fence) && applied(b) == Some(fence)
        },
    )
    .with_context(|| {
        format!(
            "--- box a ---\n{}--- box b ---\n{}",
            a.scheduler_log(),
            b.scheduler_log()
        )
    })?;
    Ok(fence)
}

fn run(bed: &mut Bed, commands: &mpsc::Receiver<String>) -> Result<()> {
    add_user(&bed.boxes[1])?;
    let port = forward(bed.boxes[1].shaper.name(), "127.0.0.1:9123".parse()?)?;
    let (token, generation) = settled(bed, (0, 0))?;
    // Box b's status file has seen the fleet (both boxes) once: the page has something to show.
    let status = bed.boxes[1].dir.join("state");
    wait_for(Duration::from_secs(20), "box b's fleet status", || {
        lqos_config::fleet_status::FleetStatus::read(&status).is_some_and(|s| {
            s.etcd == "ok"
                && s.boxes.len() == 2
                && s.boxes
                    .iter()
                    .all(|b| b.applied_generation == Some(generation))
        })
    })?;
    // Each box planned its own share only (b's by the rule).
    for (tb, mine, other) in [(&bed.boxes[0], "A1", "B1"), (&bed.boxes[1], "B1", "A1")] {
        let ids: Value =
            serde_json::from_slice(&std::fs::read(tb.dir.join("state/classids.json"))?)?;
        ensure!(
            !ids["circuits"][mine].is_null() && ids["circuits"][other].is_null(),
            "a box planned another's share: {ids}"
        );
    }
    say(json!({
        "event": "ready", "url": format!("http://127.0.0.1:{port}"),
        "username": USER, "password": PASSWORD,
        "box": "b", "share": [B_SHARE], "leader": "a", "other_share": ["SiteA"],
        "token": token, "generation": generation,
        "dirs": bed.boxes.iter().map(|b| b.dir.path().display().to_string()).collect::<Vec<_>>(),
    }))?;
    loop {
        if STOP.load(Ordering::SeqCst) {
            return Ok(());
        }
        let command = match commands.recv_timeout(Duration::from_millis(200)) {
            Ok(c) => c,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        match command.trim() {
            "lag" => {
                let before = applied(&bed.boxes[0]).context("box a applied nothing")?;
                bed.boxes[0].kill_lqosd()?;
                for tb in &bed.boxes {
                    tb.dir.write("ShapedDevices.csv", csv(25.0))?;
                }
                let (a, b) = (&bed.boxes[0], &bed.boxes[1]);
                let mut fence = (0, 0);
                wait_for(
                    Duration::from_secs(30),
                    "the next publication applied on box b",
                    || {
                        fence = published(a).unwrap_or_default();
                        fence > before && applied(b) == Some(fence)
                    },
                )?;
                ensure!(
                    applied(a) == Some(before),
                    "box a applied without its lqosd"
                );
                say(
                    json!({"event": "lag", "token": fence.0, "generation": fence.1,
                           "a_token": before.0, "a_generation": before.1}),
                )?;
            }
            "quorum-loss" => {
                bed.mgmt.etcd.kill(0);
                bed.mgmt.etcd.kill(1);
                say(json!({"event": "quorum-loss"}))?;
            }
            "quit" => return Ok(()),
            other => {
                say(json!({"event": "error", "message": format!("unknown command {other:?}")}))?
            }
        }
    }
}

fn main() -> Result<()> {
    require_root();
    catch_signals();
    let (tx, commands) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
        // The end of stdin (the test is gone): the channel closes and the bed is removed.
    });
    let mut bed = start()?;
    let result = run(&mut bed, &commands);
    if let Err(e) = &result {
        // Still on stdout, so the test shows why.
        let _ = say(json!({"event": "error", "message": format!("{e:#}")}));
    }
    drop(bed);
    result
}
