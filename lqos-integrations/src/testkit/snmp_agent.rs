//! SNMP agents on loopback for the tests: each answers GET and GETNEXT (v1 and v2c) from a
//! table of invented OIDs over real UDP, on 127.0.0.x and one port shared by all (the AP
//! addresses differ, the configured `snmp_port` is one). A silent agent receives and never
//! answers (a timeout). Requests are parsed with `snmp2`; answers are encoded here (BER).

use snmp2::{MessageType, Pdu};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

/// An OID → value table; `None`: an agent that never answers.
pub type Table = Option<BTreeMap<Vec<u64>, Vec<u8>>>;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 128 {
        out.push(n as u8);
    } else if n < 256 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn int(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut i = 0;
    while i < 7
        && ((bytes[i] == 0 && bytes[i + 1] & 0x80 == 0)
            || (bytes[i] == 0xff && bytes[i + 1] & 0x80 != 0))
    {
        i += 1;
    }
    tlv(0x02, &bytes[i..])
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut chunk = vec![(a & 0x7f) as u8];
        let mut x = a >> 7;
        while x > 0 {
            chunk.push((x & 0x7f) as u8 | 0x80);
            x >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

/// A Response PDU with one varbind (`value`: encoded TLV).
fn response(
    version: i64,
    community: &[u8],
    req_id: i32,
    status: i64,
    name: &[u64],
    value: &[u8],
) -> Vec<u8> {
    let varbind = tlv(0x30, &[oid(name), value.to_vec()].concat());
    let pdu = [
        int(req_id.into()),
        int(status),
        int(if status == 0 { 0 } else { 1 }),
        tlv(0x30, &varbind),
    ]
    .concat();
    tlv(
        0x30,
        &[int(version), tlv(0x04, community), tlv(0xa2, &pdu)].concat(),
    )
}

fn answer(table: &BTreeMap<Vec<u64>, Vec<u8>>, community: &str, packet: &[u8]) -> Option<Vec<u8>> {
    let pdu = Pdu::from_bytes(packet).ok()?;
    if pdu.community != community.as_bytes() {
        return None; // as real agents: a wrong community gets no answer
    }
    let version = pdu.version().ok()? as i64;
    let (name, _) = pdu.varbinds.clone().next()?;
    let asked: Vec<u64> = name.iter()?.collect();
    let found = match pdu.message_type {
        MessageType::GetRequest => table.get(&asked).map(|v| (asked.clone(), v)),
        MessageType::GetNextRequest => table
            .range(asked.clone()..)
            .find(|(k, _)| **k > asked)
            .map(|(k, v)| (k.clone(), v)),
        _ => None,
    };
    Some(match found {
        Some((k, v)) => response(version, pdu.community, pdu.req_id, 0, &k, &tlv(0x04, v)),
        // v1: noSuchName; v2c: endOfMibView.
        None if version == 0 => response(version, pdu.community, pdu.req_id, 2, &asked, &[0x05, 0]),
        None => response(version, pdu.community, pdu.req_id, 0, &asked, &[0x82, 0]),
    })
}

/// Starts one agent per (address, table) on one shared port, in the current runtime;
/// returns the port.
pub async fn start(community: &str, agents: Vec<(Ipv4Addr, Table)>) -> u16 {
    'port: for _ in 0..50 {
        let first = tokio::net::UdpSocket::bind(SocketAddr::from((agents[0].0, 0)))
            .await
            .expect("bind");
        let port = first.local_addr().expect("addr").port();
        let mut sockets = vec![first];
        for (ip, _) in &agents[1..] {
            match tokio::net::UdpSocket::bind(SocketAddr::from((*ip, port))).await {
                Ok(s) => sockets.push(s),
                Err(_) => continue 'port,
            }
        }
        for (socket, (_, table)) in sockets.into_iter().zip(agents) {
            let community = community.to_owned();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_535];
                loop {
                    let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                        return;
                    };
                    let Some(t) = &table else {
                        continue; // silent: the client times out
                    };
                    if let Some(reply) = answer(t, &community, &buf[..n]) {
                        let _ = socket.send_to(&reply, from).await;
                    }
                }
            });
        }
        return port;
    }
    panic!("no free UDP port shared by the test agents");
}
