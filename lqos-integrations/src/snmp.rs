//! SNMP reads for the AP walks (Sonar): a GETNEXT walk of one table and a GET, over the
//! maintained `snmp2` client, version 1 as LibreQoS's `snmpwalk -v 1`. Every request has a
//! timeout and never runs past the caller's deadline; a walk stops at the end of its subtree,
//! at the end of the agent's view, or after `MAX_ROWS` rows.

use snmp2::{AsyncSession, Oid, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// The most rows one walk reads (an AP has at most a few hundred stations).
pub const MAX_ROWS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SnmpError {
    #[error("{addr}: cannot open a UDP socket: {source}")]
    Socket {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr}: no SNMP answer within {secs} s")]
    Timeout { addr: SocketAddr, secs: u64 },
    #[error("{addr}: the SNMP time budget of this run is spent")]
    Budget { addr: SocketAddr },
    #[error("{addr}: {detail}")]
    Protocol { addr: SocketAddr, detail: String },
}

/// One agent: its address, community and per-request timeout.
pub struct Agent {
    pub addr: SocketAddr,
    pub community: String,
    pub timeout: Duration,
    /// No request runs past this.
    pub deadline: Instant,
}

/// A value as text: printable octets as they are, other octets (a MAC) as upper-case hex
/// pairs joined by ':'; numbers in decimal; `None` for anything else.
pub fn value_text(v: &Value<'_>) -> Option<String> {
    match v {
        Value::OctetString(b) => Some(
            if !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
                String::from_utf8_lossy(b).into_owned()
            } else {
                b.iter()
                    .map(|x| format!("{x:02X}"))
                    .collect::<Vec<_>>()
                    .join(":")
            },
        ),
        Value::Integer(n) => Some(n.to_string()),
        Value::Counter32(n) | Value::Unsigned32(n) | Value::Timeticks(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Agent {
    async fn session(&self) -> Result<AsyncSession, SnmpError> {
        AsyncSession::new_v1(self.addr, self.community.as_bytes(), 1)
            .await
            .map_err(|source| SnmpError::Socket {
                addr: self.addr,
                source,
            })
    }

    /// Runs one request with the timeout, within the deadline.
    async fn bounded<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, snmp2::Error>>,
    ) -> Result<T, SnmpError> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(SnmpError::Budget { addr: self.addr });
        }
        let until = (now + self.timeout).min(self.deadline);
        match tokio::time::timeout_at(until, f).await {
            Ok(r) => r.map_err(|e| SnmpError::Protocol {
                addr: self.addr,
                detail: match e {
                    snmp2::Error::Send | snmp2::Error::Receive => format!(
                        "the SNMP request failed ({e:?}): no agent listens there, or it is unreachable"
                    ),
                    e => format!("the SNMP answer is not usable: {e:?}"),
                },
            }),
            Err(_) if until == self.deadline => Err(SnmpError::Budget { addr: self.addr }),
            Err(_) => Err(SnmpError::Timeout {
                addr: self.addr,
                secs: self.timeout.as_secs(),
            }),
        }
    }

    fn oid(&self, arcs: &[u64]) -> Result<Oid<'static>, SnmpError> {
        Oid::from(arcs).map_err(|e| SnmpError::Protocol {
            addr: self.addr,
            detail: format!("bad OID {arcs:?}: {e:?}"),
        })
    }

    /// The rows under `root` as (OID arcs, value bytes: an octet string as sent, anything
    /// else as its text).
    pub async fn walk(&self, root: &[u64]) -> Result<Vec<(Vec<u64>, Vec<u8>)>, SnmpError> {
        let mut s = self.session().await?;
        let mut rows = Vec::new();
        let mut current = root.to_vec();
        while rows.len() < MAX_ROWS {
            let oid = self.oid(&current)?;
            let pdu = self.bounded(s.getnext(&oid)).await?;
            // SNMPv1 ends a walk with noSuchName (error status 2).
            if pdu.error_status != 0 {
                break;
            }
            let Some((name, value)) = pdu.varbinds.clone().next() else {
                break;
            };
            let arcs: Vec<u64> = name.iter().map(|i| i.collect()).unwrap_or_default();
            let past = matches!(
                value,
                Value::EndOfMibView | Value::NoSuchObject | Value::NoSuchInstance
            );
            // Out of the subtree, or not moving forward (a broken agent): done.
            if past || !arcs.starts_with(root) || arcs <= current {
                break;
            }
            let bytes = match &value {
                Value::OctetString(b) => Some(b.to_vec()),
                other => value_text(other).map(String::into_bytes),
            };
            if let Some(b) = bytes {
                rows.push((arcs.clone(), b));
            }
            current = arcs;
        }
        Ok(rows)
    }

    /// The value of one OID as text (`None`: the agent has no such object).
    pub async fn get(&self, oid: &[u64]) -> Result<Option<String>, SnmpError> {
        let mut s = self.session().await?;
        let oid = self.oid(oid)?;
        let pdu = self.bounded(s.get(&oid)).await?;
        if pdu.error_status != 0 {
            return Ok(None);
        }
        Ok(pdu
            .varbinds
            .clone()
            .next()
            .and_then(|(_, v)| value_text(&v)))
    }
}
