//! What a packet read from a TUN device (no packet information header: the IP header comes
//! first) carries, as far as the drop rule needs to know.

/// IP protocol number of TCP.
const TCP: u8 = 6;

/// Whether `packet` (an IPv4 or IPv6 packet) is a TCP segment with payload: a data segment,
/// not a pure ACK, SYN, FIN or RST. Malformed or truncated packets, fragments after the
/// first and anything that is not TCP say no.
pub fn carries_tcp_payload(packet: &[u8]) -> bool {
    match packet.first().map(|b| b >> 4) {
        Some(4) => ipv4_tcp(packet),
        Some(6) => ipv6_tcp(packet),
        _ => None,
    }
    .is_some_and(|(tcp, len)| tcp_payload(tcp, len))
}

/// The TCP header onwards and the length of the TCP segment by the IPv4 header.
fn ipv4_tcp(p: &[u8]) -> Option<(&[u8], usize)> {
    let ihl = usize::from(p.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
    let frag_offset = u16::from_be_bytes([*p.get(6)?, *p.get(7)?]) & 0x1fff;
    if ihl < 20 || total < ihl || frag_offset != 0 || *p.get(9)? != TCP {
        return None;
    }
    Some((p.get(ihl..)?, total - ihl))
}

/// The TCP header onwards and the length of the TCP segment by the IPv6 header, after
/// hop-by-hop, routing and destination options headers (a fragment header says no).
fn ipv6_tcp(p: &[u8]) -> Option<(&[u8], usize)> {
    let payload_len = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
    let mut next = *p.get(6)?;
    let mut at = 40;
    let end = 40 + payload_len;
    loop {
        match next {
            TCP => return Some((p.get(at..)?, end.checked_sub(at)?)),
            // Hop-by-hop, routing, destination options: (next header, length in 8 octets - 1).
            0 | 43 | 60 => {
                next = *p.get(at)?;
                at += (usize::from(*p.get(at + 1)?) + 1) * 8;
            }
            _ => return None,
        }
    }
}

/// Whether a TCP segment of `segment_len` bytes starting with header `tcp` has payload.
fn tcp_payload(tcp: &[u8], segment_len: usize) -> bool {
    let Some(offset) = tcp.get(12) else {
        return false;
    };
    let header = usize::from(offset >> 4) * 4;
    header >= 20 && segment_len > header
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 TCP segment with a 32-byte TCP header (timestamps) and `payload` bytes.
    fn v4(payload: usize) -> Vec<u8> {
        let total = 20 + 32 + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[8] = 64;
        p[9] = TCP;
        p[20 + 12] = 8 << 4;
        p[20 + 13] = 0x10; // ACK
        p
    }

    /// An IPv6 TCP segment, optionally behind a destination options header.
    fn v6(payload: usize, with_options: bool) -> Vec<u8> {
        let ext = if with_options { 8 } else { 0 };
        let len = ext + 20 + payload;
        let mut p = vec![0u8; 40 + len];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(len as u16).to_be_bytes());
        p[6] = if with_options { 60 } else { TCP };
        if with_options {
            p[40] = TCP;
            p[41] = 0;
        }
        p[40 + ext + 12] = 5 << 4;
        p
    }

    #[test]
    fn data_segments_are_recognised_and_pure_acks_are_not() {
        assert!(carries_tcp_payload(&v4(1)));
        assert!(carries_tcp_payload(&v4(1448)));
        assert!(!carries_tcp_payload(&v4(0)));
        assert!(carries_tcp_payload(&v6(100, false)));
        assert!(carries_tcp_payload(&v6(100, true)));
        assert!(!carries_tcp_payload(&v6(0, false)));
        assert!(!carries_tcp_payload(&v6(0, true)));
    }

    #[test]
    fn ethernet_padding_after_the_ip_packet_is_not_payload() {
        // The IP total length says no payload, the buffer is longer.
        let mut p = v4(0);
        p.extend_from_slice(&[0; 6]);
        assert!(!carries_tcp_payload(&p));
    }

    #[test]
    fn other_protocols_fragments_and_garbage_are_not_data() {
        let mut udp = v4(100);
        udp[9] = 17;
        assert!(!carries_tcp_payload(&udp));
        let mut later_fragment = v4(100);
        later_fragment[7] = 1;
        assert!(!carries_tcp_payload(&later_fragment));
        for junk in [&[][..], &[0x45], &[0x60; 39], &[0xff; 60]] {
            assert!(!carries_tcp_payload(junk));
        }
        // Every truncation of a valid packet is handled without a panic.
        let full = v6(10, true);
        for n in 0..full.len() {
            let _ = carries_tcp_payload(&full[..n]);
        }
        let full = v4(10);
        for n in 0..full.len() {
            let _ = carries_tcp_payload(&full[..n]);
        }
    }
}
