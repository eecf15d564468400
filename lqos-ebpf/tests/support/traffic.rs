//! Real packets for the privileged tests: a UDP echo in the peer namespace.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::mpsc,
    thread,
    time::Duration,
};

use super::enter_netns;

/// A UDP echo server in `ns` bound to `bind`, answering `count` datagrams (2 s timeout each).
pub fn spawn_echo(ns: String, bind: SocketAddr, count: usize) -> thread::JoinHandle<()> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        enter_netns(&ns).expect("enter peer namespace");
        let sock = UdpSocket::bind(bind).expect("bind echo socket");
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        ready_tx.send(()).expect("signal ready");
        let mut buf = [0u8; 2048];
        for _ in 0..count {
            let (len, from) = sock.recv_from(&mut buf).expect("echo: nothing received");
            sock.send_to(&buf[..len], from).expect("echo reply");
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("echo server ready");
    handle
}

/// Sends `count` datagrams to `to` and waits for each echo: proves the round trip (the
/// replies cross the XDP program and, when mapped, the cpumap).
pub fn echo_round_trips(to: SocketAddr, count: usize) {
    let local: SocketAddr = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
        .parse()
        .expect("any");
    let sock = UdpSocket::bind(local).expect("client socket");
    sock.connect(to).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    for i in 0..count {
        let msg = format!("lqos-ebpf probe {i}");
        sock.send(msg.as_bytes()).expect("send");
        let len = sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no echo from {to}: {e}"));
        assert_eq!(&buf[..len], msg.as_bytes());
    }
}

/// Frame length of one IPv4 / IPv6 probe: Ethernet + IP + UDP + "lqos-ebpf probe N".
pub const PROBE_V4: u64 = 14 + 20 + 8 + 17;
pub const PROBE_V6: u64 = 14 + 40 + 8 + 17;

pub fn packets_of(classes: &[(String, u64)], id: &str) -> u64 {
    classes.iter().find(|(c, _)| c == id).map_or(0, |(_, p)| *p)
}

/// All possible CPUs as a sysfs cpumask (comma-separated 32-bit hex words).
pub fn all_cpus_mask() -> String {
    let n = aya::util::nr_cpus().expect("possible CPUs");
    let words = n.div_ceil(32);
    (0..words)
        .rev()
        .map(|w| {
            let bits = (n - w * 32).min(32);
            let word = if bits == 32 {
                u32::MAX
            } else {
                (1u32 << bits) - 1
            };
            format!("{word:08x}")
        })
        .collect::<Vec<_>>()
        .join(",")
}
