//! The plan diff against the real kernel: build plan A with `tc -batch`, apply only the
//! rendered difference to plan B (re-rated, added, removed and re-parented circuits, a node
//! re-rated, new leaf qdiscs, leaf qdiscs removed), and the live tree is exactly plan B.

use anyhow::{ensure, Context, Result};
use lqos_config::{Config, SqmKind, SqmOverride};
use lqos_e2e::tc::{live_classes, live_qdiscs, rate_matches};
use lqos_e2e::{require_root, NetNs};
use lqos_plan::{diff, render_diff, render_tc, QueuePlan};
use lqos_scheduler::plan::{plan, AssignOptions};
use std::collections::HashMap;
use std::path::Path;

fn config(sqm: &str) -> Config {
    let text = format!("[bridge]\nto_internet = \"lqd0\"\nto_network = \"lqd1\"\n[queues]\ndefault_sqm = \"{sqm}\"\ndownlink_bandwidth_mbps = 10000\nuplink_bandwidth_mbps = 10000\n");
    Config::parse(&text, "lqos.conf", Path::new("/"))
        .0
        .expect("config")
}

fn apply(ns: &NetNs, text: &str) -> Result<()> {
    // A file, not a pipe: tc stops reading at the first failing line.
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), text)?;
    let out = ns.exec("tc", &["-batch", file.path().to_str().context("path")?])?;
    ensure!(
        out.status.success(),
        "tc -batch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The live tree of every interface equals the plan: same classes, parents, rates, leaves.
fn check_live(ns: &NetNs, p: &QueuePlan) -> Result<()> {
    for iface in &p.interfaces {
        let live: HashMap<String, _> = live_classes(ns, &iface.name)?
            .into_iter()
            .filter(|c| c.kind == "htb")
            .map(|c| (c.classid.to_string(), c))
            .collect();
        let qdiscs: HashMap<String, String> = live_qdiscs(ns, &iface.name)?
            .into_iter()
            .filter_map(|q| Some((q.parent?.to_string(), q.kind)))
            .collect();
        let planned: Vec<_> = iface.htbs.iter().flat_map(|q| &q.classes).collect();
        ensure!(
            live.len() == planned.len(),
            "{}: {} live classes, {} planned",
            iface.name,
            live.len(),
            planned.len()
        );
        for c in planned {
            let l = live
                .get(&c.id.to_string())
                .with_context(|| format!("{} {} missing", iface.name, c.id))?;
            ensure!(
                l.parent.map(|x| x.to_string()) == c.parent.map(|x| x.to_string())
                    || c.parent.is_none(),
                "{}: parent {:?} vs {:?}",
                c.id,
                l.parent,
                c.parent
            );
            ensure!(
                rate_matches(c.rate_bps, l.rate_bits.unwrap_or(0)),
                "{}: rate {:?} vs {}",
                c.id,
                l.rate_bits,
                c.rate_bps
            );
            ensure!(
                rate_matches(c.ceil_bps, l.ceil_bits.unwrap_or(l.rate_bits.unwrap_or(0))),
                "{}: ceil {:?} vs {}",
                c.id,
                l.ceil_bits,
                c.ceil_bps
            );
            let leaf = qdiscs.get(&c.id.to_string());
            match &c.leaf {
                Some(spec) => ensure!(
                    leaf.map(String::as_str) == Some(&**spec),
                    "{}: leaf {leaf:?}, planned {spec}",
                    c.id
                ),
                None => ensure!(
                    leaf.is_none_or(|k| k == "pfifo"),
                    "{}: leaf {leaf:?}, planned HTB's default",
                    c.id
                ),
            }
        }
    }
    Ok(())
}

#[test]
fn applying_only_the_difference_yields_the_new_plan() -> Result<()> {
    require_root();
    let ns = NetNs::new()?;
    ns.add_veth("lqd0", "lqd1", 2)?;
    let mut before = lqos_gen::inputs(&lqos_gen::GenSpec {
        seed: 11,
        ..lqos_gen::GenSpec::new(400)
    })
    .map_err(|d| anyhow::anyhow!("inputs: {d}"))?;
    // This kernel has neither cake nor fq_codel: leaves come from default_sqm only.
    for c in &mut before.circuits {
        c.sqm = None;
    }
    let opts = AssignOptions {
        binpacking: true,
        rebalance: false,
    };
    let old = plan(&before, &config("pfifo"), 2, None, opts)?;
    apply(&ns, &render_tc(&old.plan))?;
    check_live(&ns, &old.plan).context("plan A applied in full")?;

    let mut after = before.clone();
    for i in (0..after.circuits.len()).step_by(37) {
        after.circuits[i].download_max *= 1.5;
    }
    after.circuits.truncate(after.circuits.len() - 25);
    let mut added = after.circuits[3].clone();
    added.id = "ADDED".into();
    added.devices.truncate(1);
    added.devices[0].ips = vec!["203.0.113.5/32".parse()?];
    after.circuits.push(added);
    after.circuits[10].parent = after.circuits[200].parent;
    for c in after.circuits.iter_mut().skip(50).take(5) {
        c.sqm = Some(SqmOverride {
            download: Some(SqmKind::None),
            upload: None,
        });
    }
    let site = after
        .network
        .nodes
        .iter()
        .position(|n| !n.is_virtual)
        .context("a node")?;
    after.network.nodes[site].download_mbps *= 0.8;
    // A new default leaf everywhere: every other circuit's leaf is replaced in place.
    let new = plan(&after, &config("bfifo"), 2, Some(&old.state), opts)?;
    let d = diff(&old.plan, &new.plan);
    ensure!(d.rebuild.is_empty(), "same queues: nothing rebuilt");
    ensure!(
        !d.remove_classes.is_empty()
            && !d.add_classes.is_empty()
            && !d.change_classes.is_empty()
            && !d.change_leaves.is_empty(),
        "every kind of operation exercised: {} removed, {} added, {} changed, {} leaves",
        d.remove_classes.len(),
        d.add_classes.len(),
        d.change_classes.len(),
        d.change_leaves.len()
    );
    apply(&ns, &render_diff(&d)).context("the diff")?;
    check_live(&ns, &new.plan).context("plan B after applying only the diff")
}
