//! The command line of `lqosd`, as clap definitions (the binary parses it; the manual pages and
//! shell completions are generated from it by lqos-manpages).

use clap::{Parser, Subcommand};
use lqos_config::config::DEFAULT_CONFIG_PATH;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "The lqos daemon: attaches the data plane and applies queue plans"
)]
pub struct Cli {
    /// Path of lqos.conf.
    #[arg(long, env = "LQOS_CONFIG", default_value = DEFAULT_CONFIG_PATH, global = true)]
    pub config: PathBuf,
    /// On SIGTERM/SIGINT, also remove everything from the kernel (as `lqosd teardown`). By
    /// default shaping goes on while lqosd is stopped or restarting.
    #[arg(long)]
    pub detach_on_exit: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Remove the programs, pinned maps and queues lqosd put in the kernel (lqosd must be stopped).
    Teardown,
    /// Manage the WebUI's users (state_directory/webusers.toml).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from stdin (asked twice, hidden, on a terminal).
    Add {
        name: String,
        /// admin (may change things) or read-only.
        #[arg(long, default_value = "admin")]
        role: crate::web::users::Role,
    },
    /// Remove a user (their sessions end at their next request).
    Remove { name: String },
    /// List the users and their roles.
    List,
}
