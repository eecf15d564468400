//! `lqtop`: a live terminal view of lqosd over its bus. Once a second it asks lqosd for the
//! throughput, the CPU queues' load, the status, the scheduler's report and the urgent issues
//! (and one circuit's rate in the detail view); between polls it blocks on key events, and it
//! redraws only when new data or a key arrived, so it costs next to no CPU.

use anyhow::{bail, Context};
use clap::Parser;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use lqos_bus::{Client, Request, Response};
use lqtop::app::{App, Key, Snapshot};
use lqtop::cli::Cli;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often lqosd is asked (its counters are sampled once a second too).
const INTERVAL: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lqtop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Restores the terminal when dropped: on quit and on error. (`ratatui::try_init` installs a
/// panic hook that restores it on a panic.)
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let socket = lqos_config::Config::bus_socket(&cli.config, cli.socket)
        .with_context(|| format!("reading {} (or pass --socket)", cli.config.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut bus = Bus {
        socket,
        client: None,
        top: cli.top,
    };
    let mut app = App::new(cli.privacy);
    // Before init: a half-done init (raw mode on, no alternate screen) is undone too.
    let _guard = TerminalGuard;
    let mut terminal = ratatui::try_init().context("lqtop needs a terminal")?;
    let mut next_poll = Instant::now();
    let mut dirty = true;
    loop {
        if Instant::now() >= next_poll {
            match runtime.block_on(bus.poll(app.detail_circuit())) {
                Ok(s) => app.update(s),
                Err(e) => app.failed(format!("{e:#}")),
            }
            next_poll = Instant::now() + INTERVAL;
            dirty = true;
        }
        if dirty {
            terminal.draw(|f| lqtop::ui::draw(f, &app))?;
            dirty = false;
        }
        if app.quit {
            return Ok(());
        }
        // Block until a key or the next poll is due: no busy loop.
        if !event::poll(next_poll.saturating_duration_since(Instant::now()))? {
            continue;
        }
        match event::read()? {
            Event::Key(k) if k.kind == KeyEventKind::Press => {
                if let Some(key) = map_key(k) {
                    let detail = app.detail.clone();
                    dirty |= app.key(key);
                    if app.detail.is_some() && app.detail != detail {
                        // Show the circuit's rate now rather than within a second.
                        next_poll = Instant::now();
                    }
                }
            }
            Event::Resize(..) => dirty = true,
            _ => {}
        }
    }
}

fn map_key(k: KeyEvent) -> Option<Key> {
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Interrupt,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Tab => Key::Tab,
        _ => return None,
    })
}

/// lqosd's bus, connected on demand (and again after lqosd restarts).
struct Bus {
    socket: PathBuf,
    client: Option<Client>,
    top: u16,
}

impl Bus {
    async fn poll(&mut self, detail: Option<&str>) -> anyhow::Result<Snapshot> {
        let result = self.ask_all(detail).await;
        if result.is_err() {
            self.client = None;
        }
        result
    }

    async fn ask_all(&mut self, detail: Option<&str>) -> anyhow::Result<Snapshot> {
        let mut s = Snapshot::default();
        match self.ask(Request::Throughput { top: self.top }).await? {
            Response::Throughput(t) => s.throughput = t,
            other => bail!("unexpected answer to throughput: {other:?}"),
        }
        // An lqosd older than lqtop answers Error: the queues are left out.
        if let Response::QueueLoad(q) = self.ask(Request::QueueLoad).await? {
            s.queues = Some(q);
        }
        if let Response::Status(st) = self.ask(Request::Status).await? {
            s.status = Some(st);
        }
        if let Response::Scheduler(r) = self.ask(Request::SchedulerStatus).await? {
            s.scheduler = r;
        }
        if let Response::Issues(list) = self.ask(Request::ListIssues).await? {
            s.issues = list;
        }
        if let Some(id) = detail {
            let request = Request::CircuitRate {
                circuit_id: id.to_owned(),
            };
            if let Response::CircuitRate(r) = self.ask(request).await? {
                s.detail = r;
            }
        }
        Ok(s)
    }

    async fn ask(&mut self, request: Request) -> anyhow::Result<Response> {
        let client = match &mut self.client {
            Some(c) => c,
            None => self.client.insert(connect(&self.socket).await?),
        };
        Ok(client.request(&request).await?)
    }
}

async fn connect(socket: &Path) -> anyhow::Result<Client> {
    Client::connect(socket, CONNECT_TIMEOUT)
        .await
        .with_context(|| format!("lqosd at {} does not answer", socket.display()))
}
