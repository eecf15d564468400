//! Crafted Ethernet frames (TCP with timestamp options, UDP) for BPF_PROG_TEST_RUN, and
//! running the XDP program on them. Checksums stay 0: no program reads them.

use std::{
    net::IpAddr,
    os::fd::{AsFd, AsRawFd},
};

use aya::Ebpf;

use super::dataplane::xdp;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// How the TCP options are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Opts {
    /// NOP, NOP, TS (Linux's data segments: the fast path).
    NopNopTs,
    /// MSS, SACK permitted, TS, NOP, window scale (Linux's SYN: the option walk).
    SynLayout,
    /// No options.
    None,
}

/// One TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct Tcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub flags: u8,
    pub tsval: u32,
    pub tsecr: u32,
    pub payload: usize,
    pub opts: Opts,
}

impl Tcp {
    /// A segment with NOP,NOP,TS options, ACK flag, no payload.
    pub fn new(sport: u16, dport: u16) -> Self {
        Tcp {
            sport,
            dport,
            seq: 1000,
            flags: ACK,
            tsval: 0,
            tsecr: 0,
            payload: 0,
            opts: Opts::NopNopTs,
        }
    }
}

fn l3(src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend(0x0800u16.to_be_bytes());
            f.extend([0x45, 0]);
            f.extend(((20 + l4.len()) as u16).to_be_bytes());
            f.extend([0, 1, 0x40, 0, 64, proto, 0, 0]);
            f.extend(s.octets());
            f.extend(d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend(0x86ddu16.to_be_bytes());
            f.extend([0x60, 0, 0, 0]);
            f.extend((l4.len() as u16).to_be_bytes());
            f.extend([proto, 64]);
            f.extend(s.octets());
            f.extend(d.octets());
        }
        _ => panic!("mixed address families"),
    }
    f.extend_from_slice(l4);
    f
}

/// Ethernet + IP + TCP frame.
pub fn tcp(src: IpAddr, dst: IpAddr, t: &Tcp) -> Vec<u8> {
    let mut opts = Vec::new();
    let ts = |o: &mut Vec<u8>| {
        o.extend([8, 10]);
        o.extend(t.tsval.to_be_bytes());
        o.extend(t.tsecr.to_be_bytes());
    };
    match t.opts {
        Opts::NopNopTs => {
            opts.extend([1, 1]);
            ts(&mut opts);
        }
        Opts::SynLayout => {
            opts.extend([2, 4, 0x05, 0xb4, 4, 2]);
            ts(&mut opts);
            opts.extend([1, 3, 3, 7]);
        }
        Opts::None => {}
    }
    assert_eq!(opts.len() % 4, 0);
    let doff = (20 + opts.len()) / 4;
    let mut seg = Vec::new();
    seg.extend(t.sport.to_be_bytes());
    seg.extend(t.dport.to_be_bytes());
    seg.extend(t.seq.to_be_bytes());
    seg.extend(1u32.to_be_bytes()); // ack number
    seg.extend([(doff as u8) << 4, t.flags, 0xff, 0xff, 0, 0, 0, 0]);
    seg.extend(opts);
    seg.resize(seg.len() + t.payload, 0xab);
    l3(src, dst, 6, &seg)
}

/// Ethernet + IP + UDP frame with `payload` bytes.
pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(sport.to_be_bytes());
    d.extend(dport.to_be_bytes());
    d.extend(((8 + payload) as u16).to_be_bytes());
    d.extend([0, 0]);
    d.resize(8 + payload, 0xcd);
    l3(src, dst, 17, &d)
}

/// Ethernet + IP + ICMP echo request (ICMPv6 for IPv6).
pub fn icmp(src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let (proto, kind) = if src.is_ipv4() { (1, 8) } else { (58, 128) };
    l3(src, dst, proto, &[kind, 0, 0, 0, 0, 1, 0, 1])
}

/// IP length of a frame made here (no VLAN tags).
pub fn ip_len(frame: &[u8]) -> u64 {
    frame.len() as u64 - 14
}

/// Runs the XDP program once on `frame` arriving on `ifindex`; returns its verdict.
pub fn run_xdp(ebpf: &mut Ebpf, ifindex: u32, frame: &[u8]) -> u32 {
    let fd = xdp(ebpf).fd().expect("xdp fd").as_fd().as_raw_fd();
    let md = [0, frame.len() as u32, 0, ifindex, 0, 0];
    let mut ctx: Vec<u8> = md.iter().flat_map(|w| w.to_ne_bytes()).collect();
    super::prog_test_run::test_run(fd, frame, &mut ctx, 1).0
}
