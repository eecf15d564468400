//! One scheduler per host: an exclusive `flock` on `state_directory/lqos-scheduler.lock`. The
//! kernel drops the lock when the process dies, however it dies, so there is never a stale
//! lock to clean up (unlike a PID file).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock file {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another lqos-scheduler holds {path} (pid {holder}); only one may run per host")]
    Held { path: PathBuf, holder: String },
}

/// `state_directory/name`, opened (created if missing) for locking.
fn open(state_directory: &Path, name: &str) -> Result<(PathBuf, File), LockError> {
    let path = state_directory.join(name);
    let open_err = |source| LockError::Open {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_directory).map_err(open_err)?;
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
    {
        Ok(f) => f,
        // A read-only state directory: a file opened for reading locks as well, and lqosd
        // says what it thinks of the state directory when the plan arrives.
        Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => {
            std::fs::File::open(&path).map_err(|_| open_err(e))?
        }
        Err(e) => return Err(open_err(e)),
    };
    Ok((path, file))
}

/// Whether the exclusive `flock` was taken (`false`: another open file holds it).
fn try_lock(file: &File, path: &Path) -> Result<bool, LockError> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(source)) => Err(LockError::Open {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Refreshes never overlap, whoever starts them (the service's child, an operator's manual
/// `lqos-scheduler refresh`): each takes `state_directory/refresh.lock`, waiting up to
/// `wait` for the one in progress.
pub fn acquire_refresh(
    state_directory: &Path,
    wait: std::time::Duration,
) -> Result<InstanceLock, LockError> {
    let (path, file) = open(state_directory, "refresh.lock")?;
    let deadline = std::time::Instant::now() + wait;
    while !try_lock(&file, &path)? {
        if std::time::Instant::now() >= deadline {
            return Err(LockError::Held {
                path,
                holder: "another refresh".into(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(InstanceLock { _file: file })
}

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Takes the lock or says who holds it.
pub fn acquire(state_directory: &Path) -> Result<InstanceLock, LockError> {
    let (path, mut file) = open(state_directory, "lqos-scheduler.lock")?;
    if !try_lock(&file, &path)? {
        let holder = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .trim()
            .to_owned();
        return Err(LockError::Held {
            path,
            holder: if holder.is_empty() {
                "unknown".into()
            } else {
                holder
            },
        });
    }
    // The pid is for the operator's eyes only; the lock is the flock.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(InstanceLock { _file: file })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_instance_is_refused_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = super::acquire(dir.path()).expect("first");
        let e = super::acquire(dir.path()).expect_err("second").to_string();
        assert!(
            e.contains(&format!("pid {}", std::process::id())) && e.contains("only one"),
            "{e}"
        );
        drop(first);
        // Another test of this binary may be forking a child that, until it execs, shares the
        // lock's open file (flock locks belong to it): allow that moment to pass.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while super::acquire(dir.path()).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the lock is free once its holder is gone"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn refreshes_wait_for_each_other() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = super::acquire_refresh(dir.path(), std::time::Duration::ZERO).expect("first");
        let started = std::time::Instant::now();
        let e = super::acquire_refresh(dir.path(), std::time::Duration::from_millis(300))
            .expect_err("busy")
            .to_string();
        assert!(
            e.contains("another refresh")
                && started.elapsed() >= std::time::Duration::from_millis(300),
            "{e}"
        );
        let waiter = {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                super::acquire_refresh(&path, std::time::Duration::from_secs(5)).map(drop)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(first);
        waiter
            .join()
            .expect("join")
            .expect("the waiting refresh goes next");
    }
}
