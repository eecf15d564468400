//! The WebUI's users: `<state_directory>/webusers.toml`, one `[[user]]` table each with its
//! role and an Argon2id hash (PHC string). Written atomically with mode 0600; the server
//! rereads it when it changes, so `lqosd user remove` ends that user's sessions.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May change things: acknowledge issues, refresh, edit circuits.
    Admin,
    /// Sees everything, changes nothing.
    ReadOnly,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "read-only" | "read_only" | "readonly" => Ok(Role::ReadOnly),
            _ => Err(format!("expected admin or read-only, found {s:?}")),
        }
    }
}

/// One WebUI user as `webusers.toml` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UsersFile {
    #[serde(default, rename = "user")]
    users: Vec<User>,
}

/// What can go wrong with the users file or a new user.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid users file: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("user name {0:?}: expected 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    BadName(String),
    #[error("password: expected at least {MIN_PASSWORD} characters")]
    ShortPassword,
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("no user {0:?}")]
    NoSuchUser(String),
    #[error("the first admin exists already")]
    NotFirst,
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
}

/// Longest user name, in bytes.
pub const MAX_NAME: usize = 64;

fn check_name(name: &str) -> Result<(), UserError> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(UserError::BadName(name.to_owned()))
    }
}

/// An Argon2id hash of `password` (the crate's defaults: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::ShortPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(UserError::Hash)
}

fn verify_hash(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to check unknown names against (as slow as a real one).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default())
}

/// The users in `path`; none when the file does not exist.
pub fn read(path: &Path) -> Result<Vec<User>, UserError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(UserError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    toml::from_str::<UsersFile>(&text)
        .map(|f| f.users)
        .map_err(|source| UserError::Parse {
            path: path.to_owned(),
            source,
        })
}

fn write(path: &Path, users: Vec<User>) -> Result<(), UserError> {
    let err = |source| UserError::Write {
        path: path.to_owned(),
        source,
    };
    let text = toml::to_string(&UsersFile { users })
        .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    // tempfile creates the file with mode 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    tmp.write_all(text.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Runs `f` holding an exclusive lock on `<path>.lock`, so that the CLI and the WebUI's
/// first-run setup never interleave their read-change-write of the file.
fn locked<T>(path: &Path, f: impl FnOnce() -> Result<T, UserError>) -> Result<T, UserError> {
    let lock_path = path.with_extension("toml.lock");
    let err = |source| UserError::Write {
        path: lock_path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(err)?;
    // An exclusive flock, released when `file` is closed at the end of this function.
    file.lock().map_err(err)?;
    f()
}

/// Adds a user (the CLI).
pub fn add(path: &Path, username: &str, password: &str, role: Role) -> Result<(), UserError> {
    add_checked(path, username, password, role, false)
}

/// Adds the first admin, only if there is no user at all (the WebUI's first-run setup).
pub fn add_first_admin(path: &Path, username: &str, password: &str) -> Result<(), UserError> {
    add_checked(path, username, password, Role::Admin, true)
}

fn add_checked(
    path: &Path,
    username: &str,
    password: &str,
    role: Role,
    only_first: bool,
) -> Result<(), UserError> {
    check_name(username)?;
    let password_hash = hash_password(password)?;
    locked(path, || {
        add_locked(path, username, password_hash, role, only_first)
    })
}

fn add_locked(
    path: &Path,
    username: &str,
    password_hash: String,
    role: Role,
    only_first: bool,
) -> Result<(), UserError> {
    let mut users = read(path)?;
    if only_first && !users.is_empty() {
        return Err(UserError::NotFirst);
    }
    if users.iter().any(|u| u.username == username) {
        return Err(UserError::Exists(username.to_owned()));
    }
    users.push(User {
        username: username.to_owned(),
        role,
        password_hash,
    });
    write(path, users)
}

/// Removes a user (the CLI); its sessions end at their next request.
pub fn remove(path: &Path, username: &str) -> Result<(), UserError> {
    locked(path, || remove_locked(path, username))
}

fn remove_locked(path: &Path, username: &str) -> Result<(), UserError> {
    let mut users = read(path)?;
    let before = users.len();
    users.retain(|u| u.username != username);
    if users.len() == before {
        return Err(UserError::NoSuchUser(username.to_owned()));
    }
    write(path, users)
}

use lqos_config::{file_stamp as stamp, FileStamp as Stamp};

/// How often the server looks at the file for changes, at most.
const RECHECK: Duration = Duration::from_secs(1);

/// The users file as the server sees it, reread when it changes.
#[derive(Debug)]
pub struct UserStore {
    path: PathBuf,
    cached: Mutex<(Stamp, Instant, Arc<Vec<User>>)>,
}

impl UserStore {
    /// The users of `path` (none, logged, when it cannot be read).
    pub fn new(path: PathBuf) -> Self {
        let users = read(&path).unwrap_or_else(|e| {
            tracing::error!(error = %e, "WebUI users unreadable: nobody can log in until it is fixed");
            Vec::new()
        });
        let s = stamp(&path);
        // Built now, so the first unknown name costs what every other one does.
        let _ = dummy_hash();
        Self {
            path,
            cached: Mutex::new((s, Instant::now(), Arc::new(users))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current users (the file is looked at again at most once a second).
    pub fn users(&self) -> Arc<Vec<User>> {
        let mut c = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if c.1.elapsed() >= RECHECK {
            c.1 = Instant::now();
            let s = stamp(&self.path);
            if s != c.0 {
                match read(&self.path) {
                    Ok(users) => c.2 = Arc::new(users),
                    Err(e) => {
                        tracing::error!(error = %e, "WebUI users unreadable: keeping the last good list")
                    }
                }
                c.0 = s;
            }
        }
        c.2.clone()
    }

    /// Forgets the cache (after the server itself wrote the file).
    pub fn reload(&self) {
        let mut c = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        c.1 = Instant::now() - RECHECK;
        c.0 = None;
    }

    /// The user with this name, as the file has it now.
    pub fn find(&self, username: &str) -> Option<User> {
        self.users()
            .iter()
            .find(|u| u.username == username)
            .cloned()
    }

    /// The user, if the password is right. Slow on purpose (Argon2): call off the runtime.
    /// An unknown name costs the same time as a wrong password.
    pub fn verify(&self, username: &str, password: &str) -> Option<User> {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        match self.find(username) {
            Some(u) => verify_hash(&u.password_hash, password).then_some(u),
            None => {
                let dummy =
                    DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default());
                verify_hash(dummy, password);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_added_verified_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webusers.toml");
        assert!(read(&path).unwrap().is_empty(), "no file: no users");
        add(&path, "ops", "correct horse", Role::Admin).unwrap();
        assert!(matches!(
            add(&path, "ops", "another one", Role::ReadOnly),
            Err(UserError::Exists(_))
        ));
        assert!(matches!(
            add(&path, "bad name", "long enough", Role::ReadOnly),
            Err(UserError::BadName(_))
        ));
        assert!(matches!(
            add(&path, "viewer", "short", Role::ReadOnly),
            Err(UserError::ShortPassword)
        ));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("$argon2id$") && !text.contains("correct horse"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the hashes");

        let store = UserStore::new(path.clone());
        assert_eq!(
            store.verify("ops", "correct horse").unwrap().role,
            Role::Admin
        );
        assert!(store.verify("ops", "wrong horse").is_none());
        assert!(store.verify("nobody", "correct horse").is_none());
        remove(&path, "ops").unwrap();
        assert!(matches!(
            remove(&path, "ops"),
            Err(UserError::NoSuchUser(_))
        ));
        store.reload();
        assert!(store.find("ops").is_none(), "the server sees the removal");
    }

    #[test]
    fn a_broken_users_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webusers.toml");
        std::fs::write(&path, "[[user]]\nusername = 3\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(
            e.contains("webusers.toml") && e.contains("not a valid users file"),
            "{e}"
        );
    }
}
