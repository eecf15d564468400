//! lqosd: the only lqos process that touches the kernel. It attaches the eBPF data plane,
//! applies the plans lqos-scheduler submits over the bus (only the difference to what is
//! live), and keeps shaping across its own restarts.

pub mod apply;
pub mod bus_handler;
pub mod dataplane;
pub mod shaper;
pub mod state;
pub mod teardown;

use anyhow::Context;
use lqos_config::Config;
use std::future::Future;
use std::sync::Arc;
use tracing::info;

/// Runs lqosd until `shutdown` completes: attach, recover, serve the bus.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let startup = config.clone();
    let shaper = tokio::task::spawn_blocking(move || shaper::Shaper::start(&startup))
        .await
        .context("startup task")?
        .context("starting the data plane")?;
    let socket = &config.lqosd.bus_socket;
    let listener = lqos_bus::bind(socket).with_context(|| format!("binding the bus socket {}", socket.display()))?;
    info!(socket = %socket.display(), "lqosd ready");
    let handler = Arc::new(bus_handler::BusHandler::new(shaper));
    lqos_bus::serve(listener, handler, lqos_bus::Limits::default(), shutdown).await;
    info!("lqosd stopped; programs, maps and queues stay in place (lqosd teardown removes them)");
    Ok(())
}
