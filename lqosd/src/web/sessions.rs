//! Login sessions (in memory: a restart of lqosd logs everyone out) and the login rate limit.

use rand::RngCore;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a session lasts after login.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per key (client address, user name) within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// 32 random bytes from the OS, hex.
fn token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Debug, Clone)]
pub struct Session {
    pub username: String,
    /// Sent back in `X-CSRF-Token` on state-changing requests.
    pub csrf: String,
    expires: Instant,
}

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `username`: its cookie token and the session.
    pub fn create(&self, username: &str) -> (String, Session) {
        let session = Session {
            username: username.to_owned(),
            csrf: token(),
            expires: Instant::now() + SESSION_LIFETIME,
        };
        let t = token();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        map.insert(t.clone(), session.clone());
        (t, session)
    }

    pub fn get(&self, token: &str) -> Option<Session> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(token)
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    pub fn remove(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }
}

/// Failed logins per key in the last [`FAILURE_WINDOW`].
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    /// `Err(seconds to wait)` when any key has used up its failures.
    pub fn check(&self, keys: &[String], now: Instant) -> Result<(), u64> {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = 0;
        for k in keys {
            if let Some(q) = f.get_mut(k) {
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
            Err(wait)
        } else {
            Ok(())
        }
    }

    pub fn failed(&self, keys: &[String], now: Instant) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if f.len() > 100_000 {
            // A flood of distinct keys: forget the oldest state rather than grow without bound.
            f.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW)
            });
        }
        for k in keys {
            f.entry(k.clone()).or_default().push_back(now);
        }
    }

    pub fn succeeded(&self, keys: &[String]) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            f.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_have_distinct_tokens_and_end_on_logout() {
        let s = Sessions::default();
        let (a, sa) = s.create("ops");
        let (b, _) = s.create("ops");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(s.get(&a).unwrap().csrf, sa.csrf);
        s.remove(&a);
        assert!(s.get(&a).is_none());
        assert!(s.get(&b).is_some());
    }

    #[test]
    fn the_sixth_failure_within_a_minute_waits_for_the_window() {
        let l = LoginLimiter::default();
        let keys = vec!["ip:127.0.0.1".to_owned()];
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(l.check(&keys, t0).is_ok(), "attempt {i}");
            l.failed(&keys, t0);
        }
        let wait = l.check(&keys, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, 50);
        assert!(
            l.check(&keys, t0 + FAILURE_WINDOW).is_ok(),
            "the window passed"
        );
        l.failed(&keys, t0);
        l.succeeded(&keys);
        assert!(l.check(&keys, t0).is_ok());
    }
}
