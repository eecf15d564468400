//! The monotonic clock in nanoseconds, sleeping until an absolute time on it, and making the
//! calling thread wake on time (no timer slack, optionally a real-time priority).

use std::io;

/// Now on `CLOCK_MONOTONIC`, in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until `CLOCK_MONOTONIC` reaches `deadline_ns` (returns at once if it has).
pub fn sleep_until(deadline_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: a valid timespec; no remaining time is asked for (absolute sleep).
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        // clock_nanosleep returns the error number; only EINTR is worth another try.
        if rc != libc::EINTR {
            return;
        }
    }
}

/// Makes the calling thread's sleeps end on time: a timer slack of 1 ns (the default 50 us
/// would add up to 50 us to every delay) and, when `priority` is not 0, `SCHED_FIFO` at that
/// priority, so that a busy machine (a build on every core) does not make packets late.
/// Returns an error only for the real-time priority (which needs root or CAP_SYS_NICE).
pub fn wake_on_time(priority: i32) -> io::Result<()> {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    if priority == 0 {
        return Ok(());
    }
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: a valid sched_param; 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeping_until_a_deadline_ends_at_or_after_it() {
        let start = now_ns();
        let deadline = start + 3_000_000;
        sleep_until(deadline);
        let end = now_ns();
        assert!(end >= deadline, "woke {} ns early", deadline - end);
        // A deadline in the past returns at once.
        sleep_until(start);
        assert!(now_ns() - end < 50_000_000);
    }
}
