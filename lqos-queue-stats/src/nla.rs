//! A borrowing, allocation-free walk over netlink attributes (`struct nlattr`: u16 length
//! including the 4 byte header, u16 type, payload padded to 4 bytes), with errors that name the
//! attribute.

use crate::error::DecodeError;

/// Type bits of `nla_type` (the top two are `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`).
const NLA_TYPE_MASK: u16 = 0x3fff;
/// Length of `struct nlattr`.
const NLA_HDRLEN: usize = 4;

/// Rounds `len` up to the netlink alignment of 4 bytes.
pub(crate) const fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Iterates over the attributes in `buf`, yielding `(type, payload)`. `within` names the buffer
/// and `name` names an attribute type, both for errors. After an error the iterator ends.
pub(crate) struct Nlas<'a> {
    buf: &'a [u8],
    within: &'static str,
    name: fn(u16) -> &'static str,
}

impl<'a> Nlas<'a> {
    /// Attributes of `buf`, the payload of `within`, named by `name`.
    pub(crate) fn new(buf: &'a [u8], within: &'static str, name: fn(u16) -> &'static str) -> Self {
        Nlas { buf, within, name }
    }
}

impl<'a> Iterator for Nlas<'a> {
    type Item = Result<(u16, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.buf);
        let Some(header) = buf.get(..NLA_HDRLEN) else {
            return Some(Err(DecodeError::TruncatedHeader {
                within: self.within,
                available: buf.len(),
            }));
        };
        let declared = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        let kind = u16::from_ne_bytes([header[2], header[3]]) & NLA_TYPE_MASK;
        if declared < NLA_HDRLEN {
            return Some(Err(DecodeError::BadAttributeLength {
                attribute: (self.name)(kind),
                kind,
                declared,
            }));
        }
        let Some(payload) = buf.get(NLA_HDRLEN..declared) else {
            return Some(Err(DecodeError::TruncatedAttribute {
                attribute: (self.name)(kind),
                kind,
                declared,
                available: buf.len(),
            }));
        };
        // The last attribute's padding may be missing.
        self.buf = buf.get(align4(declared)..).unwrap_or_default();
        Some(Ok((kind, payload)))
    }
}

/// The first 4 bytes of `payload` as a native-endian u32; `what` names it for the error.
pub(crate) fn u32_of(payload: &[u8], what: &'static str) -> Result<u32, DecodeError> {
    match payload.get(..4) {
        Some(b) => Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DecodeError::TooShort {
            what,
            len: payload.len(),
            expected: 4,
        }),
    }
}

/// The first 8 bytes of `payload` as a native-endian u64; `what` names it for the error.
pub(crate) fn u64_of(payload: &[u8], what: &'static str) -> Result<u64, DecodeError> {
    match payload.get(..8) {
        Some(b) => Ok(u64::from_ne_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ])),
        None => Err(DecodeError::TooShort {
            what,
            len: payload.len(),
            expected: 8,
        }),
    }
}

/// Test helpers that build attributes the way the kernel does (`nla_put`).
#[cfg(test)]
pub(crate) mod build {
    /// Appends an attribute of type `kind` with `payload`, padded to 4 bytes.
    pub(crate) fn nla(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
        let len = u16::try_from(4 + payload.len()).unwrap();
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// An attribute holding a u32.
    pub(crate) fn nla_u32(out: &mut Vec<u8>, kind: u16, v: u32) {
        nla(out, kind, &v.to_ne_bytes());
    }

    /// An attribute holding a u64.
    pub(crate) fn nla_u64(out: &mut Vec<u8>, kind: u16, v: u64) {
        nla(out, kind, &v.to_ne_bytes());
    }

    /// A nested attribute whose payload is `inner` (already a list of attributes).
    pub(crate) fn nest(out: &mut Vec<u8>, kind: u16, inner: &[u8]) {
        nla(out, kind, inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(_: u16) -> &'static str {
        "TEST_ATTR"
    }

    #[test]
    fn walks_padded_attributes_and_masks_flags() {
        let mut b = Vec::new();
        build::nla(&mut b, 1, &[7]);
        build::nla(&mut b, 2 | 0x8000, &[1, 2, 3, 4, 5]);
        let got: Vec<_> = Nlas::new(&b, "test", name)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, vec![(1, &[7u8][..]), (2, &[1, 2, 3, 4, 5][..])]);
    }

    #[test]
    fn last_attribute_without_padding_is_accepted() {
        let mut b = Vec::new();
        build::nla(&mut b, 3, &[9]);
        b.truncate(5);
        let got: Vec<_> = Nlas::new(&b, "test", name)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, vec![(3, &[9u8][..])]);
    }

    #[test]
    fn truncated_attribute_is_an_error_naming_it() {
        let mut b = Vec::new();
        build::nla_u64(&mut b, 5, 1);
        b.truncate(8);
        let err = Nlas::new(&b, "test", name).next().unwrap().unwrap_err();
        assert_eq!(
            err,
            DecodeError::TruncatedAttribute {
                attribute: "TEST_ATTR",
                kind: 5,
                declared: 12,
                available: 8
            }
        );
        assert!(err.to_string().contains("TEST_ATTR"));
    }

    #[test]
    fn stray_bytes_and_short_lengths_are_errors() {
        let err = Nlas::new(&[1, 0], "outer", name)
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(
            err,
            DecodeError::TruncatedHeader {
                within: "outer",
                available: 2
            }
        ));
        let mut b = 2u16.to_ne_bytes().to_vec();
        b.extend_from_slice(&1u16.to_ne_bytes());
        let err = Nlas::new(&b, "outer", name).next().unwrap().unwrap_err();
        assert!(matches!(
            err,
            DecodeError::BadAttributeLength { declared: 2, .. }
        ));
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let mut it = Nlas::new(&[1, 0], "outer", name);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn short_integers_are_errors() {
        let mut b = 7u32.to_ne_bytes().to_vec();
        b.push(9);
        assert_eq!(u32_of(&b, "x").unwrap(), 7);
        assert!(u32_of(&[1, 0, 0], "x").is_err());
        assert!(u64_of(&[0; 7], "y").is_err());
    }
}
