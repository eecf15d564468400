//! HTB's per-class extended statistics (`struct tc_htb_xstats` in `linux/pkt_sched.h`).

use crate::error::DecodeError;
use crate::model::HtbXstats;
use crate::nla::u32_of;

/// Size of `struct tc_htb_xstats`: lends, borrows, giants (u32), tokens, ctokens (s32).
const HTB_XSTATS_LEN: usize = 20;

/// Decodes the payload of `TCA_STATS_APP` (or `TCA_XSTATS`) of an HTB class.
pub fn decode_htb_xstats(buf: &[u8]) -> Result<HtbXstats, DecodeError> {
    const WHAT: &str = "struct tc_htb_xstats";
    if buf.len() < HTB_XSTATS_LEN {
        return Err(DecodeError::TooShort {
            what: WHAT,
            len: buf.len(),
            expected: HTB_XSTATS_LEN,
        });
    }
    let field = |i: usize| u32_of(&buf[i * 4..], WHAT);
    Ok(HtbXstats {
        lends: field(0)?,
        borrows: field(1)?,
        giants: field(2)?,
        tokens: field(3)? as i32,
        ctokens: field(4)? as i32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fields_and_negative_tokens() {
        let mut b = Vec::new();
        for v in [5u32, 6, 7, (-1000i32) as u32, 2000] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        let x = decode_htb_xstats(&b).unwrap();
        assert_eq!(
            x,
            HtbXstats {
                lends: 5,
                borrows: 6,
                giants: 7,
                tokens: -1000,
                ctokens: 2000
            }
        );
        assert!(decode_htb_xstats(&b[..19]).is_err());
    }
}
