//! `lqosd [--config PATH]`: the lqos daemon (foreground; logs to stderr). `lqosd teardown`
//! removes everything it put in the kernel; `lqosd user add|remove|list` manages the WebUI's
//! users.

use anyhow::Context;
use clap::Parser;
use lqos_config::Config;
use lqosd::cli::{Cli, Command, UserCommand};
use std::process::ExitCode;
use tracing::{info, warn};

fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").context("reading the password")?;
        let again = rpassword::prompt_password("again: ").context("reading the password")?;
        anyhow::ensure!(first == again, "the passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn user_command(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    use lqosd::web::users;
    let path = config.web_users_path();
    match command {
        UserCommand::Add { name, role } => {
            users::add(&path, &name, &read_password()?, role)?;
            println!("added {name} ({role:?}) to {}", path.display());
            // A user exists: the WebUI's first-run setup token has no use left.
            let token = lqosd::web::setup_token::path(&config.state_directory);
            if lqosd::web::setup_token::remove(&token)? {
                println!(
                    "removed the WebUI's first-run setup token {}",
                    token.display()
                );
            }
        }
        UserCommand::Remove { name } => {
            users::remove(&path, &name)?;
            println!("removed {name} from {}", path.display());
        }
        UserCommand::List => {
            for u in users::read(&path)? {
                let role = match u.role {
                    users::Role::Admin => "admin",
                    users::Role::ReadOnly => "read-only",
                };
                println!("{}\t{role}", u.username);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lqosd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (config, notes) =
        Config::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    for n in notes.iter() {
        warn!("{n}");
    }
    if let Some(Command::User(command)) = cli.command {
        return user_command(&config, command);
    }
    if let Some(Command::Teardown) = cli.command {
        if std::os::unix::net::UnixStream::connect(&config.lqosd.bus_socket).is_ok() {
            anyhow::bail!(
                "lqosd is running (its bus {} answers): stop it first",
                config.lqosd.bus_socket.display()
            );
        }
        for line in lqosd::teardown::teardown(&config) {
            println!("{line}");
        }
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let detach = cli.detach_on_exit;
    runtime.block_on(lqosd::run(
        config.clone(),
        cli.config.clone(),
        shutdown_signal(),
    ))?;
    if detach {
        info!("--detach-on-exit: removing everything from the kernel");
        for line in lqosd::teardown::teardown(&config) {
            info!("{line}");
        }
    }
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        warn!("cannot install signal handlers; stop lqosd with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: stopping"),
        _ = int.recv() => info!("SIGINT: stopping"),
    }
}
