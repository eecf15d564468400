//! fq_codel's extended statistics (`struct tc_fq_codel_xstats` with type
//! `TCA_FQ_CODEL_XSTATS_QDISC`), decoded by netlink-packet-route's `TcFqCodelXstats`.

use netlink_packet_core::Parseable;
use netlink_packet_route::tc::TcFqCodelXstats;

use crate::error::DecodeError;
use crate::model::FqCodelStats;

/// Decodes the payload of `TCA_STATS_APP` (or `TCA_XSTATS`) of an `fq_codel` qdisc: a u32
/// type, then `struct tc_fq_codel_qd_stats` (9 u32). Class statistics (type 1, from a class
/// dump of fq_codel's flows) are an error, as is a payload shorter than the structure.
pub fn decode_fq_codel_xstats(buf: &[u8]) -> Result<FqCodelStats, DecodeError> {
    const WHAT: &str = "struct tc_fq_codel_xstats";
    let kind = crate::nla::u32_of(buf, WHAT)?;
    match TcFqCodelXstats::parse(buf) {
        Ok(TcFqCodelXstats::Qdisc(q)) => Ok(FqCodelStats {
            maxpacket: q.maxpacket,
            drop_overlimit: q.drop_overlimit,
            ecn_mark: q.ecn_mark,
            new_flow_count: q.new_flow_count,
            new_flows_len: q.new_flows_len,
            old_flows_len: q.old_flows_len,
            ce_mark: q.ce_mark,
            memory_usage: q.memory_usage,
            drop_overmemory: q.drop_overmemory,
        }),
        Ok(_) => Err(DecodeError::NotFqCodelQdisc { kind }),
        Err(e) => Err(DecodeError::Netlink {
            what: WHAT,
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `struct tc_fq_codel_xstats` of type `kind` with the u32 fields `fields`.
    fn xstats(kind: u32, fields: &[u32]) -> Vec<u8> {
        let mut b = kind.to_ne_bytes().to_vec();
        for f in fields {
            b.extend_from_slice(&f.to_ne_bytes());
        }
        b
    }

    #[test]
    fn decodes_the_qdisc_variant_in_pkt_sched_h_order() {
        let b = xstats(0, &[1514, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(
            decode_fq_codel_xstats(&b).unwrap(),
            FqCodelStats {
                maxpacket: 1514,
                drop_overlimit: 2,
                ecn_mark: 3,
                new_flow_count: 4,
                new_flows_len: 5,
                old_flows_len: 6,
                ce_mark: 7,
                memory_usage: 8,
                drop_overmemory: 9,
            }
        );
    }

    #[test]
    fn class_variant_is_refused() {
        let b = xstats(1, &[0; 6]);
        assert_eq!(
            decode_fq_codel_xstats(&b).unwrap_err(),
            DecodeError::NotFqCodelQdisc { kind: 1 }
        );
    }

    #[test]
    fn short_payloads_are_errors_naming_the_struct() {
        for len in 0..40 {
            let b = xstats(0, &[1; 9]);
            let err = decode_fq_codel_xstats(&b[..len]).unwrap_err();
            assert!(
                err.to_string().contains("tc_fq_codel_xstats"),
                "{len}: {err}"
            );
        }
    }
}
