//! `lqos-gen --circuits N [--seed S] --out DIR`: writes ShapedDevices.csv and network.json.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

/// Generate realistic, deterministic LibreQoS-format inputs.
#[derive(Parser, Debug)]
#[command(name = "lqos-gen", version)]
struct Args {
    /// Number of circuits to generate.
    #[arg(long)]
    circuits: usize,
    /// Random seed; the same seed and count give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory to write ShapedDevices.csv and network.json into (created if missing).
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.circuits <= lqos_gen::MAX_CIRCUITS,
        "--circuits must be at most {}",
        lqos_gen::MAX_CIRCUITS
    );
    let spec = lqos_gen::GenSpec {
        circuits: args.circuits,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let g = lqos_gen::write_to_dir(&spec, &args.out)
        .with_context(|| format!("writing to {}", args.out.display()))?;
    let nodes = g.network_json.matches("\"downloadBandwidthMbps\"").count();
    println!(
        "lqos-gen: {} circuits, {} devices, {} nodes (seed {}) -> {} in {} ms",
        g.circuits,
        g.devices,
        nodes,
        spec.seed,
        args.out.display(),
        started.elapsed().as_millis()
    );
    Ok(())
}
