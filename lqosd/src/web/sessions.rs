//! Login sessions (in memory: a restart of lqosd logs everyone out) and the login rate limit.

use rand::RngCore;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a session lasts after login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per key (client address, user name) within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// The window of [`MAX_FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// 32 random bytes from the OS, hex.
fn token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub username: String,
    /// Sent back in `X-CSRF-Token` on state-changing requests.
    pub csrf: String,
    /// [`fingerprint`] of the password hash the user logged in with.
    pub password: u64,
    expires: Instant,
}

/// A short digest of a password hash, so a session ends when its user's password changes.
pub fn fingerprint(password_hash: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    password_hash.hash(&mut h);
    h.finish()
}

/// Every open session, by cookie token.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `user`: its cookie token and the session.
    pub fn create(&self, user: &super::users::User) -> (String, Session) {
        let session = Session {
            username: user.username.clone(),
            csrf: token(),
            password: fingerprint(&user.password_hash),
            expires: Instant::now() + SESSION_LIFETIME,
        };
        let t = token();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(t.clone(), session.clone());
        (t, session)
    }

    /// The live session of a cookie token.
    pub fn get(&self, token: &str) -> Option<Session> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(token)
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    /// Logs out.
    pub fn remove(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }
}

/// Keys tracked at most; past that, expired keys are dropped, then every key (a flood of
/// distinct addresses and names must not grow lqosd without bound).
const MAX_KEYS: usize = 100_000;

/// Login attempts per key (client address, user name) in the last [`FAILURE_WINDOW`].
///
/// An attempt counts from the moment it starts, before the password is checked, so parallel
/// guesses cannot all pass; a successful one is taken back (only itself: earlier failures
/// stay, so a valid account cannot reset its address's count).
#[derive(Debug, Default)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// Counts an attempt for every key, or `Err(seconds to wait)` if a key used up its
    /// [`MAX_FAILURES`] (then nothing is counted).
    pub fn begin(&self, keys: &[String], now: Instant) -> Result<(), u64> {
        let mut a = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = 0;
        for k in keys {
            if let Some(q) = a.get_mut(k) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
                {
                    q.pop_front();
                }
                if q.len() >= MAX_FAILURES {
                    let oldest = q.front().copied().unwrap_or(now);
                    let left = FAILURE_WINDOW.saturating_sub(now.duration_since(oldest));
                    wait = wait.max(left.as_secs().max(1));
                }
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        if a.len() + keys.len() > MAX_KEYS {
            a.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
            });
            if a.len() + keys.len() > MAX_KEYS {
                a.clear();
            }
        }
        for k in keys {
            a.entry(k.clone()).or_default().push_back(now);
        }
        Ok(())
    }

    /// The attempt begun at `at` succeeded: it no longer counts.
    pub fn succeeded(&self, keys: &[String], at: Instant) {
        let mut a = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            if let Some(q) = a.get_mut(k) {
                if let Some(i) = q.iter().rposition(|t| *t == at) {
                    q.remove(i);
                }
                if q.is_empty() {
                    a.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_have_distinct_tokens_and_end_on_logout() {
        let s = Sessions::default();
        let ops = super::super::users::User {
            username: "ops".into(),
            role: super::super::users::Role::Admin,
            password_hash: "h".into(),
        };
        let (a, sa) = s.create(&ops);
        let (b, _) = s.create(&ops);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(s.get(&a).unwrap().csrf, sa.csrf);
        s.remove(&a);
        assert!(s.get(&a).is_none());
        assert!(s.get(&b).is_some());
    }

    #[test]
    fn the_sixth_attempt_within_a_minute_waits_for_the_window() {
        let l = LoginLimiter::default();
        let keys = vec!["ip:127.0.0.1".to_owned()];
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            // Begun, not finished: parallel guesses count at once.
            assert!(l.begin(&keys, t0).is_ok(), "attempt {i}");
        }
        let wait = l.begin(&keys, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, 50);
        assert!(
            l.begin(&keys, t0 + FAILURE_WINDOW).is_ok(),
            "the window passed"
        );
    }

    #[test]
    fn a_success_takes_back_only_its_own_attempt() {
        let l = LoginLimiter::default();
        let keys = vec!["ip:10.0.0.1".to_owned(), "user:ops".to_owned()];
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES - 1 {
            l.begin(&keys, t0 + Duration::from_millis(i as u64))
                .unwrap();
        }
        let ok = t0 + Duration::from_secs(1);
        l.begin(&keys, ok).unwrap();
        l.succeeded(&keys, ok);
        l.begin(&keys, ok).unwrap();
        assert!(
            l.begin(&keys, ok).is_err(),
            "the earlier failures still count"
        );
    }
}
