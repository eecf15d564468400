//! `lqos-scheduler`: the one-shot refresh and validation CLI (see `--help`).

use clap::Parser;
use lqos_scheduler::cli::{Cli, Command, IntegrationCommand};
mod commands;
mod fleet_jobs;

use std::process::ExitCode;

fn run_service(config_path: &std::path::Path) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let (config, notes) = lqos_config::Config::load(config_path)
        .with_context(|| format!("loading {}", config_path.display()))?;
    for n in notes.iter() {
        tracing::warn!("{n}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(lqos_scheduler::service::run(config_path, config))?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { debug } => commands::validate(&cli.config, debug),
        Command::Refresh(args) => commands::refresh(&cli.config, &args),
        Command::Run => run_service(&cli.config),
        Command::Integration {
            action: IntegrationCommand::Test { name, rows },
        } => commands::integration_test(&cli.config, &name, rows),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lqos-scheduler: {e:#}");
            ExitCode::FAILURE
        }
    }
}
