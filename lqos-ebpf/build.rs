//! Compiles the C eBPF programs in `src/bpf/` with clang into `$OUT_DIR/<name>.o`.
//!
//! The Rust toolchain has no BPF target here, so the kernel side is C. One clang invocation
//! per source; every `.c` and `.h` is a rerun trigger. A missing clang or missing libbpf
//! headers fail with the command that fixes it.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context as _, Result};

/// The programs: each becomes `$OUT_DIR/<stem>.o` (`lqos.bpf.c` -> `lqos.bpf.o`).
/// `lqos_floor.bpf.c` is only the baseline of `benches/per_packet.rs`.
const SOURCES: &[&str] = &["lqos.bpf.c", "lqos_floor.bpf.c", "lqos_test_switch.bpf.c"];
const INSTALL_HINT: &str = "install clang and libbpf-dev: apt-get install clang libbpf-dev";

fn main() -> Result<()> {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    let bpf_dir = manifest_dir.join("src/bpf");
    let include_dir = manifest_dir.join("include");

    println!("cargo:rerun-if-env-changed=LQOS_CLANG");
    println!("cargo:rerun-if-env-changed=LQOS_BPF_SYSROOT_INCLUDE");
    for dir in [&bpf_dir, &include_dir] {
        // The directories themselves, so that an added file triggers a rebuild too.
        println!("cargo:rerun-if-changed={}", dir.display());
        for file in c_files(dir)? {
            println!("cargo:rerun-if-changed={}", file.display());
        }
    }

    let clang = env::var("LQOS_CLANG").unwrap_or_else(|_| "clang".to_owned());
    check_clang(&clang)?;
    let sysroot_include =
        env::var("LQOS_BPF_SYSROOT_INCLUDE").unwrap_or_else(|_| "/usr/include".to_owned());
    let helpers = Path::new(&sysroot_include).join("bpf/bpf_helpers.h");
    if !helpers.is_file() {
        bail!(
            "libbpf headers not found ({} is missing): {INSTALL_HINT}",
            helpers.display()
        );
    }
    // <linux/types.h> includes <asm/types.h>, which Debian keeps in the multiarch directory.
    let multiarch = Path::new(&sysroot_include).join(multiarch_triple()?);

    for source in SOURCES {
        let src = bpf_dir.join(source);
        let dst = out_dir.join(Path::new(source).with_extension("o"));
        let mut cmd = Command::new(&clang);
        cmd.args(["-target", "bpf", "-mcpu=v3", "-O2", "-g", "-Wall", "-c"])
            .arg("-I")
            .arg(&include_dir)
            .arg("-I")
            .arg(&multiarch)
            .arg(&src)
            .arg("-o")
            .arg(&dst);
        let output = cmd
            .output()
            .with_context(|| format!("running {cmd:?} ({INSTALL_HINT})"))?;
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            println!("cargo:warning={line}");
        }
        if !output.status.success() {
            bail!("{cmd:?} failed with {}", output.status);
        }
    }
    Ok(())
}

/// Every `.c` and `.h` file directly in `dir`.
fn c_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "h")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn check_clang(clang: &str) -> Result<()> {
    let status = Command::new(clang)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run `{clang}`: {INSTALL_HINT}"))?
        .status;
    if !status.success() {
        bail!("`{clang} --version` failed ({status}): {INSTALL_HINT}");
    }
    Ok(())
}

/// The Debian multiarch triple of the host (`x86_64-linux-gnu`): `gcc -dumpmachine`, else
/// derived from the target Cargo builds for (the programs run on this machine's kernel).
fn multiarch_triple() -> Result<String> {
    if let Ok(output) = Command::new("gcc").arg("-dumpmachine").output() {
        let triple = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if output.status.success() && !triple.is_empty() {
            return Ok(triple);
        }
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").context("CARGO_CFG_TARGET_ARCH not set")?;
    let env_abi = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_else(|_| "gnu".to_owned());
    Ok(format!("{arch}-linux-{env_abi}"))
}
