//! The planner's output is real tc: `lqos-scheduler refresh --dry-run` on the bundled example
//! prints a `tc -batch` text that the kernel accepts as a whole, and the classes it creates
//! carry the planned rates and leaf qdiscs for every IP mapping it prints.
//!
//! Contract assumed (see `lqos_e2e::dry_run` for the stdout format):
//! - `lqos-scheduler --config PATH refresh --dry-run` needs no lqosd, exits 0, and prints the
//!   tc text, then a line starting with `# ip mappings`, then `<prefix> <cpu> <classid>
//!   <download|upload> <circuit id>` lines (summary lines on stderr or as `#` lines).
//! - Download classes are on `to_network`, upload classes on `to_internet`; a mapping's cpu
//!   `n` means tx queue `n`, i.e. the class lives in the HTB under the root `mq`'s class
//!   `:n+1`.
//! - Circuit classes are HTB leaves with `rate` = min and `ceil` = max, written as tc rates
//!   (e.g. `10000000bit`), with `default_sqm` (`pfifo` here) as their leaf qdisc.

use anyhow::{bail, ensure, Context, Result};
use ipnet::IpNet;
use lqos_e2e::dry_run::{split_output, Direction, Mapping};
use lqos_e2e::tc::{
    apply_batch, live_classes, live_qdiscs, parse_script, rate_matches, ClassId, LiveClass,
    LiveQdisc, TcClass,
};
use lqos_e2e::{
    bin_path, check_output, etc_path, require_root, run_output, shaped_csv, NetNs, TestDir,
};
use std::collections::{BTreeMap, HashMap};

const TO_INTERNET: &str = "lqi0";
const TO_NETWORK: &str = "lqn0";
const QUEUES: u32 = 4;

fn dev_for(direction: Direction) -> &'static str {
    match direction {
        Direction::Download => TO_NETWORK,
        Direction::Upload => TO_INTERNET,
    }
}

fn config_text(dir: &TestDir, ns: &NetNs) -> String {
    let path = |p: std::path::PathBuf| format!("{:?}", p.display().to_string());
    format!(
        r#"# Written by the lqos-e2e dry_run_tc test.
lqos_directory = {lqos}
state_directory = {state}
node_name = "e2e-dry-run"

[bridge]
to_internet = "{TO_INTERNET}"
to_network = "{TO_NETWORK}"

[queues]
# This kernel has neither cake nor fq_codel.
default_sqm = "pfifo"
queue_mode = "shape"
override_available_queues = {QUEUES}
uplink_bandwidth_mbps = 10000
downlink_bandwidth_mbps = 10000
generated_pn_download_mbps = 1000
generated_pn_upload_mbps = 1000
dry_run = false

[lqosd]
bus_socket = {bus}
bpf_pin_dir = "/sys/fs/bpf/{ns}"
"#,
        lqos = path(dir.path().to_path_buf()),
        state = path(dir.join("state")),
        bus = path(dir.join("bus")),
        ns = ns.name(),
    )
}

#[test]
fn dry_run_tc_batch_is_accepted_and_matches_the_kernel() -> Result<()> {
    require_root();
    let scheduler = bin_path("lqos-scheduler");

    let ns = NetNs::new()?;
    ns.add_veth(TO_INTERNET, TO_NETWORK, QUEUES)?;
    ns.set_up(TO_INTERNET)?;
    ns.set_up(TO_NETWORK)?;
    ensure!(
        ns.tx_queues(TO_NETWORK)? == QUEUES as usize,
        "veth did not get {QUEUES} tx queues"
    );

    let dir = TestDir::new("dry-run-tc")?;
    dir.copy_example("network.json")?;
    // The example's sqm column names cake and fq_codel, which this kernel lacks: blank it so
    // every circuit gets default_sqm (pfifo).
    let csv =
        std::fs::read(etc_path("ShapedDevices.csv")).context("reading etc/ShapedDevices.csv")?;
    let csv = shaped_csv::blank_column(&csv, "sqm")?;
    dir.write("ShapedDevices.csv", &csv)?;
    dir.mkdir("state")?;
    let config = dir.write("lqos.conf", config_text(&dir, &ns))?;

    // Run inside the namespace, where the configured interfaces exist.
    let args = [
        "--config",
        config.to_str().context("non-UTF-8 temp path")?,
        "refresh",
        "--dry-run",
    ];
    let out = run_output(
        &mut ns.command(scheduler.to_str().context("non-UTF-8 binary path")?, &args),
        None,
    )?;
    check_output("lqos-scheduler refresh --dry-run", &out)?;
    eprintln!(
        "lqos-scheduler stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).context("dry run stdout is not UTF-8")?;
    let plan = split_output(&stdout)?;
    dir.write("plan.tc", &plan.tc_batch)?;

    ensure!(
        plan.mappings.len() > 30,
        "only {} IP mappings: expected more than 30",
        plan.mappings.len()
    );
    for d in [Direction::Download, Direction::Upload] {
        ensure!(
            plan.mappings.iter().any(|m| m.direction == d),
            "no {d} mapping at all"
        );
    }

    // The kernel must take the whole batch (tc stops at the first failing line).
    apply_batch(&ns, &plan.tc_batch).context("applying the dry run's tc text")?;

    let script = parse_script(&plan.tc_batch)?;
    let mut live = HashMap::new();
    for dev in [TO_INTERNET, TO_NETWORK] {
        live.insert(dev, (live_classes(&ns, dev)?, live_qdiscs(&ns, dev)?));
    }

    let mut errors = Vec::new();
    check_classes(&script.classes, &live, &mut errors);
    check_mappings(&plan.mappings, &script.classes, &live, &mut errors);
    check_coverage(
        &plan.mappings,
        &shaped_csv::circuit_prefixes(csv.as_bytes())?,
        &mut errors,
    );
    if !errors.is_empty() {
        bail!(
            "{} problem(s) (LQOS_E2E_KEEP=1 keeps the config and plan.tc in {}):\n{}",
            errors.len(),
            dir.path().display(),
            errors.join("\n")
        );
    }
    Ok(())
}

type Live<'a> = HashMap<&'a str, (Vec<LiveClass>, Vec<LiveQdisc>)>;

fn live_class<'a>(live: &'a Live, dev: &str, id: ClassId) -> Option<&'a LiveClass> {
    live.get(dev)
        .and_then(|(classes, _)| classes.iter().find(|c| c.classid == id))
}

/// Every HTB class of the tc text exists in the kernel with the planned rate and ceil.
fn check_classes(planned: &[TcClass], live: &Live, errors: &mut Vec<String>) {
    for p in planned.iter().filter(|c| c.kind == "htb") {
        let Some(rate) = p.rate_bits else {
            errors.push(format!(
                "{} {}: htb class without a rate in the tc text",
                p.dev, p.classid
            ));
            continue;
        };
        let ceil = p.ceil_bits.unwrap_or(rate);
        match live_class(live, &p.dev, p.classid) {
            None => errors.push(format!(
                "{} {}: planned class missing from the kernel",
                p.dev, p.classid
            )),
            Some(l) => {
                for (what, want, got) in [("rate", rate, l.rate_bits), ("ceil", ceil, l.ceil_bits)]
                {
                    if !got.is_some_and(|g| rate_matches(want, g)) {
                        errors.push(format!(
                            "{} {}: {what} planned {want}bit, kernel has {got:?}bit",
                            p.dev, p.classid
                        ));
                    }
                }
            }
        }
    }
}

/// Every mapping points at a planned leaf class on the right interface, in the HTB of its
/// cpu's tx queue, with a pfifo leaf qdisc; one class per circuit and direction.
fn check_mappings(
    mappings: &[Mapping],
    planned: &[TcClass],
    live: &Live,
    errors: &mut Vec<String>,
) {
    let mut class_of: HashMap<(Direction, &str), ClassId> = HashMap::new();
    let mut circuit_of: HashMap<(Direction, ClassId), &str> = HashMap::new();
    for m in mappings {
        let dev = dev_for(m.direction);
        let here = format!(
            "{} {} -> {dev} {} (cpu {}, circuit {:?})",
            m.direction, m.prefix, m.classid, m.cpu, m.circuit_id
        );
        if m.cpu >= QUEUES {
            errors.push(format!(
                "{here}: cpu out of range (override_available_queues = {QUEUES})"
            ));
        }
        if !planned
            .iter()
            .any(|c| c.dev == dev && c.classid == m.classid)
        {
            errors.push(format!(
                "{here}: the tc text creates no such class on {dev}"
            ));
        }
        if planned
            .iter()
            .any(|c| c.dev == dev && c.parent == Some(m.classid))
        {
            errors.push(format!(
                "{here}: mapped class has child classes (expected a circuit leaf)"
            ));
        }
        if let Some(prev) = class_of.insert((m.direction, &m.circuit_id), m.classid) {
            if prev != m.classid {
                errors.push(format!("{here}: the same circuit also maps to {prev}"));
            }
        }
        if let Some(prev) = circuit_of.insert((m.direction, m.classid), &m.circuit_id) {
            if prev != m.circuit_id {
                errors.push(format!("{here}: class shared with circuit {prev:?}"));
            }
        }
        let Some((_, qdiscs)) = live.get(dev) else {
            continue;
        };
        if !qdiscs
            .iter()
            .any(|q| q.parent == Some(m.classid) && q.kind == "pfifo")
        {
            let leaf: Vec<_> = qdiscs
                .iter()
                .filter(|q| q.parent == Some(m.classid))
                .collect();
            errors.push(format!(
                "{here}: no pfifo leaf qdisc in the kernel (found {leaf:?})"
            ));
        }
        let mq = qdiscs.iter().find(|q| q.parent.is_none() && q.kind == "mq");
        let htb = qdiscs.iter().find(|q| {
            q.handle
                == ClassId {
                    major: m.classid.major,
                    minor: 0,
                }
        });
        match (mq, htb) {
            (None, _) => errors.push(format!("{here}: no mq root qdisc on {dev}")),
            (_, None) => errors.push(format!("{here}: no qdisc {:x}: on {dev}", m.classid.major)),
            (Some(mq), Some(htb)) => {
                let queue = ClassId {
                    major: mq.handle.major,
                    minor: m.cpu as u16 + 1,
                };
                if htb.kind != "htb" || htb.parent != Some(queue) {
                    let under = htb.parent.map_or("the root".to_string(), |p| p.to_string());
                    errors.push(format!(
                        "{here}: qdisc {:x}: is {} under {under}; expected htb under mq class {queue} (tx queue {})",
                        m.classid.major, htb.kind, m.cpu
                    ));
                }
            }
        }
    }
}

/// In each direction, the mapped prefixes are exactly the CSV's, each with its own circuit.
fn check_coverage(
    mappings: &[Mapping],
    expected: &BTreeMap<IpNet, String>,
    errors: &mut Vec<String>,
) {
    for d in [Direction::Download, Direction::Upload] {
        let mut got: BTreeMap<IpNet, &str> = BTreeMap::new();
        for m in mappings.iter().filter(|m| m.direction == d) {
            if let Some(prev) = got.insert(m.prefix.trunc(), &m.circuit_id) {
                errors.push(format!(
                    "{d} {}: mapped twice (circuits {prev:?} and {:?})",
                    m.prefix, m.circuit_id
                ));
            }
        }
        for (prefix, circuit) in expected {
            match got.get(prefix) {
                None => errors.push(format!(
                    "{d} {prefix} (circuit {circuit:?}): in ShapedDevices.csv but not mapped"
                )),
                Some(c) if c != circuit => errors.push(format!(
                    "{d} {prefix}: mapped to circuit {c:?}, ShapedDevices.csv says {circuit:?}"
                )),
                Some(_) => {}
            }
        }
        for (prefix, circuit) in &got {
            if !expected.contains_key(prefix) {
                errors.push(format!(
                    "{d} {prefix} (circuit {circuit:?}): mapped but not in ShapedDevices.csv"
                ));
            }
        }
    }
}
