//! Changing an existing HTB class over rtnetlink: the `RTM_NEWTCLASS` that
//! `tc class change dev D parent P classid C htb rate R ceil C burst B cburst CB quantum Q`
//! sends, built here without forking `tc` (lqosd's path for applies that only change rates).
//!
//! The request matches tc's (iproute2 `q_htb.c`, `tc_core.c`): rates in bytes per second
//! (bits / 8, 64-bit rates in `TCA_HTB_RATE64`/`TCA_HTB_CEIL64` when they do not fit 32 bits),
//! bursts turned into packet-scheduler ticks with the clock of `/proc/net/psched`, and the
//! link layer set to Ethernet, so the kernel needs no rate tables (`TCA_HTB_RTAB`/`CTAB` are
//! only read for link-layer-unaware requests). The privileged test
//! `tests/htb_change.rs` checks that the kernel ends up holding exactly what `tc` gives it.

use std::path::Path;

use netlink_packet_core::{DefaultNla, NLM_F_ACK, NLM_F_REQUEST};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::QueueStatsError;
use crate::htb::{HTB_OPT_LEN, RATESPEC_LEN, TCA_HTB_CEIL64, TCA_HTB_PARMS, TCA_HTB_RATE64};
use crate::socket::{in_netns, RouteSocket};

/// `TC_LINKLAYER_ETHERNET` in `linux/pkt_sched.h`.
const LINKLAYER_ETHERNET: u8 = 1;
/// tc's default MTU for rate tables (1600), whose cell log is 3: sent as tc sends it.
const CELL_LOG: u8 = 3;
/// Microseconds per second (tc's `TIME_UNITS_PER_SEC`).
const USEC_PER_SEC: f64 = 1e6;

/// An existing HTB class's new parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HtbClassChange {
    /// Interface index in the socket's namespace.
    pub ifindex: u32,
    /// The parent class, or the HTB qdisc's handle (`major:0`) for a queue's root class.
    pub parent: u32,
    /// The class id, `major << 16 | minor`.
    pub classid: u32,
    /// Guaranteed rate, bits per second.
    pub rate_bps: u64,
    /// Ceiling, bits per second.
    pub ceil_bps: u64,
    /// Burst at `rate`, bytes.
    pub burst: u32,
    /// Burst at `ceil`, bytes.
    pub cburst: u32,
    /// DRR quantum, bytes.
    pub quantum: u32,
}

/// The kernel's packet-scheduler clock as tc reads it from `/proc/net/psched`: how many ticks
/// make a microsecond.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PschedClock {
    ticks_per_usec: f64,
}

impl PschedClock {
    /// Reads `/proc/net/psched`.
    pub fn read() -> Result<Self, QueueStatsError> {
        const PATH: &str = "/proc/net/psched";
        let text = std::fs::read_to_string(PATH).map_err(|e| QueueStatsError::Psched {
            detail: format!("cannot read {PATH}: {e}"),
        })?;
        Self::parse(&text).map_err(|detail| QueueStatsError::Psched {
            detail: format!("{PATH}: {detail}"),
        })
    }

    /// Parses the file's first three hex words (`t2us us2t clock_res`), as tc's
    /// `tc_core_init` does, with its rule that a nanosecond clock advertises a multiplier of
    /// 1000 that really is 1.
    pub fn parse(text: &str) -> Result<Self, String> {
        let words: Vec<u32> = text
            .split_whitespace()
            .take(3)
            .map(|w| u32::from_str_radix(w, 16))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("expected hex words, found {text:?} ({e})"))?;
        let [mut t2us, us2t, clock_res] = words[..] else {
            return Err(format!("expected at least 3 hex words, found {text:?}"));
        };
        if us2t == 0 || clock_res == 0 {
            return Err(format!("zero divisor in {text:?}"));
        }
        if clock_res == 1_000_000_000 {
            t2us = us2t;
        }
        let clock_factor = f64::from(clock_res) / USEC_PER_SEC;
        Ok(PschedClock {
            ticks_per_usec: f64::from(t2us) / f64::from(us2t) * clock_factor,
        })
    }

    /// Ticks to send `size` bytes at `rate` bytes per second, as iproute2 6.1's
    /// `tc_calc_xmittime` computes them: whole microseconds (truncated), times the ticks per
    /// microsecond, truncated; at most `u32::MAX`. (Later iproute2 releases round up instead of
    /// truncating: a difference under one microsecond of burst.)
    pub fn xmit_ticks(&self, rate: u64, size: u32) -> u32 {
        if rate == 0 {
            return u32::MAX;
        }
        let usec = saturating_u32(USEC_PER_SEC * (f64::from(size) / rate as f64));
        saturating_u32(f64::from(usec) * self.ticks_per_usec)
    }
}

/// C's conversion of a non-negative double to `unsigned int`, saturated instead of undefined.
fn saturating_u32(v: f64) -> u32 {
    if v >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        v as u32
    }
}

/// The attributes inside `TCA_OPTIONS` for `change`, in tc's order: 64-bit rates when needed,
/// then `TCA_HTB_PARMS`.
pub fn htb_class_options(change: &HtbClassChange, clock: PschedClock) -> Vec<(u16, Vec<u8>)> {
    let (rate, ceil) = (change.rate_bps / 8, change.ceil_bps / 8);
    let mut attrs = Vec::with_capacity(3);
    if rate > u64::from(u32::MAX) {
        attrs.push((TCA_HTB_RATE64, rate.to_ne_bytes().to_vec()));
    }
    if ceil > u64::from(u32::MAX) {
        attrs.push((TCA_HTB_CEIL64, ceil.to_ne_bytes().to_vec()));
    }
    let mut p = Vec::with_capacity(HTB_OPT_LEN);
    for r in [rate, ceil] {
        p.push(CELL_LOG);
        p.push(LINKLAYER_ETHERNET);
        p.extend_from_slice(&0u16.to_ne_bytes()); // overhead
        p.extend_from_slice(&(-1i16).to_ne_bytes()); // cell_align
        p.extend_from_slice(&0u16.to_ne_bytes()); // mpu
        p.extend_from_slice(&u32::try_from(r).unwrap_or(u32::MAX).to_ne_bytes());
    }
    debug_assert_eq!(p.len(), 2 * RATESPEC_LEN);
    for v in [
        clock.xmit_ticks(rate, change.burst),
        clock.xmit_ticks(ceil, change.cburst),
        change.quantum,
        0, // level: set by the kernel
        0, // prio
    ] {
        p.extend_from_slice(&v.to_ne_bytes());
    }
    attrs.push((TCA_HTB_PARMS, p));
    attrs
}

/// Changes existing HTB classes over one NETLINK_ROUTE socket (see the module doc). `Send`;
/// the socket belongs to the namespace it was opened in.
#[derive(Debug)]
pub struct HtbClassWriter {
    sock: RouteSocket,
    clock: PschedClock,
}

impl HtbClassWriter {
    /// Opens a socket in the calling thread's network namespace and reads the kernel's clock.
    pub fn new() -> Result<Self, QueueStatsError> {
        Ok(HtbClassWriter {
            sock: RouteSocket::new()?,
            clock: PschedClock::read()?,
        })
    }

    /// Opens the socket in the network namespace of `netns_file`, like
    /// [`crate::QueueReader::new_in_netns`].
    pub fn new_in_netns(netns_file: impl AsRef<Path>) -> Result<Self, QueueStatsError> {
        in_netns(netns_file.as_ref(), HtbClassWriter::new)
    }

    /// The index of interface `name` in the socket's namespace.
    pub fn ifindex(&mut self, name: &str) -> Result<u32, QueueStatsError> {
        self.sock.ifindex(name)
    }

    /// Changes one existing class and waits for the kernel's acknowledgement. A class that
    /// does not exist is refused (`ENOENT`): this never creates one.
    pub fn change(&mut self, change: &HtbClassChange) -> Result<(), QueueStatsError> {
        const REQ: &str = "RTM_NEWTCLASS";
        let index = i32::try_from(change.ifindex).map_err(|_| QueueStatsError::BadIndex {
            ifindex: change.ifindex,
        })?;
        let mut msg = TcMessage::with_index(index);
        msg.header.handle = TcHandle::from(change.classid);
        msg.header.parent = TcHandle::from(change.parent);
        msg.attributes.push(TcAttribute::Kind("htb".into()));
        msg.attributes.push(TcAttribute::Options(
            htb_class_options(change, self.clock)
                .into_iter()
                .map(|(kind, value)| TcOption::Other(DefaultNla::new(kind, value)))
                .collect(),
        ));
        // No NLM_F_CREATE: the kernel changes the class or answers ENOENT, as `tc class
        // change` does.
        let seq = self.sock.send(
            REQ,
            RouteNetlinkMessage::NewTrafficClass(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        )?;
        self.sock
            .receive(REQ, change.ifindex, seq, |_, _| Ok(()))
            .map_err(|e| crate::socket::no_such_interface(e, change.ifindex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_htb_options;
    use crate::nla::build::nla;

    /// This machine's file (Linux 6.18): 1000 / 64 * 1 = 15.625 ticks per microsecond.
    const PSCHED: &str = "000003e8 00000040 000f4240 3b9aca00\n";

    fn change(rate_bps: u64, ceil_bps: u64) -> HtbClassChange {
        HtbClassChange {
            ifindex: 2,
            parent: 0x1_0001,
            classid: 0x1_0005,
            rate_bps,
            ceil_bps,
            burst: 15_000,
            cburst: 1_600,
            quantum: 1_514,
        }
    }

    #[test]
    fn the_clock_follows_tc_core_init() {
        let c = PschedClock::parse(PSCHED).unwrap();
        assert_eq!(c.ticks_per_usec, 15.625);
        // A nanosecond clock_res makes t2us equal us2t: one tick per microsecond times 1000.
        let ns = PschedClock::parse("000003e8 00000040 3b9aca00 3b9aca00").unwrap();
        assert_eq!(ns.ticks_per_usec, 1000.0);
        assert!(PschedClock::parse("zz 1 2").is_err());
        assert!(PschedClock::parse("1 2").is_err());
        assert!(PschedClock::parse("1 0 2").is_err());
    }

    #[test]
    fn bursts_become_ticks_rounded_up() {
        let c = PschedClock::parse(PSCHED).unwrap();
        // 15,000 bytes at 1.25 MB/s (10 Mbit/s): 12 ms = 12,000 us = 187,500 ticks.
        assert_eq!(c.xmit_ticks(1_250_000, 15_000), 187_500);
        // 1 byte at 3 B/s: 333,333.3 us, truncated to 333,333 -> 5,208,328.1 ticks -> 5,208,328.
        assert_eq!(c.xmit_ticks(3, 1), 5_208_328);
        // 15,013 bytes at 4.6875 MB/s (37.5 Mbit/s): 3,202.8 us -> 3,202 -> 50,031.25 -> 50,031.
        assert_eq!(c.xmit_ticks(4_687_500, 15_013), 50_031);
        // Too long for 32 bits, and no rate at all: the largest value.
        assert_eq!(c.xmit_ticks(1, u32::MAX), u32::MAX);
        assert_eq!(c.xmit_ticks(0, 1), u32::MAX);
    }

    /// Encodes the options as the kernel would dump them and decodes them again.
    fn round_trip(change: &HtbClassChange) -> crate::HtbParams {
        let clock = PschedClock::parse(PSCHED).unwrap();
        let mut buf = Vec::new();
        for (kind, value) in htb_class_options(change, clock) {
            nla(&mut buf, kind, &value);
        }
        decode_htb_options(&buf).unwrap()
    }

    #[test]
    fn options_carry_rates_in_bytes_and_ethernet_link_layer() {
        let p = round_trip(&change(10_000_000, 100_000_000));
        assert_eq!(p.rate.bytes_per_sec, 1_250_000);
        assert_eq!(p.ceil.bytes_per_sec, 12_500_000);
        assert_eq!((p.rate.linklayer, p.ceil.linklayer), (1, 1));
        assert_eq!(p.buffer_ticks, 187_500);
        // 1,600 bytes at 12.5 MB/s: 128 us.
        assert_eq!(p.cbuffer_ticks, 2_000);
        assert_eq!((p.quantum, p.prio, p.level), (1_514, 0, 0));
        let opts = htb_class_options(
            &change(10_000_000, 100_000_000),
            PschedClock::parse(PSCHED).unwrap(),
        );
        assert_eq!(opts.len(), 1, "no 64-bit rates below 2^32 bytes/s");
        assert_eq!(opts[0].1.len(), HTB_OPT_LEN);
    }

    #[test]
    fn rates_beyond_32_bits_go_in_rate64_and_ceil64() {
        // 40 and 100 Gbit/s: 5e9 and 12.5e9 bytes/s.
        let c = change(40_000_000_000, 100_000_000_000);
        let opts = htb_class_options(&c, PschedClock::parse(PSCHED).unwrap());
        let kinds: Vec<u16> = opts.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [TCA_HTB_RATE64, TCA_HTB_CEIL64, TCA_HTB_PARMS]);
        let parms = &opts[2].1;
        assert_eq!(
            &parms[8..12],
            &u32::MAX.to_ne_bytes(),
            "32-bit rate saturated"
        );
        let p = round_trip(&c);
        assert_eq!(p.rate.bytes_per_sec, 5_000_000_000);
        assert_eq!(p.ceil.bytes_per_sec, 12_500_000_000);
    }
}
