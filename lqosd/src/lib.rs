//! lqosd: the only lqos process that touches the kernel. It attaches the eBPF data plane,
//! applies the plans lqos-scheduler submits over the bus (only the difference to what is
//! live), and keeps shaping across its own restarts.

pub mod apply;
pub mod bus_handler;
pub mod bus_socket;
pub mod circuit_index;
pub mod cli;
pub mod dataplane;
pub mod fence;
pub mod lazy;
pub mod plan_check;
pub mod prefix_index;
pub mod queue_layout;
pub mod reports;
pub mod shaper;
pub mod shared;
pub mod state;
pub mod teardown;
pub mod telemetry;
pub mod throughput;
pub mod web;

use anyhow::Context;
use lqos_config::Config;
use std::future::Future;
use std::sync::Arc;
use tracing::info;

/// Longest an apply may run before the watchdog stops being fed (a full build of 100k
/// circuits takes minutes on small machines; a hung `tc` should not hang lqosd forever).
const MAX_APPLY: std::time::Duration = std::time::Duration::from_secs(45 * 60);

/// Tells systemd (nothing outside systemd).
pub(crate) fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Feeds systemd's watchdog at half its period, but only while lqosd's main loop works: its
/// own bus answers a ping (accept loop, connection tasks and runtime alive) and no apply has
/// been running for more than [`MAX_APPLY`].
async fn watchdog(
    handler: Arc<bus_handler::BusHandler>,
    socket: std::path::PathBuf,
    period: std::time::Duration,
) {
    let mut tick = tokio::time::interval(period / 2);
    let wait = (period / 4).max(std::time::Duration::from_millis(100));
    loop {
        tick.tick().await;
        let pong = async {
            let mut c = lqos_bus::Client::connect(&socket, wait).await?;
            c.request_with_timeout(&lqos_bus::Request::Ping, wait).await
        };
        match (pong.await, handler.applying_for()) {
            (_, Some(t)) if t > MAX_APPLY => {
                tracing::error!(running = ?t, "an apply is stuck: no longer feeding the watchdog")
            }
            (Ok(lqos_bus::Response::Pong { .. }), _) => notify(&[sd_notify::NotifyState::Watchdog]),
            (other, _) => {
                tracing::error!(answer = ?other.map_err(|e| e.chain()), "the bus does not answer its own ping: no longer feeding the watchdog")
            }
        }
    }
}

/// Runs lqosd until `shutdown` completes: attach, recover, serve the bus.
pub async fn run(
    config: Config,
    config_path: std::path::PathBuf,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // One lqosd per configuration: a second one must not touch the kernel at all.
    let _lock = state::StateDir::new(&config.state_directory).lock()?;
    let startup = config.clone();
    let shaper = tokio::task::spawn_blocking(move || shaper::Shaper::start(&startup))
        .await
        .context("startup task")?
        .context("starting the data plane")?;
    let socket = &config.lqosd.bus_socket;
    let listener = lqos_bus::bind(socket)
        .with_context(|| format!("binding the bus socket {}", socket.display()))?;
    info!(socket = %socket.display(), "lqosd ready");
    let hub = Arc::new(
        telemetry::TelemetryHub::new(config.flows.clone(), shaper.circuit_index())
            .context("[flows]")?,
    );
    // The ASN and country tables, once (a missing or corrupt file is a warning: unknown).
    let geo_config = config.geo.clone();
    let geo = tokio::task::spawn_blocking(move || {
        lqos_telemetry::geo::GeoTables::load_or_empty(
            &geo_config.asn_file,
            &geo_config.country_file,
        )
    })
    .await
    .context("loading the geo tables")?;
    info!(tables = ?geo.stats(), "geo tables loaded");
    hub.set_geo(Arc::new(geo));
    let handler = Arc::new(bus_handler::BusHandler::new(
        shaper,
        &config.state_directory,
        hub.clone(),
    ));
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&handler.status_line()),
    ]);
    let lazy = handler.lazy_threshold();
    tokio::spawn(throughput::run(
        config.lqosd.bpf_pin_dir.clone(),
        handler.shared.clone(),
        throughput::interval(lazy.is_some()),
    ));
    if config.flows.enabled {
        telemetry::flow_reader::spawn(config.lqosd.bpf_pin_dir.clone(), hub.clone())
            .context("starting the flow reader")?;
        telemetry::queues::spawn(hub.clone()).context("starting the queue reader")?;
    } else {
        info!("[flows] enabled = false: no flow, RTT or queue telemetry is read");
    }
    if let Some(threshold) = lazy {
        tokio::spawn(handler.clone().drive_lazy_queues(threshold));
    }
    if let Some(period) = sd_notify::watchdog_enabled() {
        tokio::spawn(watchdog(handler.clone(), socket.clone(), period));
    }
    // One shutdown for the bus and the WebUI.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if config.webserver_listen.trim().is_empty() {
        info!("webserver_listen is empty: no WebUI");
    } else {
        let listen = config.webserver_listen.clone();
        let (shared, web_config) = (handler.shared.clone(), config.clone());
        let mut stop = stop_rx.clone();
        let web = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        // A WebUI that cannot start (port taken) is reported; shaping goes on without it.
        tokio::spawn(async move {
            // Reading the inputs takes a while for 100k circuits: off the runtime's threads.
            let state = match tokio::task::spawn_blocking(move || {
                web::WebState::new(shared, web_config, config_path)
            })
            .await
            {
                Ok(s) => s,
                Err(e) => return tracing::error!(error = %e, "the WebUI is not available"),
            };
            if let Err(e) = web::serve(state, &listen, web).await {
                tracing::error!(error = format!("{e:#}"), "the WebUI is not available");
            }
        });
    }
    let bus_stop = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    bus_socket::serve(socket.clone(), listener, handler, bus_stop).await;
    notify(&[sd_notify::NotifyState::Stopping]);
    info!("lqosd stopped; programs, maps and queues stay in place (lqosd teardown removes them)");
    Ok(())
}
