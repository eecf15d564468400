//! HTB sizing against the real kernel: circuits from 0.1 Mbit to 100 Gbit, planned by the real
//! binary and applied with the real tc, give no "quantum of class ... is big/small" warning and
//! carry exactly the planned rates.

use anyhow::{ensure, Context, Result};
use lqos_e2e::tc::{live_classes, rate_matches};
use lqos_e2e::{bin_path, check_output, require_root, run_output, NetNs, TestDir};

#[test]
fn quantum_and_burst_are_quiet_and_exact_at_every_rate() -> Result<()> {
    require_root();
    let ns = NetNs::new()?;
    ns.add_veth("lqxa", "lqxb", 2)?;
    let dir = TestDir::new("extreme-rates")?;
    let rates = [0.1, 1.0, 37.5, 1_000.0, 40_000.0, 100_000.0];
    let mut csv = String::from("Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps\n");
    for (i, r) in rates.iter().enumerate() {
        csv.push_str(&format!("C{i},D{i},,100.64.0.{},,{r},{r},{r},{r}\n", i + 1));
    }
    dir.write("ShapedDevices.csv", csv)?;
    dir.write("network.json", "{}")?;
    let conf = dir.write(
        "lqos.conf",
        format!(
            "lqos_directory = {:?}\nstate_directory = {:?}\n[bridge]\nto_internet = \"lqxa\"\nto_network = \"lqxb\"\n\
             [queues]\ndefault_sqm = \"pfifo\"\ndownlink_bandwidth_mbps = 400000\nuplink_bandwidth_mbps = 400000\n\
             generated_pn_download_mbps = 400000\ngenerated_pn_upload_mbps = 400000\n",
            dir.path().display().to_string(),
            dir.join("state").display().to_string()
        ),
    )?;
    let mut cmd = ns.command(
        bin_path("lqos-scheduler").to_str().context("path")?,
        &[
            "--config",
            conf.to_str().context("path")?,
            "refresh",
            "--dry-run",
        ],
    );
    let out = run_output(&mut cmd, None)?;
    check_output("lqos-scheduler refresh --dry-run", &out)?;
    let stdout = String::from_utf8(out.stdout)?;
    let batch = stdout.split("# ip mappings").next().context("plan")?;
    let applied = ns.exec_stdin("tc", &["-batch", "-"], batch.as_bytes())?;
    let stderr = String::from_utf8_lossy(&applied.stderr);
    ensure!(applied.status.success(), "tc -batch failed: {stderr}");
    ensure!(
        !stderr.contains("quantum"),
        "the kernel warned about a quantum: {stderr}"
    );

    let live = live_classes(&ns, "lqxb")?;
    for (i, r) in rates.iter().enumerate() {
        let planned_bps = (r * 1e6) as u64;
        let circuit_line = stdout
            .lines()
            .skip_while(|l| *l != format!("# circuit C{i}"))
            .nth(1)
            .context("class line")?;
        let classid = circuit_line.split_whitespace().nth(7).context("classid")?;
        let class = live
            .iter()
            .find(|c| c.classid.to_string() == classid)
            .with_context(|| format!("class {classid} live"))?;
        let live_bps = class.rate_bits.context("live rate")?;
        ensure!(
            rate_matches(planned_bps, live_bps),
            "C{i}: live rate {live_bps} vs planned {planned_bps}"
        );
    }
    Ok(())
}
