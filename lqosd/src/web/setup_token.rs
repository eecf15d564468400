//! The one-time token that the WebUI's first-run setup asks for (as Grafana and Jenkins do):
//! whoever reaches port 9123 before the first admin exists must also be able to read a file
//! on the shaper (or lqosd's log).
//!
//! The token lives in `<state_directory>/webui-setup-token` (mode 0600) only while there is
//! no user: lqosd makes it at start when the users file is empty (keeping the one already
//! there, so a restart does not invalidate what the operator copied), and removes it when the
//! first admin is created through the page, when `lqosd user add` adds a user, and at start or
//! within seconds when users exist.

use rand::RngCore;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// The token file's name in `state_directory`.
pub const FILE_NAME: &str = "webui-setup-token";

/// Random bytes in a token (128 bits, written as 32 hex digits).
const TOKEN_BYTES: usize = 16;

/// Where the token lives for this `state_directory`.
pub fn path(state_directory: &Path) -> PathBuf {
    state_directory.join(FILE_NAME)
}

/// What can go wrong with the token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn new_token() -> String {
    let mut b = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn well_formed(token: &str) -> bool {
    token.len() == 2 * TOKEN_BYTES && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The token in `path` if it is one lqosd would have written: a regular file (not a link) of
/// this user, readable by nobody else, holding a well-formed token. `None` when missing.
fn read_good(path: &Path) -> Result<Option<String>, TokenError> {
    let err = |source| TokenError::Read {
        path: path.to_owned(),
        source,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 || meta.uid() != me {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(err)?;
    let token = text.trim();
    Ok(well_formed(token).then(|| token.to_owned()))
}

/// Writes a new token atomically (a 0600 file in the same directory, renamed over `path`).
fn write_new(path: &Path) -> Result<String, TokenError> {
    let err = |source| TokenError::Write {
        path: path.to_owned(),
        source,
    };
    let token = new_token();
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    // tempfile creates the file with mode 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    writeln!(tmp, "{token}").map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(token)
}

/// At lqosd's start. With no users: the token (the one in `path` if it is good, else a new
/// one). With users: none, and any leftover file is removed.
pub fn prepare(path: &Path, no_users: bool) -> Result<Option<String>, TokenError> {
    if !no_users {
        remove(path)?;
        return Ok(None);
    }
    match read_good(path)? {
        Some(t) => Ok(Some(t)),
        None => write_new(path).map(Some),
    }
}

/// How a setup attempt's token compares with the file.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    Right,
    Wrong,
    /// No (good) token file: restart lqosd to make one, or use `lqosd user add`.
    NoFile,
}

/// Compares `given` (surrounding white space ignored: it is often pasted) with the token in
/// `path`, in constant time.
pub fn check(path: &Path, given: &str) -> Result<Check, TokenError> {
    let Some(token) = read_good(path)? else {
        return Ok(Check::NoFile);
    };
    if bool::from(given.trim().as_bytes().ct_eq(token.as_bytes())) {
        Ok(Check::Right)
    } else {
        Ok(Check::Wrong)
    }
}

/// Removes the token file; `Ok(true)` if there was one.
pub fn remove(path: &Path) -> Result<bool, TokenError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(TokenError::Remove {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_made_once_kept_across_starts_and_gone_once_users_exist() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        let first = prepare(&p, true).unwrap().unwrap();
        assert!(well_formed(&first), "{first}");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            prepare(&p, true).unwrap().unwrap(),
            first,
            "a restart keeps it"
        );
        assert_eq!(check(&p, &format!(" {first}\n")).unwrap(), Check::Right);
        assert_eq!(check(&p, &"0".repeat(32)).unwrap(), Check::Wrong);
        assert_eq!(check(&p, "").unwrap(), Check::Wrong);
        assert_eq!(prepare(&p, false).unwrap(), None);
        assert!(!p.exists(), "users exist: no token");
        assert_eq!(check(&p, &first).unwrap(), Check::NoFile);
    }

    #[test]
    fn tokens_differ_and_a_readable_or_malformed_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        assert_ne!(new_token(), new_token());
        std::fs::write(&p, "0123456789abcdef0123456789abcdef\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let t = prepare(&p, true).unwrap().unwrap();
        assert_ne!(
            t, "0123456789abcdef0123456789abcdef",
            "others could read it"
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&p, "not a token\n").unwrap();
        let t2 = prepare(&p, true).unwrap().unwrap();
        assert!(well_formed(&t2) && t2 != t);
    }
}
