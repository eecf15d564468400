//! The validated inputs as one byte string: what the leader publishes and every box plans
//! its share from. Plain framing (`lqos-inputs 1`, then `NAME LEN\n` + bytes per file), so
//! ShapedDevices.csv travels byte for byte whatever its encoding.

use sha2::{Digest, Sha256};

/// The files a snapshot may hold (nothing else is ever written from one).
pub const INPUT_FILES: [&str; 3] = ["ShapedDevices.csv", "network.json", "lqos_overrides.json"];

const MAGIC: &str = "lqos-inputs 1\n";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not an lqos inputs snapshot (bad header)")]
    Header,
    #[error("bad file entry at byte {offset}: {why}")]
    Entry { offset: usize, why: String },
    #[error("cannot decompress: {0}")]
    Decompress(#[source] std::io::Error),
    #[error("content hash {got} is not the published {expected}")]
    Hash { expected: String, got: String },
}

/// Input files by name, in [`INPUT_FILES`] order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub files: Vec<(String, Vec<u8>)>,
}

impl Snapshot {
    /// Reads the input files that exist in `dir`.
    pub fn read_dir(dir: &std::path::Path) -> std::io::Result<Snapshot> {
        let mut files = Vec::new();
        for name in INPUT_FILES {
            match std::fs::read(dir.join(name)) {
                Ok(bytes) => files.push((name.to_owned(), bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Snapshot { files })
    }

    /// Writes the files into `dir` (each atomically) and removes the input files it lacks.
    pub fn write_dir(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for name in INPUT_FILES {
            let path = dir.join(name);
            match self.files.iter().find(|(n, _)| n == name) {
                Some((_, bytes)) => {
                    let tmp = dir.join(format!(".{name}.tmp"));
                    std::fs::write(&tmp, bytes)?;
                    std::fs::rename(&tmp, &path)?;
                }
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                },
            }
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.as_bytes().to_vec();
        for (name, bytes) in &self.files {
            out.extend_from_slice(format!("{name} {}\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut rest = bytes
            .strip_prefix(MAGIC.as_bytes())
            .ok_or(SnapshotError::Header)?;
        let mut files = Vec::new();
        while !rest.is_empty() {
            let offset = bytes.len() - rest.len();
            let bad = |why: &str| SnapshotError::Entry {
                offset,
                why: why.to_owned(),
            };
            let nl = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| bad("no header line"))?;
            let line = std::str::from_utf8(&rest[..nl]).map_err(|_| bad("header not UTF-8"))?;
            let (name, len) = line
                .split_once(' ')
                .ok_or_else(|| bad("expected NAME LEN"))?;
            if !INPUT_FILES.contains(&name) || files.iter().any(|(n, _)| n == name) {
                return Err(bad(&format!("unexpected file name {name:?}")));
            }
            let len: usize = len.parse().map_err(|_| bad("bad length"))?;
            let body = &rest[nl + 1..];
            if body.len() < len {
                return Err(bad("truncated"));
            }
            files.push((name.to_owned(), body[..len].to_vec()));
            rest = &body[len..];
        }
        Ok(Snapshot { files })
    }

    /// SHA-256 of the encoded form, hex.
    pub fn hash(encoded: &[u8]) -> String {
        Sha256::digest(encoded)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// zstd at a level that compresses 100k circuits in well under a second.
pub(crate) fn compress(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 3).unwrap_or_else(|_| bytes.to_vec())
}

pub(crate) fn decompress(bytes: &[u8], size: usize) -> Result<Vec<u8>, SnapshotError> {
    zstd::bulk::decompress(bytes, size).map_err(SnapshotError::Decompress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_foreign_names() {
        let s = Snapshot {
            files: vec![
                ("ShapedDevices.csv".into(), b"a,b\n\xff\n".to_vec()),
                ("network.json".into(), b"{}".to_vec()),
            ],
        };
        let bytes = s.encode();
        assert_eq!(Snapshot::decode(&bytes).expect("decode"), s);
        let big = compress(&bytes);
        assert_eq!(decompress(&big, bytes.len()).expect("decompress"), bytes);
        let evil = b"lqos-inputs 1\n../etc/passwd 1\nx";
        assert!(matches!(
            Snapshot::decode(evil),
            Err(SnapshotError::Entry { .. })
        ));
        assert!(matches!(
            Snapshot::decode(&bytes[..bytes.len() - 1]),
            Err(SnapshotError::Entry { .. })
        ));
        assert!(matches!(Snapshot::decode(b"x"), Err(SnapshotError::Header)));
    }

    #[test]
    fn writes_only_input_files_into_a_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("lqos_overrides.json"), "{}").expect("write");
        let s = Snapshot {
            files: vec![("network.json".into(), b"{}".to_vec())],
        };
        s.write_dir(dir.path()).expect("write_dir");
        assert!(
            !dir.path().join("lqos_overrides.json").exists(),
            "a file the snapshot lacks is removed"
        );
        assert_eq!(Snapshot::read_dir(dir.path()).expect("read"), s);
    }
}
