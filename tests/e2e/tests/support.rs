//! `lqos support` on a running shaper: the bundle opens, holds every part with real content,
//! shows none of lqos.conf's secrets and, unless asked, nothing that identifies a subscriber.

use anyhow::{ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::require_root;
use lqos_e2e::testbed::{Testbed, CSV_HEADER};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const SECRETS: &[&str] = &["T0KEN-s3cr3t", "hunter2", "apikey=QQQ"];
/// What identifies the subscriber of the test bed.
const SUBSCRIBER: &[&str] = &[
    "100.64.3.21",
    "SUPPORT-C1",
    "Alice Example",
    "ALICE-ROUTER",
    "02:00:5e:00:53:01",
    "gate code 1234",
];

/// `lqos support --out FILE [extra]` in the shaper's namespace; the bundle's files by name.
fn bundle(tb: &Testbed, name: &str, extra: &[&str]) -> Result<BTreeMap<String, String>> {
    let out = tb.dir.join(name);
    let mut args = vec!["support", "--out", out.to_str().context("path")?];
    args.extend_from_slice(extra);
    let printed = lqos(tb, &args)?;
    ensure!(printed.contains("wrote"), "{printed}");
    let mode = std::fs::metadata(&out)?.permissions().mode() & 0o777;
    ensure!(
        mode == 0o600,
        "the bundle is private to its owner: {mode:o}"
    );
    let unpacked = tb.dir.mkdir(format!("{name}.d"))?;
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&out)
        .arg("-C")
        .arg(&unpacked)
        .status()?;
    ensure!(status.success(), "tar -xzf {}", out.display());
    let mut files = BTreeMap::new();
    let top = std::fs::read_dir(&unpacked)?
        .next()
        .context("an empty bundle")??
        .path();
    for e in std::fs::read_dir(&top)? {
        let e = e?;
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read_to_string(e.path())?,
        );
    }
    ensure!(
        top.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("lqos-support-")),
        "one top directory: {}",
        top.display()
    );
    Ok(files)
}

fn contains(files: &BTreeMap<String, String>, needle: &str) -> Vec<String> {
    files
        .iter()
        .filter(|(_, t)| t.contains(needle))
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn a_support_bundle_has_every_part_and_no_secret_or_subscriber() -> Result<()> {
    require_root();
    let mut tb = Testbed::new("support")?;
    tb.add_subscriber_addr("100.64.3.21/16")?;
    let row = "SUPPORT-C1,Alice Example,ALICE-ROUTER,Alice's router,Site,,,02:00:5e:00:53:01,100.64.3.21,,1,1,20,5,gate code 1234\n";
    // A second row with an overlapping address: a diagnostic naming the subscriber.
    let bad = "SUPPORT-C2,Bob Example,BOB-ROUTER,Bob's router,Site,,,,100.64.3.21,,1,1,20,5,\n";
    tb.write_inputs(NET, &format!("{CSV_HEADER}{row}{bad}"), "")?;
    tb.start_lqosd()?;
    tb.refresh()?;
    let conf = std::fs::read_to_string(tb.config())?;
    std::fs::write(
        tb.config(),
        format!("{conf}\n[uisp]\ntoken = \"T0KEN-s3cr3t\"\nurl = \"https://admin:hunter2@uisp.example/api?apikey=QQQ\"\n"),
    )?;
    let files = bundle(&tb, "plain.tar.gz", &[])?;
    for part in [
        "MANIFEST.txt",
        "versions.txt",
        "kernel.txt",
        "lqos.conf",
        "nics.txt",
        "validation.txt",
        "tc.txt",
        "bpf.txt",
        "logs.txt",
        "status.txt",
        "urgent-issues.txt",
    ] {
        ensure!(
            files.contains_key(part),
            "{part} missing: {:?}",
            files.keys()
        );
    }
    for (part, expected) in [
        ("versions.txt", "lqosd 0."),
        ("kernel.txt", "Linux"),
        ("lqos.conf", "token = \"(hidden)\""),
        ("lqos.conf", "https://uisp.example/api?(hidden)"),
        ("nics.txt", "driver: veth"),
        ("nics.txt", "tx-checksumming"),
        ("validation.txt", "overlaps"),
        ("tc.txt", "qdisc mq 7fff:"),
        ("bpf.txt", "lqos_xdp"),
        ("status.txt", "shaper: 1 circuits"),
        ("MANIFEST.txt", "subscriber data: left out"),
    ] {
        ensure!(
            files[part].contains(expected),
            "{part} lacks {expected:?}:\n{}",
            files[part]
        );
    }
    for secret in SECRETS {
        ensure!(
            contains(&files, secret).is_empty(),
            "{secret} in {:?}",
            contains(&files, secret)
        );
    }
    for who in SUBSCRIBER.iter().chain(&["Bob Example", "SUPPORT-C2"]) {
        ensure!(
            contains(&files, who).is_empty(),
            "{who} in {:?}",
            contains(&files, who)
        );
    }

    let full = bundle(&tb, "full.tar.gz", &["--with-subscriber-data"])?;
    ensure!(
        full["ShapedDevices.csv"].contains("Alice Example") && full.contains_key("network.json"),
        "--with-subscriber-data adds the inputs"
    );
    ensure!(
        !contains(&full, "100.64.3.21").is_empty() && contains(&full, "hunter2").is_empty(),
        "with subscriber data, addresses stay; secrets never do"
    );
    ensure!(
        Path::new(&tb.dir.join("full.tar.gz")).exists(),
        "written where asked"
    );
    Ok(())
}
