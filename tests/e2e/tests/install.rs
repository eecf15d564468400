//! The systemd units pass `systemd-analyze verify`, and `scripts/install.sh` /
//! `scripts/uninstall.sh` put everything in place and take it away again, keeping the
//! operator's files.

use anyhow::{ensure, Context, Result};
use lqos_e2e::{bin_dir, run_output, workspace_root, TestDir};
use std::process::Command;

#[test]
fn units_verify_with_systemd_analyze() -> Result<()> {
    let dir = TestDir::new("units")?;
    let bins = bin_dir()?;
    for unit in ["lqosd.service", "lqos_scheduler.service"] {
        // The units name /usr/local/bin; verify them against the binaries just built.
        let text = std::fs::read_to_string(workspace_root().join("etc/systemd").join(unit))?
            .replace("/usr/local/bin/", &format!("{}/", bins.display()));
        dir.write(unit, text)?;
    }
    let out = run_output(
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.join("lqosd.service"))
            .arg(dir.join("lqos_scheduler.service")),
        None,
    )
    .context("systemd-analyze (package systemd) must be installed")?;
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify: {err}"
    );
    Ok(())
}

#[test]
fn install_and_uninstall_into_a_destdir() -> Result<()> {
    let root = TestDir::new("install")?;
    let dest = root.path().to_str().context("path")?;
    let bins = bin_dir()?;
    root.write("etc/lqos.conf", "# the operator's own\n")?;
    let script = |name: &str, args: &[&str]| {
        run_output(
            Command::new(workspace_root().join("scripts").join(name)).args(args),
            None,
        )
    };
    let out = script(
        "install.sh",
        &[
            "--destdir",
            dest,
            "--bin-dir",
            bins.to_str().context("path")?,
        ],
    )?;
    ensure!(
        out.status.success(),
        "install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "usr/local/bin/lqosd",
        "usr/local/bin/lqos-scheduler",
        "usr/local/bin/lqos",
        "usr/local/bin/lqtop",
        "usr/local/share/man/man8/lqtop.8",
        "etc/systemd/system/lqosd.service",
        "etc/systemd/system/lqos_scheduler.service",
        "opt/lqos/ShapedDevices.csv",
        "opt/lqos/network.json",
        "usr/local/share/man/man8/lqosd.8",
        "usr/local/share/man/man8/lqos-scheduler-refresh.8",
        "usr/local/share/man/man8/lqos-support.8",
        "usr/local/share/bash-completion/completions/lqos",
        "usr/local/share/zsh/site-functions/_lqosd",
        "usr/local/share/fish/vendor_completions.d/lqos-scheduler.fish",
    ] {
        ensure!(root.join(f).exists(), "{f} installed");
    }
    ensure!(
        std::fs::read_to_string(root.join("etc/lqos.conf"))? == "# the operator's own\n",
        "an existing lqos.conf is kept"
    );
    let out = script("uninstall.sh", &["--destdir", dest])?;
    ensure!(
        out.status.success(),
        "uninstall: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        !root.join("usr/local/bin/lqosd").exists()
            && !root.join("usr/local/bin/lqos").exists()
            && !root
                .join("usr/local/share/man/man8/lqosd-user-add.8")
                .exists()
            && !root
                .join("usr/local/share/bash-completion/completions/lqos")
                .exists()
            && !root.join("etc/systemd/system/lqosd.service").exists(),
        "removed"
    );
    ensure!(
        root.join("etc/lqos.conf").exists() && root.join("opt/lqos/ShapedDevices.csv").exists(),
        "configuration kept without --purge"
    );
    let out = script("uninstall.sh", &["--destdir", dest, "--purge"])?;
    ensure!(
        out.status.success()
            && !root.join("etc/lqos.conf").exists()
            && !root.join("opt/lqos").exists(),
        "--purge removes the configuration"
    );
    Ok(())
}
