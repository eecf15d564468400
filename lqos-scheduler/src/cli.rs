//! The command line of `lqos-scheduler`, as clap definitions (the binary parses it; the manual
//! pages and shell completions are generated from it by lqos-manpages).

use clap::{Parser, Subcommand};
use lqos_config::config::DEFAULT_CONFIG_PATH;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "Validates lqos inputs and plans the queues (lqosd applies the plan)"
)]
pub struct Cli {
    /// Path of lqos.conf.
    #[arg(long, env = "LQOS_CONFIG", default_value = DEFAULT_CONFIG_PATH, global = true)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check lqos.conf, ShapedDevices.csv, network.json and lqos_overrides.json; exit 1 on errors.
    Validate {
        /// Also show the planner's adjustments (scaled guarantees, promoted virtual nodes).
        #[arg(long)]
        debug: bool,
    },
    /// Rebuild the queue plan from the inputs (one shot).
    Refresh(RefreshArgs),
    /// The service: refresh now, every queue_refresh_interval_mins and after manual edits.
    Run,
    /// CRM/NMS integrations.
    Integration {
        #[command(subcommand)]
        action: IntegrationCommand,
    },
}

#[derive(Subcommand)]
pub enum IntegrationCommand {
    /// Connect with the configured credentials, fetch, map and print what would be imported
    /// (counts, the first rows, every skipped record with its reason); writes nothing.
    Test {
        /// uisp, splynx, netzur, visp, powercode, sonar or wispgate.
        name: String,
        /// Rows of ShapedDevices.csv shown.
        #[arg(long, default_value_t = 10)]
        rows: usize,
    },
}

#[derive(clap::Args, Debug, Default)]
pub struct RefreshArgs {
    /// Print the plan (tc -batch text, then the IP mappings) instead of applying it.
    #[arg(long)]
    pub dry_run: bool,
    /// Show every adjustment the planner made and per-phase timings.
    #[arg(long)]
    pub debug: bool,
    /// Re-bin all top-level nodes over the queues (class ids of moved nodes change).
    #[arg(long)]
    pub rebalance: bool,
    /// On a fleet box ([fleet] in lqos.conf): plan this box's share from the local input
    /// files and apply it without etcd (when etcd is down). The next fleet publication
    /// replaces it.
    #[arg(long)]
    pub local: bool,
    /// Fleet service internal: validate the inputs (after the integrations) and write them
    /// as a snapshot to this file instead of planning.
    #[arg(long, hide = true, value_name = "FILE")]
    pub publish_to: Option<PathBuf>,
    /// Fleet service internal: plan from the published inputs in this directory.
    #[arg(long, hide = true, value_name = "DIR", requires_all = ["fence", "share"])]
    pub from_snapshot: Option<PathBuf>,
    /// Fleet service internal: the publication's fence, `TOKEN:GENERATION`.
    #[arg(long, hide = true, value_name = "TOKEN:GENERATION")]
    pub fence: Option<String>,
    /// Fleet service internal: the share to plan, comma-separated top-level nodes.
    #[arg(long, hide = true, value_name = "NODES")]
    pub share: Option<String>,
    /// Run every enabled integration now, even those not due yet.
    #[arg(long)]
    pub import_now: bool,
}
