//! Creating the listening socket: parent directory, stale sockets, permissions, group.

use std::fs::{self, DirBuilder, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::UnixListener;
use tracing::{debug, info, warn};

/// Where lqosd listens unless configured otherwise.
pub const DEFAULT_SOCKET_PATH: &str = "/run/lqos/bus";

/// Mode of the socket file: owner and group may connect, nobody else (connecting to a Unix
/// socket needs write permission on it). Never world-writable.
pub const SOCKET_MODE: u32 = 0o660;

/// The group [`bind`] gives the socket when the group exists, so that its members (operators
/// who are not root) may use the bus; `scripts/install.sh` creates it.
pub const SOCKET_GROUP: &str = "lqos";

/// Mode of a parent directory that [`bind`] creates: traversable by the group that may use
/// the socket, writable by the owner only.
const PARENT_MODE: u32 = 0o755;

/// Binds the bus socket at `path`; call it from within a Tokio runtime.
///
/// - Creates the parent directory (mode 0755) if it is missing.
/// - If something exists at `path`: refuses anything that is not a socket; connects to a
///   socket first and refuses ([`io::ErrorKind::AddrInUse`]) when a process still listens on
///   it; replaces it when nobody does (the leftover of a crashed lqosd).
/// - Binds inside a private (0700) directory next to `path`, sets [`SOCKET_MODE`], then
///   renames the socket into place, so nobody can connect before the mode is right whatever
///   the umask. (The listener's `local_addr()` therefore names that temporary path.)
///
/// - Gives the socket to group [`SOCKET_GROUP`] when that group exists (otherwise it keeps
///   the owner's group, so only root may connect); see [`bind_with_group`].
///
/// The socket file is left behind on exit; the next `bind` replaces it.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    let gid = match group_id(SOCKET_GROUP) {
        Ok(Some(gid)) => Some(gid),
        Ok(None) => {
            info!(
                group = SOCKET_GROUP,
                "no such group: only root may use the bus (scripts/install.sh creates the group)"
            );
            None
        }
        Err(e) => {
            warn!(group = SOCKET_GROUP, error = %e, "cannot look the group up: only root may use the bus");
            None
        }
    };
    bind_with_group(path, gid)
}

/// [`bind`], giving the socket to group `gid` (`None`: the owner's group). A socket that
/// cannot be given to the group (lqosd without `CAP_CHOWN` and not a member) is kept with the
/// owner's group, and that is logged: the bus works for root only.
pub fn bind_with_group(path: &Path, gid: Option<u32>) -> io::Result<UnixListener> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a socket file", path.display()),
        )
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        DirBuilder::new()
            .recursive(true)
            .mode(PARENT_MODE)
            .create(parent)
            .map_err(|e| context(e, format!("cannot create {}", parent.display())))?;
    }
    let stale = check_existing(path)?;

    static ATTEMPT: AtomicU64 = AtomicU64::new(0);
    let private = parent.join(format!(
        ".{}.bind-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        ATTEMPT.fetch_add(1, Ordering::Relaxed)
    ));
    DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| context(e, format!("cannot create {}", private.display())))?;
    let bound = bind_privately(&private.join("bus"), path, gid);
    if let Err(e) = fs::remove_dir(&private) {
        debug!(dir = %private.display(), error = %e, "cannot remove the temporary bind directory");
    }
    let listener = bound?;
    if stale {
        info!(path = %path.display(), "replaced a stale bus socket nobody listened on");
    }
    Ok(listener)
}

/// Binds at `temporary`, sets the mode and the group, and moves the socket to `path`.
fn bind_privately(temporary: &Path, path: &Path, gid: Option<u32>) -> io::Result<UnixListener> {
    let listener = UnixListener::bind(temporary)
        .map_err(|e| context(e, format!("cannot bind {}", temporary.display())))?;
    if let Some(gid) = gid {
        match std::os::unix::fs::chown(temporary, None, Some(gid)) {
            Ok(()) => {
                info!(path = %path.display(), gid, "the bus socket's group may use it (mode 0660)")
            }
            Err(e) => warn!(
                path = %path.display(),
                gid,
                error = %e,
                "cannot give the bus socket to its group: only root may use the bus (lqosd needs CAP_CHOWN or membership of the group)"
            ),
        }
    }
    let placed = fs::set_permissions(temporary, Permissions::from_mode(SOCKET_MODE))
        .and_then(|()| fs::rename(temporary, path));
    if let Err(e) = placed {
        let _ = fs::remove_file(temporary);
        return Err(context(
            e,
            format!("cannot put the socket at {}", path.display()),
        ));
    }
    Ok(listener)
}

/// `Ok(false)`: nothing at `path`; `Ok(true)`: a socket nobody listens on; otherwise why not.
fn check_existing(path: &Path) -> io::Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(context(e, format!("cannot inspect {}", path.display()))),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ),
        ));
    }
    // A non-blocking connect: a live listener with a full backlog must not hang us.
    match mio::net::UnixStream::connect(path) {
        Ok(_) => Err(in_use(path)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(in_use(path)),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(true),
        Err(e) => Err(context(
            e,
            format!("cannot tell whether {} is in use", path.display()),
        )),
    }
}

fn in_use(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "another process is listening on {} (is lqosd already running?)",
            path.display()
        ),
    )
}

/// The id of group `name`, `None` if there is no such group (through NSS, as `getent group`).
pub fn group_id(name: &str) -> io::Result<Option<u32>> {
    let c_name = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a group name has no NUL"))?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: every pointer is valid for the call: the name is NUL-terminated, `group` and
        // `found` are plain out-parameters, and `buf` is writable for its length.
        let mut group: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(
                c_name.as_ptr(),
                &mut group,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        match rc {
            0 if found.is_null() => return Ok(None),
            0 => return Ok(Some(group.gr_gid)),
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            // "Not found" comes back as one of these from some NSS modules.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// `io::Error` carries no chain: keep the kind, put the context in front of the message.
fn context(e: io::Error, what: String) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}
