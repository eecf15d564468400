//! The bundled example in `etc/` is valid: `lqos-scheduler validate` accepts the shipped
//! `lqos.conf` (with its directories pointed at a copy of the example) together with
//! `network.json`, `ShapedDevices.csv` and `lqos_overrides.json`.
//!
//! Needs the built binaries but not root.

use anyhow::{ensure, Context, Result};
use lqos_e2e::{bin_path, check_output, etc_path, run_output, TestDir};
use std::process::Command;

#[test]
fn bundled_example_validates() -> Result<()> {
    let scheduler = bin_path("lqos-scheduler");
    let dir = TestDir::new("example")?;
    for name in ["network.json", "ShapedDevices.csv", "lqos_overrides.json"] {
        dir.copy_example(name)?;
    }
    let state = dir.mkdir("state")?;
    let conf = std::fs::read_to_string(etc_path("lqos.conf")).context("reading etc/lqos.conf")?;
    let mut replaced = 0;
    let conf: String = conf
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            let value = match key {
                "lqos_directory" => dir.path(),
                "state_directory" => state.as_path(),
                _ => return format!("{line}\n"),
            };
            replaced += 1;
            format!("{key} = {:?}\n", value.display().to_string())
        })
        .collect();
    ensure!(
        replaced == 2,
        "etc/lqos.conf should set lqos_directory and state_directory once each"
    );
    let config = dir.write("lqos.conf", conf)?;

    let out = run_output(
        Command::new(&scheduler)
            .arg("--config")
            .arg(&config)
            .arg("validate"),
        None,
    )?;
    eprintln!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    check_output("lqos-scheduler validate (bundled example)", &out)
}
