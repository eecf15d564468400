//! The Debian package on this machine: `scripts/package.sh` builds it, `apt-get install` puts
//! it in place (units that verify, `lqosd --version`, `man lqosd`, the bus group, nothing
//! enabled), an upgrade to a rebuilt package keeps a locally edited /etc/lqos.conf, `remove`
//! takes the programs away and keeps the configuration, `purge` leaves the machine as it was.

use anyhow::{ensure, Context, Result};
use lqos_e2e::{bin_dir, require_root, run_output, workspace_root, TestDir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Purges the package if the test stops half-way.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "lqos"]).output();
    }
}

fn sh(program: &str, args: &[&str]) -> Result<String> {
    let out = run_output(
        Command::new(program)
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        None,
    )?;
    ensure!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn build(dir: &TestDir, version: &str) -> Result<PathBuf> {
    let bins = bin_dir()?;
    let out = dir.join(version);
    sh(
        workspace_root()
            .join("scripts/package.sh")
            .to_str()
            .context("path")?,
        &[
            "--bin-dir",
            bins.to_str().context("path")?,
            "--version",
            version,
            "--out",
            out.to_str().context("path")?,
        ],
    )?;
    let deb = std::fs::read_dir(&out)?
        .next()
        .context("no .deb written")??
        .path();
    ensure!(
        deb.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&format!("lqos_{version}_"))),
        "{}",
        deb.display()
    );
    Ok(deb)
}

fn apt_install(deb: &Path) -> Result<()> {
    sh(
        "apt-get",
        &[
            "install",
            "-y",
            "--no-install-recommends",
            deb.to_str().context("path")?,
        ],
    )
    .map(drop)
}

fn group_exists() -> bool {
    Command::new("getent")
        .args(["group", "lqos"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_package_installs_upgrades_keeping_the_config_and_purges_cleanly() -> Result<()> {
    require_root();
    for path in [
        "/etc/lqos.conf",
        "/usr/bin/lqosd",
        "/var/lib/lqos",
        "/opt/lqos",
    ] {
        ensure!(
            !Path::new(path).exists(),
            "this test installs the lqos package on this machine and needs it free of lqos: \
             {path} exists (remove lqos first)"
        );
    }
    let group_before = group_exists();
    let dir = TestDir::new("package")?;
    let (v1, v2) = (build(&dir, "0.1.0~test1")?, build(&dir, "0.1.0~test2")?);

    let _installed = Installed;
    apt_install(&v1)?;
    sh(
        "systemd-analyze",
        &[
            "verify",
            "--man=no",
            "/lib/systemd/system/lqosd.service",
            "/lib/systemd/system/lqos_scheduler.service",
        ],
    )?;
    ensure!(
        sh("lqosd", &["--version"])?.contains("lqosd"),
        "lqosd --version"
    );
    let page = sh("man", &["-P", "cat", "lqosd"])?;
    ensure!(
        page.contains("lqosd") && page.contains("teardown"),
        "man lqosd:\n{page}"
    );
    ensure!(
        sh("man", &["-w", "lqos-scheduler-refresh"])?.contains("/usr/share/man/man8/")
            && sh("man", &["-w", "lqtop"])?.contains("/usr/share/man/man8/"),
        "subcommand pages and lqtop's installed"
    );
    ensure!(Path::new("/usr/bin/lqtop").exists(), "lqtop installed");
    ensure!(group_exists(), "the bus group lqos exists");
    for f in [
        "/opt/lqos/ShapedDevices.csv",
        "/opt/lqos/network.json",
        "/var/lib/lqos",
    ] {
        ensure!(Path::new(f).exists(), "{f} after install");
    }
    ensure!(
        !Path::new("/etc/systemd/system/multi-user.target.wants/lqosd.service").exists(),
        "nothing is enabled by the package"
    );

    let edited = format!(
        "{}\n# edited by the operator\n",
        std::fs::read_to_string("/etc/lqos.conf")?
    );
    std::fs::write("/etc/lqos.conf", &edited)?;
    apt_install(&v2)?;
    ensure!(
        sh("dpkg-query", &["-W", "-f=${Version}", "lqos"])? == "0.1.0~test2",
        "upgraded"
    );
    ensure!(
        std::fs::read_to_string("/etc/lqos.conf")? == edited,
        "the operator's /etc/lqos.conf is kept on upgrade"
    );

    sh("apt-get", &["remove", "-y", "lqos"])?;
    ensure!(
        !Path::new("/usr/bin/lqosd").exists(),
        "remove takes the programs"
    );
    ensure!(
        Path::new("/etc/lqos.conf").exists() && Path::new("/var/lib/lqos").exists(),
        "remove keeps configuration and state"
    );
    sh("apt-get", &["purge", "-y", "lqos"])?;
    for gone in [
        "/etc/lqos.conf",
        "/var/lib/lqos",
        "/opt/lqos",
        "/usr/share/doc/lqos",
    ] {
        ensure!(!Path::new(gone).exists(), "{gone} after purge");
    }
    ensure!(
        group_exists() == group_before,
        "the bus group is as it was before"
    );
    ensure!(
        !sh("dpkg-query", &["-W", "-f=${db:Status-Abbrev}", "lqos"])
            .unwrap_or_default()
            .starts_with("ii"),
        "the package is gone"
    );
    Ok(())
}
