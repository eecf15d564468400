//! `lqos`: what an operator asks lqosd while debugging, over its bus.
//!
//! ```text
//! lqos [--config PATH | --socket PATH] status      # the shaper, the scheduler (and the fleet)
//! lqos ... issues                                   # urgent issues, newest first
//! lqos ... ack ID                                   # mark an issue as seen
//! lqos ... lookup IP                                # which circuit and classes an address lands in
//! lqos ... top [-n N] [--circuit ID]               # live throughput, busiest hosts and circuits
//! lqos ... circuit ID [--json]                     # a circuit's plan, rate, RTT, retransmits, queues
//! lqos ... flows [--circuit ID] [-n N] [--json]     # active flows, busiest first
//! lqos ... support [--out FILE] [--with-subscriber-data]   # a bundle for a bug report
//! ```

mod show;
mod support;
mod telemetry;

use anyhow::{bail, Context};
use clap::Parser;
use lqos_bus::{Client, Request, Response};
use lqos_cli::cli::{Cli, Command};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        // The reader went away (`lqos status | head -3`): nothing left to say, not a failure.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lqos: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Support(args) = &cli.command {
        let path = support::run(&cli.config, cli.socket.clone(), args)?;
        println!("wrote {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let socket = lqos_config::Config::bus_socket(&cli.config, cli.socket)
        .with_context(|| format!("reading {} (or pass --socket)", cli.config.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ask = |request: Request| -> anyhow::Result<Response> {
        runtime
            .block_on(async {
                let mut c = Client::connect(&socket, Duration::from_secs(3)).await?;
                c.request(&request).await
            })
            .map_err(|e| match e {
                // Not a question of lqosd running: say only what to do.
                lqos_bus::BusError::PermissionDenied { .. } => anyhow::anyhow!("{}", e.chain()),
                _ => anyhow::anyhow!(
                    "lqosd at {} does not answer (is it running?): {}",
                    socket.display(),
                    e.chain()
                ),
            })
    };
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Status => {
            let shaper = ask(Request::Status)?;
            let scheduler = ask(Request::SchedulerStatus)?;
            match (shaper, scheduler) {
                (Response::Status(s), Response::Scheduler(r)) => show::status(out, &s, r.as_ref())?,
                other => bail!("unexpected answer: {other:?}"),
            }
            // A fleet box: what its scheduler last saw in etcd (lqos itself talks to no etcd).
            if let Ok((config, _)) = lqos_config::Config::load(&cli.config) {
                if config.fleet.is_some() {
                    let view =
                        lqos_config::fleet_status::FleetStatus::read(&config.state_directory);
                    show::fleet(out, view.as_ref(), now_ms())?;
                }
            }
        }
        Command::Issues => match ask(Request::ListIssues)? {
            Response::Issues(list) => show::issues(out, &list)?,
            other => bail!("unexpected answer: {other:?}"),
        },
        Command::Ack { id } => match ask(Request::AckIssue { id })? {
            Response::Ack => println!("issue {id} acknowledged"),
            Response::Error { message } => bail!("{message}"),
            other => bail!("unexpected answer: {other:?}"),
        },
        Command::Top {
            circuit: Some(circuit_id),
            ..
        } => match ask(Request::CircuitRate {
            circuit_id: circuit_id.clone(),
        })? {
            Response::CircuitRate(Some(r)) => show::circuit(out, &r)?,
            Response::CircuitRate(None) => bail!("no circuit {circuit_id} in the live plan"),
            other => bail!("unexpected answer: {other:?}"),
        },
        Command::Top {
            count,
            circuit: None,
        } => match ask(Request::Throughput { top: count })? {
            Response::Throughput(t) => show::throughput(out, &t)?,
            other => bail!("unexpected answer: {other:?}"),
        },
        Command::Lookup { addr } => match ask(Request::LookupIp { addr })? {
            Response::IpLookup(Some(l)) => show::lookup(out, addr, &l)?,
            Response::IpLookup(None) => {
                println!("{addr} is not in the live plan: it passes unshaped");
                return Ok(ExitCode::from(3));
            }
            other => bail!("unexpected answer: {other:?}"),
        },
        Command::Circuit { id, json } => match ask(Request::Circuit {
            circuit_id: id.clone(),
        })? {
            Response::Circuit(Some(r)) if json => {
                serde_json::to_writer_pretty(&mut *out, &telemetry::circuit_json(&r)?)?;
                writeln!(out)?;
            }
            Response::Circuit(Some(r)) => telemetry::circuit(out, &r)?,
            Response::Circuit(None) => bail!("no circuit {id} in the live plan"),
            other => bail!("unexpected answer: {other:?}"),
        },
        Command::Flows {
            circuit,
            limit,
            json,
        } => match ask(Request::Flows {
            circuit_id: circuit,
            limit,
        })? {
            Response::Flows(r) if json => {
                serde_json::to_writer_pretty(&mut *out, &r.flows)?;
                writeln!(out)?;
            }
            Response::Flows(r) => telemetry::flows(out, &r)?,
            Response::Error { message } => bail!("{message}"),
            other => bail!("unexpected answer: {other:?}"),
        },
        Command::Support(_) => bail!("lqos support was handled above"),
    }
    Ok(ExitCode::SUCCESS)
}
