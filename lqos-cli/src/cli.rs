//! The command line of `lqos`, as clap definitions (the binary parses it; the manual pages and
//! shell completions are generated from it by lqos-manpages).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "lqos",
    version,
    about = "Ask lqosd: status, urgent issues, IP look-ups"
)]
pub struct Cli {
    /// lqos.conf, to find the bus socket ([lqosd] bus_socket).
    #[arg(long, env = "LQOS_CONFIG", default_value = lqos_config::config::DEFAULT_CONFIG_PATH, global = true)]
    pub config: PathBuf,
    /// The bus socket itself (instead of reading lqos.conf).
    #[arg(long, global = true)]
    pub socket: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// The live plan, the queues, the scheduler's last report.
    Status,
    /// Urgent issues, newest first.
    Issues,
    /// Acknowledge an urgent issue.
    Ack { id: u64 },
    /// Which circuit and HTB classes an address lands in.
    Lookup { addr: std::net::IpAddr },
    /// Live throughput: totals and the busiest hosts and circuits each way.
    Top {
        /// How many hosts and circuits to show each way.
        #[arg(short = 'n', long, default_value_t = 10)]
        count: u16,
        /// Only this circuit's rate.
        #[arg(long)]
        circuit: Option<String>,
    },
    /// A circuit's plan, live rate and telemetry: RTT per side, retransmits, QoO, queue
    /// statistics, its busiest flows.
    Circuit {
        id: String,
        /// One JSON object (members rtt, retransmits, flows, qoo, top_flows, queue, plan, rate).
        #[arg(long)]
        json: bool,
    },
    /// Active flows, busiest first: remote end, protocol, rates, bytes, RTT, retransmits.
    Flows {
        /// Only this circuit's flows.
        #[arg(long)]
        circuit: Option<String>,
        /// At most this many.
        #[arg(short = 'n', long, default_value_t = 50)]
        limit: u32,
        /// A JSON array of flows.
        #[arg(long)]
        json: bool,
    },
    /// Write a support bundle (.tar.gz) for a bug report: versions, kernel and NIC facts,
    /// lqos.conf without its secrets, validation, tc and eBPF state, the last hour of logs,
    /// urgent issues. Nothing that identifies subscribers unless --with-subscriber-data.
    Support(SupportArgs),
}

#[derive(clap::Args, Debug)]
pub struct SupportArgs {
    /// Where to write the bundle (default: lqos-support-<node>-<unix time>.tar.gz here).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Include what identifies subscribers: the input files, and logs, diagnostics and urgent
    /// issues as they are.
    #[arg(long)]
    pub with_subscriber_data: bool,
}
