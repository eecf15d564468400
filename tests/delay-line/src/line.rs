//! One direction of the delay line: a reader thread takes each packet from its device, stamps
//! it with the time it is due (now + the one-way delay) and queues it; a writer thread sleeps
//! until the head of the queue is due and writes it to the other device. The delay is fixed,
//! so the queue is in due order and a FIFO channel is all it needs.

use crate::clock;
use crate::packet::carries_tcp_payload;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How one direction behaves.
#[derive(Debug, Clone)]
pub struct Direction {
    /// `a2b` or `b2a`, for thread names and messages.
    pub name: &'static str,
    /// The one-way delay in nanoseconds.
    pub delay_ns: u64,
    /// Drop every Nth packet that carries TCP payload (never pure ACKs).
    pub drop_every: Option<u64>,
    /// Packets held at most; more are dropped and counted as overflow.
    pub queue_limit: usize,
    /// A packet arriving while the writer is more than this behind its schedule (the
    /// packet it is writing was due longer ago) is dropped and counted as overflow: the line's
    /// buffer, in time, when the machine cannot keep up. Without it a saturated line queues
    /// for seconds.
    pub max_backlog_ns: u64,
    /// `SCHED_FIFO` priority of the two threads (0: the normal scheduler).
    pub priority: i32,
}

/// `head_due` while the writer waits for a packet.
const IDLE: u64 = u64::MAX;

/// Number of lateness buckets: bucket `i` counts writes late by less than `2^i` us (and at
/// least `2^(i-1)`), the last one everything later.
const LATE_BUCKETS: usize = 24;

/// The counters of one direction (all monotonic).
#[derive(Debug, Default)]
pub struct Stats {
    /// Packets read from the source device.
    pub packets: AtomicU64,
    /// Their bytes (IP packets, no link header).
    pub bytes: AtomicU64,
    /// Dropped by the drop rule (TCP data only).
    pub dropped: AtomicU64,
    /// Dropped because the queue held `queue_limit` packets or the writer was more than
    /// `max_backlog_ns` behind.
    pub overflow: AtomicU64,
    /// Written to the destination device.
    pub sent: AtomicU64,
    /// Writes the destination refused (counted, not retried).
    pub write_errors: AtomicU64,
    late: [AtomicU64; LATE_BUCKETS],
    late_max_ns: AtomicU64,
}

impl Stats {
    fn record_late(&self, late_ns: u64) {
        let us = late_ns / 1000;
        let bucket = (64 - us.leading_zeros() as usize).min(LATE_BUCKETS - 1);
        self.late[bucket].fetch_add(1, Relaxed);
        self.late_max_ns.fetch_max(late_ns, Relaxed);
    }

    /// How late writes were against their due time, in microseconds: an upper bound of the
    /// `q` quantile (0..=1) from the power-of-two buckets, 0 without writes.
    pub fn late_quantile_us(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self.late.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return if i == 0 { 0 } else { (1u64 << i) - 1 };
            }
        }
        self.late_max_us()
    }

    /// The latest write against its due time, in microseconds.
    pub fn late_max_us(&self) -> u64 {
        self.late_max_ns.load(Relaxed) / 1000
    }

    /// One line of `key=value` counters, each key prefixed with `prefix` (`a2b_packets=..`).
    pub fn summary(&self, prefix: &str) -> String {
        format!(
            "{prefix}_packets={} {prefix}_bytes={} {prefix}_dropped={} {prefix}_overflow={} \
             {prefix}_sent={} {prefix}_write_errors={} {prefix}_late_p50_us={} \
             {prefix}_late_p99_us={} {prefix}_late_max_us={}",
            self.packets.load(Relaxed),
            self.bytes.load(Relaxed),
            self.dropped.load(Relaxed),
            self.overflow.load(Relaxed),
            self.sent.load(Relaxed),
            self.write_errors.load(Relaxed),
            self.late_quantile_us(0.5),
            self.late_quantile_us(0.99),
            self.late_max_us(),
        )
    }
}

/// Starts the reader and the writer of one direction, from `from` to `to`. They run until
/// reading fails or the source reaches its end (then the writer drains the queue and ends).
pub fn spawn(
    dir: &Direction,
    from: Arc<File>,
    to: Arc<File>,
    stats: Arc<Stats>,
) -> io::Result<[JoinHandle<()>; 2]> {
    let (tx, rx) = sync_channel::<(u64, Vec<u8>)>(dir.queue_limit.max(1));
    // The due time of the packet the writer is on; IDLE while it waits for one.
    let head_due = Arc::new(AtomicU64::new(IDLE));
    let reader = {
        let (dir, stats, head_due) = (dir.clone(), stats.clone(), head_due.clone());
        std::thread::Builder::new()
            .name(format!("{}-read", dir.name))
            .spawn(move || {
                wake_on_time(&dir);
                let mut buf = vec![0u8; 65536];
                let mut data_seen = 0u64;
                loop {
                    let n = match (&*from).read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            eprintln!("lqos-delay-line: {}: read: {e}", dir.name);
                            return;
                        }
                    };
                    let now = clock::now_ns();
                    let due = now + dir.delay_ns;
                    let packet = &buf[..n];
                    stats.packets.fetch_add(1, Relaxed);
                    stats.bytes.fetch_add(n as u64, Relaxed);
                    let head = head_due.load(Relaxed);
                    if head != IDLE && now.saturating_sub(head) > dir.max_backlog_ns {
                        stats.overflow.fetch_add(1, Relaxed);
                        continue;
                    }
                    if let Some(every) = dir.drop_every {
                        if carries_tcp_payload(packet) {
                            data_seen += 1;
                            if data_seen.is_multiple_of(every) {
                                stats.dropped.fetch_add(1, Relaxed);
                                continue;
                            }
                        }
                    }
                    match tx.try_send((due, packet.to_vec())) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            stats.overflow.fetch_add(1, Relaxed);
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
            })?
    };
    let writer = {
        let dir = dir.clone();
        std::thread::Builder::new()
            .name(format!("{}-write", dir.name))
            .spawn(move || {
                wake_on_time(&dir);
                for (due, packet) in rx {
                    head_due.store(due, Relaxed);
                    clock::sleep_until(due);
                    stats.record_late(clock::now_ns().saturating_sub(due));
                    // A TUN write takes the whole packet or fails.
                    match (&*to).write(&packet) {
                        Ok(n) if n == packet.len() => stats.sent.fetch_add(1, Relaxed),
                        Ok(_) | Err(_) => stats.write_errors.fetch_add(1, Relaxed),
                    };
                    head_due.store(IDLE, Relaxed);
                }
            })?
    };
    Ok([reader, writer])
}

fn wake_on_time(dir: &Direction) {
    if let Err(e) = clock::wake_on_time(dir.priority) {
        eprintln!(
            "lqos-delay-line: {}: no real-time priority ({e}): packets may be late",
            dir.name
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::time::{Duration, Instant};

    /// A connected pair of `SOCK_SEQPACKET` Unix sockets: datagrams with an end.
    fn pair() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: a valid array of two fds to fill.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        // SAFETY: two fresh fds owned by nobody else.
        unsafe {
            (
                File::from(OwnedFd::from_raw_fd(fds[0])),
                File::from(OwnedFd::from_raw_fd(fds[1])),
            )
        }
    }

    /// A line from `input` (written by the test) to `output` (read by the test).
    fn line(delay_ns: u64, drop_every: Option<u64>) -> (File, File, Arc<Stats>) {
        line_with_backlog(delay_ns, drop_every, 50_000_000)
    }

    fn line_with_backlog(
        delay_ns: u64,
        drop_every: Option<u64>,
        max_backlog_ns: u64,
    ) -> (File, File, Arc<Stats>) {
        let (input, line_in) = pair();
        let (line_out, output) = pair();
        let stats = Arc::new(Stats::default());
        let dir = Direction {
            name: "a2b",
            delay_ns,
            drop_every,
            queue_limit: 1000,
            max_backlog_ns,
            priority: 0,
        };
        spawn(&dir, Arc::new(line_in), Arc::new(line_out), stats.clone()).unwrap();
        (input, output, stats)
    }

    /// An IPv4 TCP packet with `payload` bytes, tagged with `tag` in its identification field.
    fn tcp(payload: usize, tag: u16) -> Vec<u8> {
        let total = 40 + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[4..6].copy_from_slice(&tag.to_be_bytes());
        p[9] = 6;
        p[32] = 5 << 4;
        p
    }

    #[test]
    fn every_packet_arrives_in_order_after_the_delay() {
        let delay = Duration::from_millis(15);
        let (mut input, mut output, stats) = line(delay.as_nanos() as u64, None);
        // Received on a thread of its own, while the packets are being sent.
        let receiver = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut got = Vec::new();
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.push((Instant::now(), n, u16::from_be_bytes([buf[4], buf[5]])));
            }
            got
        });
        let sent_at: Vec<Instant> = (0..40u16)
            .map(|i| {
                let t = Instant::now();
                input.write_all(&tcp(100, i)).unwrap();
                std::thread::sleep(Duration::from_micros(700));
                t
            })
            .collect();
        drop(input);
        let got = receiver.join().unwrap();
        assert_eq!(got.len(), 40);
        let mut late = Vec::new();
        for (i, (t, (at, n, tag))) in sent_at.iter().zip(&got).enumerate() {
            let took = *at - *t;
            assert_eq!(*n, 140);
            assert_eq!(*tag, i as u16, "in order");
            assert!(took >= delay, "packet {i} after {took:?}, delay {delay:?}");
            late.push(took - delay);
        }
        late.sort();
        let median = late[late.len() / 2];
        eprintln!("late: median {median:?}, max {:?}", late[late.len() - 1]);
        // Generous for a busy machine (no real-time priority here), but far below the delay.
        assert!(
            median < Duration::from_millis(2),
            "median lateness {median:?}"
        );
        assert_eq!(stats.packets.load(Relaxed), 40);
        assert_eq!(stats.sent.load(Relaxed), 40);
        assert_eq!(stats.dropped.load(Relaxed), 0);
    }

    #[test]
    fn every_nth_data_packet_is_dropped_and_no_pure_ack() {
        let (mut input, mut output, stats) = line(0, Some(3));
        // 6 data packets (tags 0..6) with a pure ACK (tags 100..) after each.
        for i in 0..6u16 {
            input.write_all(&tcp(500, i)).unwrap();
            input.write_all(&tcp(0, 100 + i)).unwrap();
        }
        drop(input);
        let mut tags = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            match output.read(&mut buf).unwrap() {
                0 => break,
                _ => tags.push(u16::from_be_bytes([buf[4], buf[5]])),
            }
        }
        // Data packets 3 and 6 (tags 2 and 5) are gone; every ACK passed.
        assert_eq!(tags, [0, 100, 1, 101, 102, 3, 103, 4, 104, 105]);
        assert_eq!(stats.dropped.load(Relaxed), 2);
        assert_eq!(stats.packets.load(Relaxed), 12);
    }

    #[test]
    fn a_line_that_cannot_write_drops_what_arrives_once_it_is_too_far_behind() {
        // Nobody reads the output: the writer blocks once the socket's buffer is full, and
        // the packet it holds grows older than the 5 ms backlog.
        let (mut input, output, stats) = line_with_backlog(0, None, 5_000_000);
        // 900 packets: fewer than the queue limit (1000), so only the backlog can drop them.
        for i in 0..900u16 {
            input.write_all(&tcp(100, i)).unwrap();
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        let overflow = stats.overflow.load(Relaxed);
        assert!(overflow > 0, "{stats:?}");
        // Everything was read; what was not dropped is queued or written.
        assert_eq!(stats.packets.load(Relaxed), 900);
        drop(input);
        let mut output = output;
        let mut buf = [0u8; 2048];
        let mut got = 0;
        while output.read(&mut buf).unwrap() > 0 {
            got += 1;
        }
        assert_eq!(got + overflow, 900, "{stats:?}");
    }

    #[test]
    fn lateness_quantiles_come_from_the_buckets() {
        let stats = Stats::default();
        assert_eq!(stats.late_quantile_us(0.5), 0);
        for _ in 0..90 {
            stats.record_late(20_000); // 20 us: bucket 5 (16..31)
        }
        for _ in 0..10 {
            stats.record_late(3_000_000); // 3 ms
        }
        assert_eq!(stats.late_quantile_us(0.5), 31);
        assert_eq!(stats.late_quantile_us(0.9), 31);
        assert_eq!(stats.late_quantile_us(0.99), 4095);
        assert_eq!(stats.late_max_us(), 3000);
        assert!(stats.summary("a2b").contains("a2b_late_max_us=3000"));
    }
}
