//! Hand-made IPv4/UDP packets sent from inside a namespace through a raw socket: address scans
//! and flow floods that no ordinary tool makes quickly (every packet its own source address or
//! port), for the flow-table tests.

use crate::NetNs;
use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// One UDP datagram: source and destination address and port, 8 bytes of payload.
#[derive(Debug, Clone, Copy)]
pub struct Udp {
    pub src: Ipv4Addr,
    pub sport: u16,
    pub dst: Ipv4Addr,
    pub dport: u16,
}

fn datagram(p: &Udp) -> [u8; 36] {
    let mut b = [0u8; 36];
    b[0] = 0x45; // version 4, IHL 5
    b[2..4].copy_from_slice(&36u16.to_be_bytes());
    b[8] = 64; // TTL
    b[9] = 17; // UDP
               // Checksum and id are filled in by the kernel (IP_HDRINCL).
    b[12..16].copy_from_slice(&p.src.octets());
    b[16..20].copy_from_slice(&p.dst.octets());
    b[20..22].copy_from_slice(&p.sport.to_be_bytes());
    b[22..24].copy_from_slice(&p.dport.to_be_bytes());
    b[24..26].copy_from_slice(&16u16.to_be_bytes());
    // UDP checksum 0: none (allowed over IPv4).
    b[28..36].copy_from_slice(b"lqostest");
    b
}

/// Sends every datagram from inside `ns` (a thread that enters the namespace opens the
/// socket; the socket stays in it). Returns how many were sent; a full socket buffer is
/// waited out, so all are sent unless a send fails.
pub fn send_udp(ns: &NetNs, packets: Vec<Udp>) -> Result<usize> {
    let path = format!("/run/netns/{}", ns.name());
    let handle = std::thread::spawn(move || -> Result<usize> {
        let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        // SAFETY: a valid namespace fd; this thread alone moves into the namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("setns {path}: {}", std::io::Error::last_os_error());
        }
        // SAFETY: plain socket(2); the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        if fd < 0 {
            bail!("raw socket: {}", std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh socket we own.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut sent = 0;
        for p in &packets {
            let bytes = datagram(p);
            // SAFETY: sockaddr_in zeroed and filled; lengths match the buffers.
            let mut to: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            to.sin_family = libc::AF_INET as libc::sa_family_t;
            to.sin_addr.s_addr = u32::from_ne_bytes(p.dst.octets());
            loop {
                let rc = unsafe {
                    libc::sendto(
                        sock.as_raw_fd(),
                        bytes.as_ptr().cast(),
                        bytes.len(),
                        0,
                        (&to as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                };
                if rc >= 0 {
                    sent += 1;
                    break;
                }
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ENOBUFS) | Some(libc::EAGAIN) => {
                        std::thread::sleep(std::time::Duration::from_micros(200))
                    }
                    _ => bail!("sendto {}: {e}", p.dst),
                }
            }
        }
        Ok(sent)
    });
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("the sending thread panicked"))?
}

#[cfg(test)]
mod tests {
    #[test]
    fn datagrams_are_well_formed() {
        let b = super::datagram(&super::Udp {
            src: "100.64.1.2".parse().unwrap(),
            sport: 4000,
            dst: "100.64.0.1".parse().unwrap(),
            dport: 9,
        });
        assert_eq!(b[0], 0x45);
        assert_eq!(u16::from_be_bytes([b[2], b[3]]), 36);
        assert_eq!(&b[12..16], &[100, 64, 1, 2]);
        assert_eq!(u16::from_be_bytes([b[20], b[21]]), 4000);
        assert_eq!(u16::from_be_bytes([b[24], b[25]]), 16, "UDP length");
    }
}
