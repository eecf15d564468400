//! A sorted, non-overlapping range table: three parallel vectors (starts, ends, values), looked
//! up with a binary search over the starts. Keys are `u32` (IPv4) or `u128` (IPv6).
//!
//! A plain binary search over 400k starts (1.6 MB) takes ~19 dependent cache misses. So the
//! search runs first over a summary holding every 16th start, which is 1/16 the size and
//! mostly stays in cache, then within one block of 16 starts (see docs/benchmarks.md "Geo
//! look-ups" for the figures).

use super::error::FormatError;

/// An address key as stored in a table file (little-endian).
pub(crate) trait Key: Copy + Ord + std::fmt::Debug {
    const SIZE: usize;
    /// Starts per summary entry (16: one cache line of IPv4 starts, four of IPv6 starts, so
    /// that both summaries are 1/16 of the starts and the IPv6 one stays in cache too).
    const BLOCK: usize = 16;
    fn put(self, out: &mut Vec<u8>);
    /// `bytes` is exactly `SIZE` long.
    fn get(bytes: &[u8]) -> Self;
}

impl Key for u32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        let mut b = [0u8; 4];
        b.copy_from_slice(bytes);
        u32::from_le_bytes(b)
    }
}

impl Key for u128 {
    const SIZE: usize = 16;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        let mut b = [0u8; 16];
        b.copy_from_slice(bytes);
        u128::from_le_bytes(b)
    }
}

/// A range's value as stored in a table file: an index into the ASN table (`u32`) or a
/// country code (`[u8; 2]`).
pub(crate) trait Value: Copy + std::fmt::Debug {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    /// `bytes` is exactly `SIZE` long.
    fn get(bytes: &[u8]) -> Self;
}

impl Value for u32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        Key::put(self, out)
    }
    fn get(bytes: &[u8]) -> Self {
        <u32 as Key>::get(bytes)
    }
}

impl Value for [u8; 2] {
    const SIZE: usize = 2;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self);
    }
    fn get(bytes: &[u8]) -> Self {
        [bytes[0], bytes[1]]
    }
}

/// Sorted, non-overlapping, inclusive ranges with a value each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeTable<K, V> {
    starts: Vec<K>,
    ends: Vec<K>,
    values: Vec<V>,
    /// `starts[0]`, `starts[BLOCK]`, `starts[2 * BLOCK]`, ... (derived, not stored in files).
    summary: Vec<K>,
}

impl<K, V> Default for RangeTable<K, V> {
    fn default() -> Self {
        Self {
            starts: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
            summary: Vec::new(),
        }
    }
}

impl<K: Key, V: Value> RangeTable<K, V> {
    /// Builds a table from parallel vectors, checking the order: `start <= end` and each start
    /// after the previous end. `family` names the table in the error.
    pub(crate) fn from_parts(
        starts: Vec<K>,
        ends: Vec<K>,
        values: Vec<V>,
        family: &'static str,
    ) -> Result<Self, FormatError> {
        debug_assert!(starts.len() == ends.len() && ends.len() == values.len());
        for index in 0..starts.len() {
            let ordered =
                starts[index] <= ends[index] && (index == 0 || starts[index] > ends[index - 1]);
            if !ordered {
                return Err(FormatError::Unsorted { family, index });
            }
        }
        let summary = starts.iter().step_by(K::BLOCK).copied().collect();
        Ok(Self {
            starts,
            ends,
            values,
            summary,
        })
    }

    /// Decodes `count` ranges from `bytes`, which holds exactly the starts, then the ends,
    /// then the values (the caller has sized it from the header).
    pub(crate) fn decode(
        bytes: &[u8],
        count: usize,
        family: &'static str,
    ) -> Result<Self, FormatError> {
        let (starts, rest) = bytes.split_at(count * K::SIZE);
        let (ends, values) = rest.split_at(count * K::SIZE);
        Self::from_parts(
            starts.chunks_exact(K::SIZE).map(K::get).collect(),
            ends.chunks_exact(K::SIZE).map(K::get).collect(),
            values.chunks_exact(V::SIZE).map(V::get).collect(),
            family,
        )
    }

    /// Appends the starts, the ends, then the values.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(encoded_len::<K, V>(self.len()));
        self.starts.iter().for_each(|k| k.put(out));
        self.ends.iter().for_each(|k| k.put(out));
        self.values.iter().for_each(|v| v.put(out));
    }

    /// The value of the range holding `key`, if any.
    #[inline]
    pub(crate) fn get(&self, key: K) -> Option<V> {
        // The block whose first start is the last one <= key; the range is in it.
        let block = self.summary.partition_point(|&s| s <= key).checked_sub(1)?;
        let lo = block * K::BLOCK;
        let hi = (lo + K::BLOCK).min(self.starts.len());
        // starts[lo] <= key, so `after` >= lo + 1.
        let after = lo + self.starts[lo..hi].partition_point(|&s| s <= key);
        let i = after - 1;
        if key <= self.ends[i] {
            Some(self.values[i])
        } else {
            None
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    pub(crate) fn values(&self) -> &[V] {
        &self.values
    }

    /// Iterates `(start, end, value)`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (K, K, V)> + '_ {
        (0..self.len()).map(|i| (self.starts[i], self.ends[i], self.values[i]))
    }

    /// Heap bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.starts.capacity() * size_of::<K>()
            + self.ends.capacity() * size_of::<K>()
            + self.values.capacity() * size_of::<V>()
            + self.summary.capacity() * size_of::<K>()
    }
}

/// Bytes `count` ranges of key `K` and value `V` take in a file.
pub(crate) fn encoded_len<K: Key, V: Value>(count: usize) -> usize {
    count * (2 * K::SIZE + V::SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RangeTable<u32, u32> {
        RangeTable::from_parts(vec![10, 20, 31], vec![19, 29, 40], vec![1, 2, 3], "IPv4")
            .expect("sorted")
    }

    #[test]
    fn boundaries() {
        let t = table();
        assert_eq!(t.get(9), None);
        assert_eq!(t.get(10), Some(1));
        assert_eq!(t.get(19), Some(1));
        assert_eq!(t.get(20), Some(2));
        assert_eq!(t.get(29), Some(2));
        assert_eq!(t.get(30), None, "the gap between two ranges");
        assert_eq!(t.get(31), Some(3));
        assert_eq!(t.get(40), Some(3));
        assert_eq!(t.get(41), None);
        assert_eq!(t.get(u32::MAX), None);
        assert_eq!(t.get(0), None);
    }

    #[test]
    fn full_key_space_edges() {
        let t = RangeTable::<u128, [u8; 2]>::from_parts(
            vec![0, u128::MAX],
            vec![0, u128::MAX],
            vec![*b"AA", *b"ZZ"],
            "IPv6",
        )
        .expect("sorted");
        assert_eq!(t.get(0), Some(*b"AA"));
        assert_eq!(t.get(1), None);
        assert_eq!(t.get(u128::MAX), Some(*b"ZZ"));
        assert_eq!(t.get(u128::MAX - 1), None);
    }

    #[test]
    fn block_search_agrees_with_a_linear_scan_across_block_edges() {
        // 100 ranges of 3 addresses with gaps of 2: several summary blocks (16 per block).
        let starts: Vec<u32> = (0..100).map(|i| i * 5 + 7).collect();
        let ends: Vec<u32> = starts.iter().map(|s| s + 2).collect();
        let values: Vec<u32> = (0..100).collect();
        let t =
            RangeTable::from_parts(starts.clone(), ends.clone(), values, "IPv4").expect("sorted");
        for key in 0..520u32 {
            let want = (0..100)
                .find(|&i| starts[i] <= key && key <= ends[i])
                .map(|i| i as u32);
            assert_eq!(t.get(key), want, "key {key}");
        }
        let t6 = RangeTable::<u128, u32>::from_parts(
            starts.iter().map(|&s| s as u128 + (1 << 100)).collect(),
            ends.iter().map(|&e| e as u128 + (1 << 100)).collect(),
            (0..100).collect(),
            "IPv6",
        )
        .expect("sorted");
        for key in 0..520u32 {
            let want = (0..100)
                .find(|&i| starts[i] <= key && key <= ends[i])
                .map(|i| i as u32);
            assert_eq!(t6.get(key as u128 + (1 << 100)), want, "key {key}");
        }
    }

    #[test]
    fn unsorted_and_overlapping_are_rejected_with_their_index() {
        let overlap =
            RangeTable::<u32, u32>::from_parts(vec![0, 5], vec![5, 9], vec![1, 2], "IPv4");
        assert_eq!(
            overlap,
            Err(FormatError::Unsorted {
                family: "IPv4",
                index: 1
            })
        );
        let reversed =
            RangeTable::<u32, u32>::from_parts(vec![0, 9], vec![3, 8], vec![1, 2], "IPv4");
        assert_eq!(
            reversed,
            Err(FormatError::Unsorted {
                family: "IPv4",
                index: 1
            })
        );
        let unsorted =
            RangeTable::<u32, u32>::from_parts(vec![10, 0], vec![12, 3], vec![1, 2], "IPv4");
        assert!(matches!(
            unsorted,
            Err(FormatError::Unsorted { index: 1, .. })
        ));
    }

    #[test]
    fn encode_decode_round_trip() {
        let t = table();
        let mut bytes = Vec::new();
        t.encode(&mut bytes);
        assert_eq!(bytes.len(), encoded_len::<u32, u32>(3));
        assert_eq!(RangeTable::decode(&bytes, 3, "IPv4"), Ok(t));
    }
}
