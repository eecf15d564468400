//! Keeping the bus socket reachable: a socket file deleted under a running lqosd (a cleanup
//! script, `rm -rf /run/lqos`, a tmpfiles rule) leaves it listening where nobody can connect.
//! lqosd checks the path every few seconds and, when its socket is gone or replaced by a dead
//! one, binds a new one at the same path, logs it and raises an urgent issue; connections on
//! the old socket finish normally.

use crate::bus_handler::BusHandler;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tracing::{error, warn};

/// How often the socket path is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// The socket file's identity (device, inode); `None` when nothing is there.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Serves the bus on `listener` (bound at `socket`) until `shutdown` completes, re-creating
/// the socket whenever its file disappears or is replaced.
pub async fn serve(
    socket: PathBuf,
    listener: UnixListener,
    handler: Arc<BusHandler>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut listener = Some(listener);
    let mut bound = identity(&socket);
    type Server = (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    );
    let mut current: Option<Server> = None;
    let mut retired = Vec::new();
    let mut told_failure = false;
    loop {
        if let Some(l) = listener.take() {
            // The previous socket's server (nobody can reach it any more) stops accepting and
            // lets its connections finish.
            if let Some((stop, task)) = current.take() {
                let _ = stop.send(());
                retired.push(task);
            }
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(lqos_bus::serve(
                l,
                handler.clone(),
                lqos_bus::Limits::default(),
                async move {
                    let _ = stopped.await;
                },
            ));
            current = Some((stop, task));
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
        let now = identity(&socket);
        if now.is_some() && now == bound {
            continue;
        }
        match lqos_bus::bind(&socket) {
            Ok(l) => {
                warn!(socket = %socket.display(), "the bus socket was deleted or replaced: re-created it");
                handler.shared.reports().raise(lqos_bus::UrgentIssue {
                    source: "lqosd".into(),
                    severity: lqos_bus::IssueSeverity::Warning,
                    code: "bus_socket_recreated".into(),
                    message: format!(
                        "the bus socket {} was deleted or replaced while lqosd ran; lqosd re-created it",
                        socket.display()
                    ),
                    context: "Something removed the socket file (a cleanup job or tmpfiles rule on its directory?). Clients could not reach lqosd until it was re-created.".into(),
                });
                bound = identity(&socket);
                listener = Some(l);
                told_failure = false;
            }
            Err(e) if !told_failure => {
                error!(socket = %socket.display(), error = %e, "the bus socket is gone and cannot be re-created; retrying");
                told_failure = true;
            }
            Err(_) => {}
        }
    }
    if let Some((stop, task)) = current {
        let _ = stop.send(());
        retired.push(task);
    }
    for task in retired {
        let _ = task.await;
    }
}
