//! The key layout, all under `/lqos/<cluster>/` (docs/fleet.md):
//!
//! | key | lease | written by | value |
//! |---|---|---|---|
//! | `election/<lease hex>` | leader's | Election API | JSON `{name}` |
//! | `manifest` | none | leader, fenced txn | JSON [`crate::Manifest`] |
//! | `blob/<sha256>/<n>` | none | leader, fenced txn | chunk `n` of the zstd-compressed inputs |
//! | `boxes/<name>` | none | each box | JSON `{share, standby_of}` |
//! | `status/<name>` | box's | each box | JSON [`crate::status::BoxStatus`] |

/// Keys of one fleet.
#[derive(Debug, Clone)]
pub struct Keys {
    root: String,
}

impl Keys {
    pub fn new(cluster: &str) -> Self {
        Self {
            root: format!("/lqos/{cluster}/"),
        }
    }
    pub fn election(&self) -> String {
        format!("{}election", self.root)
    }
    pub fn manifest(&self) -> String {
        format!("{}manifest", self.root)
    }
    pub fn blobs(&self) -> String {
        format!("{}blob/", self.root)
    }
    pub fn blob(&self, hash: &str, n: u32) -> String {
        format!("{}blob/{hash}/{n}", self.root)
    }
    pub fn registration(&self, name: &str) -> String {
        format!("{}boxes/{name}", self.root)
    }
    pub fn registrations(&self) -> String {
        format!("{}boxes/", self.root)
    }
    pub fn status(&self, name: &str) -> String {
        format!("{}status/{name}", self.root)
    }
    pub fn statuses(&self) -> String {
        format!("{}status/", self.root)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_key_is_under_the_fleet_root() {
        let k = super::Keys::new("isp");
        assert_eq!(k.manifest(), "/lqos/isp/manifest");
        assert_eq!(k.blob("ab", 2), "/lqos/isp/blob/ab/2");
        assert!(k.blob("ab", 2).starts_with(&k.blobs()));
        assert!(k.status("b1").starts_with(&k.statuses()));
        assert!(k.registration("b1").starts_with(&k.registrations()));
    }
}
