//! The command line of `lqtop`, as clap definitions (the binary parses it; manual pages and
//! shell completions can be generated from it).

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "lqtop",
    version,
    about = "Live view of lqosd: totals, busiest circuits and hosts, CPU queues, scheduler, urgent issues"
)]
pub struct Cli {
    /// lqos.conf, to find the bus socket ([lqosd] bus_socket).
    #[arg(long, env = "LQOS_CONFIG", default_value = lqos_config::config::DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// The bus socket itself (instead of reading lqos.conf).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Start in privacy mode: addresses, circuit ids and issue texts masked (key p toggles).
    #[arg(long)]
    pub privacy: bool,
    /// How many of the busiest circuits and hosts to fetch each way (the filter searches these).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top: u16,
}
