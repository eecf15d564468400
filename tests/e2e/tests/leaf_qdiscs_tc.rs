//! Every leaf qdisc lqos can render is one `tc` accepts (issue 13, 1.5). This kernel has
//! neither CAKE nor fq_codel, yet they are the production default; but `tc` parses a qdisc's
//! options before the kernel sees its kind. So each distinct leaf spec the real planner renders
//! (every `default_sqm` form below, the `sqm` column's forms, `fast_queues_fq_codel`, the slow
//! circuits' CAKE `rtt`) is fed to the real `tc` in a throwaway namespace, as lqosd writes it,
//! under an HTB class: it must succeed, or fail only with the kernel's "Specified qdisc kind is
//! unknown", never with tc's own parse errors ("What is", "Illegal", "Usage", ...).

use anyhow::{bail, ensure, Context, Result};
use lqos_config::{parse_inputs, Config, InputTexts, Inputs};
use lqos_e2e::{require_root, NetNs};
use lqos_plan::{render_tc, ClassId, TcOp, MQ_MAJOR};
use lqos_scheduler::plan::{plan, AssignOptions, SLOW_CAKE_RTT};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// `default_sqm` values an operator may write (docs/inputs.md; LibreQoS's own choices). The
/// config takes any qdisc spec, so these are the forms lqos documents or LibreQoS users use;
/// `None`: the key left out (lqos's default, `cake diffserv4`).
const DEFAULT_SQMS: &[Option<&str>] = &[
    None,
    Some("cake diffserv4"),
    Some("cake diffserv3"),
    Some("cake diffserv8"),
    Some("cake besteffort"),
    Some("cake"),
    Some("cake diffserv4 ack-filter"),
    Some("cake diffserv4 nat dual-dsthost"),
    Some("cake diffserv4 rtt 50ms"),
    Some("fq_codel"),
    Some("none"),
    Some("pfifo"),
    Some("pfifo limit 1000"),
    Some("bfifo"),
];

/// The `sqm` column's forms (sqm.rs): empty, one for both directions, and down/up.
const SQM_CELLS: &[&str] = &[
    "",
    "cake",
    "fq_codel",
    "none",
    "cake/fq_codel",
    "fq_codel/cake",
    "cake/none",
    "none/fq_codel",
    "/cake",
    "fq_codel/",
];

/// Kinds this kernel has: commands with them must succeed.
const KERNEL_HAS: &[&str] = &["pfifo", "bfifo", "htb"];
/// Kinds it lacks but production kernels have: the kernel, not tc, must refuse them.
const KERNEL_LACKS: &[&str] = &["cake", "fq_codel"];
const UNKNOWN_KIND: &str = "Specified qdisc kind is unknown";
/// What tc prints when it cannot parse a qdisc's options itself.
const TC_PARSE_ERRORS: &[&str] = &[
    "What is",
    "Illegal",
    "Usage",
    "invalid",
    "does not support option parsing",
    "Garbage",
];

const FAST_MBPS: f64 = 200.0;

/// Maximum rates that reach every slow-CAKE band, the boundary above it, and fast circuits.
fn rates() -> Vec<f64> {
    let mut r = vec![0.5];
    for (bound, _) in SLOW_CAKE_RTT {
        r.extend([bound - 0.5, bound]);
    }
    r.extend([SLOW_CAKE_RTT[3].0 + 0.5, 50.0, FAST_MBPS, 1000.0]);
    r
}

fn inputs_csv(cells: &[&str]) -> String {
    let mut csv = String::from("Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,sqm\n");
    let mut n = 0u32;
    for cell in cells {
        for max in rates() {
            n += 1;
            let min = (max / 2.0).max(0.1);
            csv.push_str(&format!(
                "C{n},D{n},,100.64.{}.{},,{min},{min},{max},{max},{cell}\n",
                n / 250,
                n % 250 + 1
            ));
        }
    }
    csv
}

fn config(default_sqm: Option<&str>, fast: Option<f64>) -> Config {
    let mut text = String::from("[bridge]\nto_internet = \"lqli0\"\nto_network = \"lqln0\"\n[queues]\ndownlink_bandwidth_mbps = 10000\nuplink_bandwidth_mbps = 10000\n");
    if let Some(sqm) = default_sqm {
        text.push_str(&format!("default_sqm = \"{sqm}\"\n"));
    }
    if let Some(f) = fast {
        text.push_str(&format!("fast_queues_fq_codel = {f}\n"));
    }
    let (c, d) = Config::parse(&text, "lqos.conf", Path::new("/"));
    c.unwrap_or_else(|| panic!("{text}\n{d}"))
}

/// The leaf specs of a rendered plan: `qdisc add ... parent <class> handle <h>: <spec>` lines
/// (the per-queue HTBs hang off the mq root and are not leaves).
fn leaf_specs(tc: &str, into: &mut BTreeMap<String, String>, origin: &str) -> Result<()> {
    let mq_parent = format!(" parent {MQ_MAJOR:x}:");
    for line in tc.lines().filter(|l| l.starts_with("qdisc add ")) {
        if line.contains(&mq_parent) {
            continue;
        }
        let (_, spec) = line
            .split_once(": ")
            .with_context(|| format!("no `handle X: spec` in {line:?}"))?;
        into.entry(spec.to_owned())
            .or_insert_with(|| origin.to_owned());
    }
    Ok(())
}

fn inputs(cells: &[&str]) -> Result<Inputs> {
    let csv = inputs_csv(cells);
    let (inputs, d) = parse_inputs(
        &InputTexts {
            shaped_devices: csv.as_bytes(),
            network: "{}",
            overrides: None,
        },
        &Default::default(),
    );
    inputs.with_context(|| format!("test inputs rejected:\n{d}"))
}

fn render(inputs: &Inputs, c: &Config) -> Result<String> {
    let p = plan(inputs, c, 2, None, AssignOptions::default())
        .map_err(|e| anyhow::anyhow!("planning: {e}"))?
        .plan;
    Ok(render_tc(&p))
}

/// Every distinct leaf spec the planner renders over all configurations, with one
/// configuration that produced it.
fn rendered_specs() -> Result<BTreeMap<String, String>> {
    let inputs = inputs(SQM_CELLS)?;
    let mut specs = BTreeMap::new();
    for sqm in DEFAULT_SQMS {
        for fast in [None, Some(FAST_MBPS)] {
            let origin = format!("default_sqm {sqm:?}, fast_queues_fq_codel {fast:?}");
            let tc = render(&inputs, &config(*sqm, fast)).context(origin.clone())?;
            leaf_specs(&tc, &mut specs, &origin)?;
        }
    }
    Ok(specs)
}

/// How one tc command ended.
#[derive(Debug)]
enum Outcome {
    Accepted,
    UnknownKind,
}

/// Runs one `tc -batch` line as lqosd does, and classifies the result; anything but success or
/// the kernel's unknown-kind refusal is an error with tc's own words.
fn run_line(ns: &NetNs, line: &str) -> Result<Outcome> {
    let out = ns.exec_stdin("tc", &["-batch", "-"], format!("{line}\n").as_bytes())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(e) = TC_PARSE_ERRORS.iter().find(|e| stderr.contains(*e)) {
        bail!("tc itself rejected {line:?} ({e:?}):\n{stderr}");
    }
    if out.status.success() {
        return Ok(Outcome::Accepted);
    }
    ensure!(
        stderr.contains(UNKNOWN_KIND),
        "{line:?} failed without the kernel's {UNKNOWN_KIND:?}:\n{stderr}"
    );
    Ok(Outcome::UnknownKind)
}

#[test]
fn every_rendered_leaf_qdisc_is_parsed_by_tc() -> Result<()> {
    require_root();
    let specs = rendered_specs()?;
    for spec in &specs {
        eprintln!("leaf spec {:?}  (from {})", spec.0, spec.1);
    }

    // The set must not shrink unnoticed: CAKE in each form, fq_codel, every slow-circuit rtt.
    let mut wanted: Vec<String> = [
        "cake diffserv4",
        "cake diffserv3",
        "cake diffserv8",
        "cake besteffort",
        "cake",
        "cake diffserv4 rtt 50ms",
        "fq_codel",
        "pfifo",
        "bfifo",
    ]
    .map(String::from)
    .to_vec();
    for (_, ms) in SLOW_CAKE_RTT {
        wanted.push(format!("cake diffserv4 rtt {ms}ms"));
        wanted.push(format!("cake besteffort rtt {ms}ms"));
    }
    let missing: Vec<&String> = wanted.iter().filter(|w| !specs.contains_key(*w)).collect();
    ensure!(
        missing.is_empty(),
        "the planner no longer renders {missing:?}; it rendered {:?}",
        specs.keys()
    );
    ensure!(
        !specs.keys().any(|s| s.contains("rtt 50ms rtt")),
        "an operator's own rtt got a second one"
    );
    // fq_codel also comes from fast_queues_fq_codel alone (no sqm column).
    let mut fast_only = BTreeMap::new();
    let tc = render(&inputs(&[""])?, &config(Some("pfifo"), Some(FAST_MBPS)))?;
    leaf_specs(&tc, &mut fast_only, "")?;
    ensure!(
        fast_only.keys().eq(["fq_codel", "pfifo"]),
        "pfifo with fast_queues_fq_codel rendered {:?}",
        fast_only.keys()
    );

    let ns = NetNs::new()?;
    ns.add_veth("lqlq0", "lqlq1", 1)?;
    ns.set_up("lqlq0")?;
    ns.set_up("lqlq1")?;
    ns.run(
        "tc",
        &[
            "qdisc", "add", "dev", "lqlq0", "root", "handle", "1:", "htb",
        ],
    )?;
    ns.run(
        "tc",
        &[
            "class", "add", "dev", "lqlq0", "parent", "1:", "classid", "1:10", "htb", "rate",
            "10mbit",
        ],
    )?;
    let parent = ClassId::new(1, 0x10);

    // The premise: tc parses the options of the kinds this kernel lacks (a bad option is
    // tc's error, not the kernel's), so a spec that passes tc here passes it in production.
    for kind in KERNEL_LACKS {
        let line = format!("qdisc add dev lqlq0 parent {parent} handle 400: {kind} no-such-option");
        let out = ns.exec_stdin("tc", &["-batch", "-"], format!("{line}\n").as_bytes())?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(
            !out.status.success() && stderr.contains("What is"),
            "tc no longer parses {kind} options itself, so this test proves nothing: {stderr}"
        );
    }

    let mut failures = Vec::new();
    let mut by_outcome: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (spec, origin) in &specs {
        let kind = spec.split_whitespace().next().unwrap_or("");
        let spec: Arc<str> = spec.as_str().into();
        // The lines lqosd writes: a leaf added to a new class, and one swapped on a class.
        let ops = [
            TcOp::AddLeaf {
                dev: "lqlq0".into(),
                parent,
                spec: spec.clone(),
                handle: Some(0x400),
            },
            TcOp::ReplaceLeaf {
                dev: "lqlq0".into(),
                parent,
                spec: spec.clone(),
                handle: Some(0x401),
            },
        ];
        for op in ops {
            let line = op.to_string();
            match run_line(&ns, &line) {
                Ok(Outcome::Accepted) if KERNEL_HAS.contains(&kind) => {
                    by_outcome.entry("accepted").or_default().insert(kind);
                    ns.run("tc", &["qdisc", "del", "dev", "lqlq0", "parent", "1:10"])?;
                }
                Ok(Outcome::UnknownKind) if KERNEL_LACKS.contains(&kind) => {
                    by_outcome.entry("unknown kind").or_default().insert(kind);
                }
                Ok(Outcome::Accepted) if KERNEL_LACKS.contains(&kind) => {
                    // A kernel with CAKE/fq_codel: even better, the kernel took it.
                    by_outcome.entry("accepted").or_default().insert(kind);
                    ns.run("tc", &["qdisc", "del", "dev", "lqlq0", "parent", "1:10"])?;
                }
                Ok(o) => failures.push(format!(
                    "{line:?} ({origin}): {o:?}, but kind {kind:?} is in neither list (KERNEL_HAS \
                     {KERNEL_HAS:?}, KERNEL_LACKS {KERNEL_LACKS:?}) or got the other outcome"
                )),
                Err(e) => failures.push(format!("{origin}: {e:#}")),
            }
        }
    }
    eprintln!("outcomes: {by_outcome:?}");
    ensure!(
        failures.is_empty(),
        "{} leaf command(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    ensure!(
        by_outcome
            .get("unknown kind")
            .is_some_and(|k| k.contains("cake") && k.contains("fq_codel"))
            || by_outcome
                .get("accepted")
                .is_some_and(|k| k.contains("cake") && k.contains("fq_codel")),
        "cake and fq_codel commands were not all run: {by_outcome:?}"
    );
    Ok(())
}
