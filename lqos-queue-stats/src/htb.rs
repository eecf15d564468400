//! HTB's per-class extended statistics (`struct tc_htb_xstats` in `linux/pkt_sched.h`) and its
//! class options (`struct tc_htb_opt` and the 64-bit rates), decoded and encoded.

use crate::error::DecodeError;
use crate::model::{HtbParams, HtbXstats, RateSpec};
use crate::nla::{u32_of, u64_of, Nlas};

// enum { TCA_HTB_* } in linux/pkt_sched.h.
pub(crate) const TCA_HTB_PARMS: u16 = 1;
pub(crate) const TCA_HTB_RATE64: u16 = 6;
pub(crate) const TCA_HTB_CEIL64: u16 = 7;

/// Size of `struct tc_ratespec`: cell_log, linklayer (u8), overhead (u16), cell_align (s16),
/// mpu (u16), rate (u32).
pub(crate) const RATESPEC_LEN: usize = 12;
/// Size of `struct tc_htb_opt`: rate, ceil (tc_ratespec), buffer, cbuffer, quantum, level, prio
/// (u32).
pub(crate) const HTB_OPT_LEN: usize = 2 * RATESPEC_LEN + 5 * 4;

fn htb_attr_name(kind: u16) -> &'static str {
    match kind {
        TCA_HTB_PARMS => "TCA_HTB_PARMS",
        TCA_HTB_RATE64 => "TCA_HTB_RATE64",
        TCA_HTB_CEIL64 => "TCA_HTB_CEIL64",
        _ => "a TCA_HTB attribute",
    }
}

/// Decodes an HTB class's `TCA_OPTIONS`: `TCA_HTB_PARMS`, with `TCA_HTB_RATE64` /
/// `TCA_HTB_CEIL64` replacing the 32-bit rates when present.
pub fn decode_htb_options(buf: &[u8]) -> Result<HtbParams, DecodeError> {
    const WHAT: &str = "struct tc_htb_opt";
    let (mut parms, mut rate64, mut ceil64) = (None, None, None);
    for nla in Nlas::new(buf, "TCA_OPTIONS of an HTB class", htb_attr_name) {
        let (kind, value) = nla?;
        match kind {
            TCA_HTB_PARMS => parms = Some(value),
            TCA_HTB_RATE64 => rate64 = Some(u64_of(value, "TCA_HTB_RATE64")?),
            TCA_HTB_CEIL64 => ceil64 = Some(u64_of(value, "TCA_HTB_CEIL64")?),
            _ => {}
        }
    }
    let p = parms.ok_or(DecodeError::TooShort {
        what: "TCA_HTB_PARMS (absent)",
        len: 0,
        expected: HTB_OPT_LEN,
    })?;
    if p.len() < HTB_OPT_LEN {
        return Err(DecodeError::TooShort {
            what: WHAT,
            len: p.len(),
            expected: HTB_OPT_LEN,
        });
    }
    let u16_at = |i: usize| u16::from_ne_bytes([p[i], p[i + 1]]);
    let spec = |at: usize, wide: Option<u64>| -> Result<RateSpec, DecodeError> {
        Ok(RateSpec {
            bytes_per_sec: match wide {
                Some(r) => r,
                None => u64::from(u32_of(&p[at + 8..], WHAT)?),
            },
            linklayer: p[at + 1] & 0x0f,
            overhead: u16_at(at + 2),
            mpu: u16_at(at + 6),
        })
    };
    let field = |i: usize| u32_of(&p[2 * RATESPEC_LEN + i * 4..], WHAT);
    Ok(HtbParams {
        rate: spec(0, rate64)?,
        ceil: spec(RATESPEC_LEN, ceil64)?,
        buffer_ticks: field(0)?,
        cbuffer_ticks: field(1)?,
        quantum: field(2)?,
        level: field(3)?,
        prio: field(4)?,
    })
}

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

    #[test]
    fn options_without_parms_or_too_short_are_errors_naming_them() {
        use crate::nla::build::{nla, nla_u64};
        let mut only64 = Vec::new();
        nla_u64(&mut only64, TCA_HTB_RATE64, 1 << 33);
        let e = decode_htb_options(&only64).unwrap_err();
        assert!(e.to_string().contains("TCA_HTB_PARMS"), "{e}");
        let mut short = Vec::new();
        nla(&mut short, TCA_HTB_PARMS, &[0; 40]);
        let e = decode_htb_options(&short).unwrap_err();
        assert!(e.to_string().contains("tc_htb_opt"), "{e}");
        assert!(decode_htb_options(&[1, 0]).is_err(), "stray bytes");
    }
}
