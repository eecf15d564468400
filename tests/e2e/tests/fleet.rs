//! The fleet (docs/fleet.md) against a real 3-member etcd: two shaper boxes, each with its
//! own lqosd and scheduler service, sharing a network.json by top-level node. One run goes
//! through every case of issue 16 in order (each starts from the state the previous one
//! left), then a checker reads every box's journals:
//!
//! 1. the leader publishes and each box applies its share (shaping measured with iperf3);
//! 2. the leader's scheduler is killed: the other box leads within 15 s and the next change
//!    is applied everywhere;
//! 3. the (new) leader is paused past its lease and resumed: it publishes nothing, and a
//!    plan with an old fence sent to lqosd is refused;
//! 4. one etcd member dies (publications go on), then quorum is lost: nothing is published,
//!    shaping is unchanged, an urgent issue says so, `refresh --local` works explicitly; it
//!    recovers when quorum returns;
//! 5. a box (lqosd and scheduler) restarts and catches up with the latest generation.
//!
//! Box c is box a's standby (`standby_of`): it applies a's share from every publication.
//! The etcd members run in a management namespace bridged to every box's shaper namespace.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::fleet::{field, journal, Management};
use lqos_e2e::require_root;
use lqos_e2e::testbed::{device_row, Testbed, CSV_HEADER};
use serde_json::Value;
use std::time::{Duration, Instant};

const NET2: &str = r#"{"SiteA": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000},
    "SiteB": {"downloadBandwidthMbps": 1000, "uploadBandwidthMbps": 1000}}"#;
const A_IP: &str = "100.64.1.10";
/// Three boxes with lqosd, the scheduler service and an etcd member each share 2 cores with
/// the measurement: 10% still tells each plan from the others and from unshaped traffic.
const TOLERANCE: f64 = 0.10;
const B_IP: &str = "100.64.2.10";

struct Fleet {
    beds: Vec<Testbed>,
    mgmt: Management,
}

fn csv(a_mbps: f64, b_mbps: f64) -> String {
    format!(
        "{CSV_HEADER}{}{}",
        device_row("A1", "SiteA", A_IP, "", a_mbps, 5.0),
        device_row("B1", "SiteB", B_IP, "", b_mbps, 5.0)
    )
}

/// The newest fence lqosd took (applied, or already live) on a box.
fn took(tb: &Testbed) -> (u64, u64) {
    journal(tb, "state/lqosd/fence-log.jsonl")
        .iter()
        .filter(|l| matches!(l["outcome"].as_str(), Some("applied" | "unchanged")))
        .map(|l| (field(l, "token"), field(l, "generation")))
        .max()
        .unwrap_or_default()
}

/// The newest successful publication of the whole fleet.
fn published(f: &Fleet) -> (u64, u64) {
    f.beds
        .iter()
        .flat_map(|tb| journal(tb, "state/fleet/publications.jsonl"))
        .filter(|p| p["succeeded"] == true)
        .map(|p| (field(&p, "token"), field(&p, "generation")))
        .max()
        .unwrap_or_default()
}

/// The box that won the newest election, and its token.
fn leader(f: &Fleet) -> Option<(usize, u64)> {
    (0..f.beds.len())
        .flat_map(|i| {
            journal(&f.beds[i], "state/fleet/elections.jsonl")
                .into_iter()
                .map(move |e| (field(&e, "token"), i))
        })
        .max()
        .map(|(t, i)| (i, t))
}

impl Fleet {
    fn write_inputs(&self, a_mbps: f64, b_mbps: f64) -> Result<()> {
        for tb in &self.beds {
            tb.dir.write("ShapedDevices.csv", csv(a_mbps, b_mbps))?;
        }
        Ok(())
    }

    /// Waits until a publication newer than `after` exists and every running box took it.
    fn wait_everywhere(&self, after: (u64, u64), timeout: Duration) -> Result<(u64, u64)> {
        let mut fence = (0, 0);
        let done = wait_until(timeout, || {
            fence = published(self);
            Ok(fence > after && self.beds.iter().all(|tb| took(tb) >= fence))
        })?;
        ensure!(
            done,
            "publication {fence:?} (after {after:?}) not applied on every box within {timeout:?}: took {:?}\n{}",
            self.beds.iter().map(took).collect::<Vec<_>>(),
            self.logs()
        );
        Ok(fence)
    }

    fn logs(&self) -> String {
        self.beds
            .iter()
            .enumerate()
            .map(|(i, tb)| format!("--- box {i} scheduler ---\n{}", tb.scheduler_log()))
            .collect()
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child of this test.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

fn start() -> Result<Fleet> {
    let mgmt = Management::start()?;
    let mut beds = Vec::new();
    // Box c is box a's HA standby: a's share, fully built; it never leads.
    let boxes = [
        ("a", "share = [\"SiteA\"]", A_IP),
        ("b", "share = [\"SiteB\"]", B_IP),
        ("c", "standby_of = \"a\"\ncampaign = false", A_IP),
    ];
    for (i, (name, role, addr)) in boxes.into_iter().enumerate() {
        let tb = Testbed::new(&format!("fleet-{name}"))?;
        tb.add_subscriber_addr(&format!("{addr}/16"))?;
        mgmt.attach(i, &tb)?;
        tb.write_inputs(NET2, &csv(20.0, 30.0), &mgmt.fleet_conf("e2e", name, role))?;
        beds.push(tb);
    }
    for tb in &mut beds {
        tb.start_lqosd()?;
        tb.start_scheduler_service()?;
    }
    Ok(Fleet { beds, mgmt })
}

#[test]
fn a_fleet_of_two_boxes_through_leader_loss_pause_quorum_loss_and_restart() -> Result<()> {
    require_root();
    let _one = serial();
    let mut f = start()?;

    // 1. Each box shapes its own share, planned from the leader's publication.
    let first = f.wait_everywhere((0, 0), Duration::from_secs(40))?;
    let a = f.beds[0].measure_plan(A_IP, false, 20.0)?;
    let b = f.beds[1].measure_plan(B_IP, false, 30.0)?;
    eprintln!("fleet: box a shapes A1 at {a:.2} (plan 20), box b shapes B1 at {b:.2} (plan 30)");
    ensure!(
        within(a, 20.0, TOLERANCE) && within(b, 30.0, TOLERANCE),
        "a {a:.2}, b {b:.2}"
    );
    ensure!(
        class_id_of(&f.beds[0], "B1")?.is_null() && class_id_of(&f.beds[1], "A1")?.is_null(),
        "each box plans its share only"
    );
    ensure!(
        !class_id_of(&f.beds[2], "A1")?.is_null() && class_id_of(&f.beds[2], "B1")?.is_null(),
        "the standby holds its primary's share, built"
    );

    let mut status = String::new();
    let shown = wait_until(Duration::from_secs(10), || {
        status = lqos(&f.beds[1], &["status"])?;
        Ok(status.contains("fleet: box b, etcd ok")
            && status.contains("  leader: ")
            && status.contains(&format!(
                "a (leader): share [SiteA], applied token {} generation {}",
                first.0, first.1
            ))
            && status.contains("  b: share [SiteB], applied token")
            && status.contains("  c: share [standby of a: SiteA], applied token"))
    })?;
    ensure!(shown, "lqos status shows the fleet:\n{status}");

    // 2. The leader's scheduler dies: the other box leads within 15 s; the next change
    //    reaches every box.
    let (old, old_token) = leader(&f).context("a leader")?;
    let killed = Instant::now();
    f.beds[old].kill_scheduler()?;
    let mut new_leader = None;
    let elected = wait_until(Duration::from_secs(15), || {
        new_leader = leader(&f).filter(|(_, t)| *t > old_token);
        Ok(new_leader.is_some())
    })?;
    ensure!(elected, "no new leader within 15 s\n{}", f.logs());
    let failover = killed.elapsed();
    let (now, _) = new_leader.context("new leader")?;
    ensure!(now != old, "the other box leads");
    // systemd restarts the dead scheduler: it follows (and campaigns) again.
    f.beds[old].start_scheduler_service()?;
    f.write_inputs(25.0, 30.0)?;
    let changed = Instant::now();
    let second = f.wait_everywhere(first, Duration::from_secs(10))?;
    eprintln!(
        "fleet: failover {:.2} s; a change on every box after {:.2} s",
        failover.as_secs_f64(),
        changed.elapsed().as_secs_f64()
    );

    // 3. The leader is paused past its lease: the other leads, and the paused one publishes
    //    nothing when it wakes up.
    let (paused, paused_token) = leader(&f).context("leader")?;
    let pid = f.beds[paused].scheduler_pid().context("scheduler pid")?;
    signal(pid, libc::SIGSTOP);
    let taken = wait_until(Duration::from_secs(15), || {
        Ok(leader(&f).is_some_and(|(_, t)| t > paused_token))
    })?;
    f.write_inputs(30.0, 30.0)?;
    std::thread::sleep(Duration::from_secs(2));
    signal(pid, libc::SIGCONT);
    ensure!(taken, "no takeover from the paused leader\n{}", f.logs());
    let third = f.wait_everywhere(second, Duration::from_secs(15))?;
    std::thread::sleep(Duration::from_secs(2));
    let late: Vec<Value> = journal(&f.beds[paused], "state/fleet/publications.jsonl")
        .into_iter()
        .filter(|p| {
            p["succeeded"] == true
                && field(p, "token") == paused_token
                && field(p, "generation") > second.1
        })
        .collect();
    ensure!(
        late.is_empty(),
        "the paused leader published after its lease: {late:?}"
    );
    // A plan with the deposed leader's fence, straight to lqosd: refused.
    let stale = submit_fenced(&f.beds[0], paused_token, third.1 + 100)?;
    ensure!(
        matches!(&stale, lqos_bus::Response::Rejected { reasons } if reasons.iter().any(|r| r.contains("stale fleet plan"))),
        "{stale:?}"
    );

    // 4. One etcd member dies: publications go on. Two: nothing is published, shaping stays,
    //    an urgent issue says why; quorum back: the latest inputs are published.
    f.mgmt.etcd.kill(0);
    f.write_inputs(35.0, 30.0)?;
    let fourth = f.wait_everywhere(third, Duration::from_secs(15))?;
    f.mgmt.etcd.kill(1);
    let tree = live_tree(&f.beds[0])?;
    f.write_inputs(40.0, 30.0)?;
    let mut issues = String::new();
    let raised = wait_until(Duration::from_secs(15), || {
        issues = lqos(&f.beds[0], &["issues"])?;
        Ok(issues.contains("fleet_etcd_unreachable"))
    })?;
    ensure!(
        raised,
        "no urgent issue without quorum:\n{issues}\n{}",
        f.logs()
    );
    ensure!(published(&f) == fourth, "published without quorum");
    ensure!(
        f.beds.iter().all(|tb| took(tb) == fourth) && live_tree(&f.beds[0])? == tree,
        "shaping changed without quorum"
    );
    // Without etcd, a plain refresh refuses; `refresh --local` applies the local inputs.
    let plain = f.beds[0].scheduler(&["refresh"])?;
    ensure!(
        !plain.status.success()
            && String::from_utf8_lossy(&plain.stderr).contains("refresh --local"),
        "a plain refresh on a fleet box: {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let local = f.beds[0].scheduler(&["refresh", "--local"])?;
    ensure!(
        local.status.success(),
        "refresh --local: {}",
        String::from_utf8_lossy(&local.stderr)
    );
    ensure!(
        live_tree(&f.beds[0])?
            .iter()
            .any(|l| l.contains("ceil 40Mbit"))
            && class_id_of(&f.beds[0], "B1")?.is_null()
            && lqos(&f.beds[0], &["issues"])?.contains("fleet_local_mode"),
        "the local plan (of the box's share only) is live and said so"
    );
    f.mgmt.etcd.restart(0)?;
    f.mgmt.etcd.restart(1)?;
    f.mgmt.etcd.wait_healthy(Duration::from_secs(20))?;
    let healed = Instant::now();
    let fifth = f.wait_everywhere(fourth, Duration::from_secs(30))?;
    eprintln!(
        "fleet: quorum back -> applied everywhere in {:.2} s",
        healed.elapsed().as_secs_f64()
    );
    ensure!(live_tree(&f.beds[0])?
        .iter()
        .any(|l| l.contains("ceil 40Mbit")));

    // 5. Box b restarts (lqosd and scheduler) after missing a change to its share.
    f.beds[1].kill_scheduler()?;
    f.beds[1].kill_lqosd()?;
    f.write_inputs(40.0, 45.0)?;
    let missed = wait_until(Duration::from_secs(20), || Ok(published(&f) > fifth))?;
    ensure!(missed, "a publication while box b was down\n{}", f.logs());
    f.beds[1].start_lqosd()?;
    f.beds[1].start_scheduler_service()?;
    f.wait_everywhere(fifth, Duration::from_secs(30))?;
    let b = f.beds[1].measure_plan(B_IP, false, 45.0)?;
    ensure!(
        within(b, 45.0, TOLERANCE),
        "box b caught up: B1 at {b:.2}, plan 45"
    );

    check_journals(&f)
}

/// Sends lqosd a fenced (empty) plan directly.
fn submit_fenced(tb: &Testbed, token: u64, generation: u64) -> Result<lqos_bus::Response> {
    let socket = tb.dir.join("bus");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut c = lqos_bus::Client::connect(&socket, Duration::from_secs(2)).await?;
        let r = c
            .request(&lqos_bus::Request::SubmitFencedPlan {
                generation: u64::MAX,
                plan: lqos_bus::QueuePlan {
                    queues: 1,
                    interfaces: Vec::new(),
                    mappings: Vec::new(),
                },
                fence: Some(lqos_bus::Fence { token, generation }),
            })
            .await?;
        Ok(r)
    })
}

/// 0 stale applies, 0 duplicates applied twice, 0 publications without a valid lease, and
/// every applied fence is a publication.
fn check_journals(f: &Fleet) -> Result<()> {
    let publications: Vec<Value> = f
        .beds
        .iter()
        .flat_map(|tb| journal(tb, "state/fleet/publications.jsonl"))
        .filter(|p| p["succeeded"] == true)
        .collect();
    let elections: Vec<(u64, u64)> = f
        .beds
        .iter()
        .flat_map(|tb| journal(tb, "state/fleet/elections.jsonl"))
        .map(|e| (field(&e, "unix_ms"), field(&e, "token")))
        .collect();
    let mut by_generation = std::collections::BTreeMap::new();
    for p in &publications {
        let (t, g, at) = (
            field(p, "token"),
            field(p, "generation"),
            field(p, "unix_ms"),
        );
        ensure!(
            by_generation.insert(g, t).is_none(),
            "generation {g} published twice"
        );
        // A publication after a newer leader was elected would have needed a lease it no
        // longer held.
        let newer = elections
            .iter()
            .find(|(e_at, e_t)| *e_t > t && *e_at + 50 < at);
        ensure!(
            newer.is_none(),
            "publication {t}:{g} after leader {newer:?} was elected"
        );
    }
    let tokens: Vec<u64> = by_generation.values().copied().collect();
    ensure!(
        tokens.windows(2).all(|w| w[0] <= w[1]),
        "tokens go down across generations: {tokens:?}"
    );
    let mut refused = 0;
    for (i, tb) in f.beds.iter().enumerate() {
        let log = journal(tb, "state/lqosd/fence-log.jsonl");
        let taken: Vec<(u64, u64)> = log
            .iter()
            .filter(|l| matches!(l["outcome"].as_str(), Some("applied" | "unchanged")))
            .map(|l| (field(l, "token"), field(l, "generation")))
            .collect();
        ensure!(
            taken.windows(2).all(|w| w[0] < w[1]),
            "box {i}: a stale or duplicate apply: {taken:?}"
        );
        for (t, g) in &taken {
            ensure!(
                by_generation.get(g) == Some(t),
                "box {i} applied {t}:{g}, never published"
            );
        }
        refused += log.iter().filter(|l| l["outcome"] == "stale").count();
        eprintln!(
            "fleet: box {i} took {} publications, refused {} stale, ignored {} duplicates",
            taken.len(),
            log.iter().filter(|l| l["outcome"] == "stale").count(),
            log.iter().filter(|l| l["outcome"] == "duplicate").count()
        );
    }
    ensure!(refused >= 1, "the injected stale plan was refused");
    eprintln!(
        "fleet: {} publications, 0 stale applies, 0 duplicates applied, 0 publications without the lease",
        publications.len()
    );
    Ok(())
}
