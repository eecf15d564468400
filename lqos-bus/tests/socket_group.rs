//! Who may use the bus: the socket is mode 0660 and owned by the bus group, so another user
//! (`nobody`) is refused and a member of the group is let in. Needs root (to bind for another
//! group and to switch users in a child); fails loudly otherwise. The `lqos` CLI's message to a
//! refused user is tested in lqos-cli/tests/bus_access.rs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// A group id for the test's socket that `nobody` (primary group `nogroup`) is not in.
const TEST_GID: u32 = 54_321;
const NOBODY: u32 = 65_534;

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (it binds for another group and connects as nobody): run it as root"
    );
}

/// Forks a child that drops to uid/gid `nobody` with `groups` as its supplementary groups and
/// connects to the socket at `path`: `Ok(())` or the errno it got.
fn connect_as_nobody(path: &Path, groups: &[libc::gid_t]) -> Result<(), i32> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: a zeroed sockaddr_un is valid; the path fits (checked) and stays NUL-terminated.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    assert!(bytes.len() < addr.sun_path.len(), "socket path too long");
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: the child only makes async-signal-safe system calls, then _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        unsafe {
            let code = if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                200
            } else {
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                let rc = libc::connect(
                    fd,
                    (&addr as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                );
                if rc == 0 {
                    0
                } else {
                    *libc::__errno_location()
                }
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "the child did not exit normally");
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        200 => panic!("the child could not become nobody"),
        errno => Err(errno),
    }
}

#[tokio::test]
async fn another_user_is_refused_and_a_member_of_the_group_is_let_in() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    // nobody must be able to reach the socket's directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("bus");
    let _listener = lqos_bus::bind_with_group(&path, Some(TEST_GID)).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), TEST_GID);

    assert_eq!(
        connect_as_nobody(&path, &[]),
        Err(libc::EACCES),
        "nobody, not in the group, is refused"
    );
    assert_eq!(
        connect_as_nobody(&path, &[TEST_GID]),
        Ok(()),
        "a member of the group may connect"
    );
}

#[test]
fn groups_are_looked_up_by_name() {
    assert_eq!(lqos_bus::group_id("root").unwrap(), Some(0));
    assert_eq!(lqos_bus::group_id("no-such-group-lqos-test").unwrap(), None);
}
