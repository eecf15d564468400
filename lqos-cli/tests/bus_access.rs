//! The `lqos` CLI run as another user: refused with a message that says what to do, and let
//! in once the user is a member of the bus socket's group. Needs root (to bind for another
//! group and to run the CLI as `nobody` through `setpriv`); fails loudly otherwise.

use lqos_bus::{Handler, Limits, Request, Response};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

/// A group id for the test's socket that `nobody` (primary group `nogroup`) is not in.
const TEST_GID: u32 = 54_322;

struct NoIssues;

impl Handler for NoIssues {
    async fn handle(&self, request: Request) -> Response {
        match request {
            Request::ListIssues => Response::Issues(Vec::new()),
            _ => Response::Error {
                message: "only issues here".into(),
            },
        }
    }
}

/// Serves [`NoIssues`] on `listener` until the sender is used.
fn serve(
    listener: tokio::net::UnixListener,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lqos_bus::serve(
        listener,
        Arc::new(NoIssues),
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    (stop, server)
}

/// `lqos --socket SOCKET issues` as uid/gid nobody, with `group` as its only supplementary
/// group (none when `None`).
fn lqos_as_nobody(lqos: &Path, socket: &Path, group: Option<u32>) -> Output {
    Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup"])
        .arg(match group {
            None => "--clear-groups".to_owned(),
            Some(g) => format!("--groups={g}"),
        })
        .arg(lqos)
        .arg("--socket")
        .arg(socket)
        .arg("issues")
        .output()
        .expect("setpriv (util-linux) runs")
}

#[tokio::test]
async fn another_user_is_refused_clearly_and_a_group_member_is_served() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (it runs the CLI as nobody): run it as root"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A copy nobody may run, wherever the build directory is.
    let lqos = dir.path().join("lqos");
    std::fs::copy(env!("CARGO_BIN_EXE_lqos"), &lqos).unwrap();
    std::fs::set_permissions(&lqos, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("bus");
    let listener = lqos_bus::bind_with_group(&socket, Some(TEST_GID)).unwrap();
    let (stop, server) = serve(listener);

    let run = |group| {
        let (l, s) = (lqos.clone(), socket.clone());
        tokio::task::spawn_blocking(move || lqos_as_nobody(&l, &s, group))
    };
    let refused = run(None).await.unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "refused: {err}");
    assert!(
        err.contains("not allowed to use lqosd's bus")
            && err.contains("run as root or as a member of the socket's group (lqos")
            && err.contains("Permission denied")
            && !err.contains("is it running"),
        "{err}"
    );

    let member = run(Some(TEST_GID)).await.unwrap();
    assert!(
        member.status.success(),
        "a member is served: {}",
        String::from_utf8_lossy(&member.stderr)
    );
    let _ = stop.send(());
    server.await.unwrap();
}

#[tokio::test]
async fn a_reader_that_goes_away_is_not_a_failure() {
    // `lqos status | head -3`: once head has its lines, the next write gets EPIPE.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("bus");
    let listener = lqos_bus::bind_with_group(&socket, None).unwrap();
    let (stop, server) = serve(listener);
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just opened and are owned here only.
    let (read_end, write_end) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    drop(read_end);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_lqos"))
            .arg("--socket")
            .arg(&socket)
            .arg("issues")
            .stdout(write_end)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = stop.send(());
    server.await.unwrap();
}
