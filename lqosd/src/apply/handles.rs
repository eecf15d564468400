//! Explicit handles for leaf qdiscs. The kernel numbers handle-less qdiscs only from `8000:` to
//! `ffff:` (32,767 per interface); lqosd gives every leaf its own handle from
//! [`FIRST_LEAF_HANDLE`] up, so an interface can hold [`MAX_LEAF_QDISCS`] of them.
//!
//! lqosd knows which handle each live leaf has (it chose them; after a restart it reads them
//! back from the kernel). A leaf whose kind changes gets a new handle: the kernel replaces a
//! leaf in place only when the handle differs (same handle, other kind is refused).

use lqos_plan::{ClassId, TcOp, FIRST_LEAF_HANDLE, MAX_LEAF_QDISCS, MQ_MAJOR};
use std::collections::HashMap;

const WORDS: usize = 65_536 / 64;

#[derive(Debug, Clone)]
struct Device {
    by_class: HashMap<ClassId, u16>,
    used: Vec<u64>,
    cursor: u16,
}

impl Default for Device {
    fn default() -> Self {
        let mut d = Device {
            by_class: HashMap::new(),
            used: vec![0; WORDS],
            cursor: FIRST_LEAF_HANDLE,
        };
        d.mark(MQ_MAJOR, true);
        d
    }
}

impl Device {
    fn is_used(&self, h: u16) -> bool {
        self.used[h as usize / 64] & (1 << (h % 64)) != 0
    }

    fn mark(&mut self, h: u16, on: bool) {
        let (w, b) = (h as usize / 64, 1u64 << (h % 64));
        if on {
            self.used[w] |= b;
        } else {
            self.used[w] &= !b;
        }
    }

    /// A free handle, round-robin from the last one given (so a freed handle is not reused at
    /// once). `None` when all [`MAX_LEAF_QDISCS`] are taken.
    fn allocate(&mut self) -> Option<u16> {
        let span = (u16::MAX - FIRST_LEAF_HANDLE) as usize + 1;
        for i in 0..span {
            let h = FIRST_LEAF_HANDLE
                + ((self.cursor - FIRST_LEAF_HANDLE) as usize + i) as u16 % span as u16;
            if !self.is_used(h) {
                self.cursor = if h == u16::MAX {
                    FIRST_LEAF_HANDLE
                } else {
                    h + 1
                };
                return Some(h);
            }
        }
        None
    }

    fn set(&mut self, class: ClassId, h: u16) {
        if let Some(old) = self.by_class.insert(class, h) {
            self.mark(old, false);
        }
        self.mark(h, true);
    }

    fn free(&mut self, class: ClassId) {
        if let Some(old) = self.by_class.remove(&class) {
            self.mark(old, false);
        }
    }
}

/// The live leaf handles of every shaped interface.
#[derive(Debug, Clone, Default)]
pub struct LeafHandles {
    devices: HashMap<String, Device>,
}

/// Every handle of a device is taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{dev} has no free leaf qdisc handle left ({max} in use)", max = MAX_LEAF_QDISCS)]
pub struct NoHandle {
    pub dev: String,
}

impl LeafHandles {
    /// Records a leaf the kernel holds (after a restart).
    pub fn insert(&mut self, dev: &str, class: ClassId, handle: u16) {
        self.devices
            .entry(dev.to_owned())
            .or_default()
            .set(class, handle);
    }

    pub fn get(&self, dev: &str, class: ClassId) -> Option<u16> {
        self.devices
            .get(dev)
            .and_then(|d| d.by_class.get(&class).copied())
    }

    /// `op` with a fresh handle where it adds or replaces a leaf, recorded here as if it ran.
    pub fn annotate(&mut self, op: &TcOp) -> Result<TcOp, NoHandle> {
        let mut op = op.clone();
        if let TcOp::AddLeaf { dev, handle, .. } | TcOp::ReplaceLeaf { dev, handle, .. } = &mut op {
            let d = self.devices.entry(dev.clone()).or_default();
            *handle = Some(d.allocate().ok_or_else(|| NoHandle { dev: dev.clone() })?);
        }
        self.record(&op);
        Ok(op)
    }

    /// Takes note of an operation that ran (with its handle, see [`LeafHandles::annotate`]).
    pub fn record(&mut self, op: &TcOp) {
        match op {
            TcOp::ClearRoot { dev } => {
                self.devices.remove(dev);
            }
            TcOp::AddLeaf {
                dev,
                parent,
                handle: Some(h),
                ..
            }
            | TcOp::ReplaceLeaf {
                dev,
                parent,
                handle: Some(h),
                ..
            } => {
                self.devices
                    .entry(dev.clone())
                    .or_default()
                    .set(*parent, *h);
            }
            TcOp::DelLeaf { dev, parent } | TcOp::DelClass { dev, id: parent } => {
                if let Some(d) = self.devices.get_mut(dev) {
                    d.free(*parent);
                }
            }
            _ => {}
        }
    }

    /// Reads the leaves of `dev` from `tc qdisc show dev <dev>` text: lines such as
    /// `qdisc pfifo 400: parent 1:5 limit 1000p` (the HTBs under `7fff:` and the root are not
    /// leaves).
    pub fn read_tc_text(&mut self, dev: &str, text: &str) {
        for line in text.lines() {
            let t: Vec<&str> = line.split_whitespace().collect();
            let (Some(handle), Some(parent)) = (
                t.get(2),
                t.iter()
                    .position(|w| *w == "parent")
                    .and_then(|i| t.get(i + 1)),
            ) else {
                continue;
            };
            let Some(handle) = handle
                .strip_suffix(':')
                .and_then(|h| u16::from_str_radix(h, 16).ok())
            else {
                continue;
            };
            let Some((maj, min)) = parent.split_once(':') else {
                continue;
            };
            let (Ok(maj), Ok(min)) = (u16::from_str_radix(maj, 16), u16::from_str_radix(min, 16))
            else {
                continue;
            };
            if maj != MQ_MAJOR {
                self.insert(dev, ClassId::new(maj, min), handle);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn add(dev: &str, minor: u16) -> TcOp {
        TcOp::AddLeaf {
            dev: dev.into(),
            parent: ClassId::new(1, minor),
            spec: Arc::from("pfifo"),
            handle: None,
        }
    }

    #[test]
    fn handles_are_unique_per_device_and_freed_with_their_class() {
        let mut h = LeafHandles::default();
        let a = h.annotate(&add("e0", 2)).expect("a");
        let b = h.annotate(&add("e0", 3)).expect("b");
        let c = h.annotate(&add("e1", 2)).expect("c");
        let handle = |op: &TcOp| match op {
            TcOp::AddLeaf {
                handle: Some(x), ..
            }
            | TcOp::ReplaceLeaf {
                handle: Some(x), ..
            } => *x,
            other => panic!("{other:?}"),
        };
        assert_ne!(handle(&a), handle(&b));
        assert_eq!(
            handle(&a),
            handle(&c),
            "devices number their leaves independently"
        );
        assert!(
            a.to_string().contains(&format!("handle {:x}:", handle(&a))),
            "{a}"
        );
        h.record(&TcOp::DelClass {
            dev: "e0".into(),
            id: ClassId::new(1, 2),
        });
        assert_eq!(h.get("e0", ClassId::new(1, 2)), None);
        let replaced = h
            .annotate(&TcOp::ReplaceLeaf {
                dev: "e0".into(),
                parent: ClassId::new(1, 3),
                spec: Arc::from("bfifo"),
                handle: None,
            })
            .expect("r");
        assert_ne!(
            handle(&replaced),
            handle(&b),
            "a new kind gets a new handle"
        );
        assert_eq!(h.get("e0", ClassId::new(1, 3)), Some(handle(&replaced)));
    }

    #[test]
    fn every_handle_can_be_used_once_and_then_none_is_left() {
        let mut h = LeafHandles::default();
        let mut seen = std::collections::HashSet::new();
        for n in 0..MAX_LEAF_QDISCS {
            let op = h
                .annotate(&TcOp::AddLeaf {
                    dev: "e0".into(),
                    parent: ClassId::new(1 + (n / 60_000) as u16, (n % 60_000) as u16 + 2),
                    spec: Arc::from("pfifo"),
                    handle: None,
                })
                .expect("free");
            let TcOp::AddLeaf {
                handle: Some(x), ..
            } = op
            else {
                panic!()
            };
            assert!(x >= FIRST_LEAF_HANDLE && x != MQ_MAJOR, "{x:x}");
            assert!(seen.insert(x), "{x:x} twice");
        }
        assert!(h.annotate(&add("e0", 9)).is_err());
    }

    #[test]
    fn leaves_are_read_back_from_tc() {
        let mut h = LeafHandles::default();
        h.read_tc_text("e0", "qdisc mq 7fff: root \nqdisc htb 1: parent 7fff:1 r2q 10 default 0\nqdisc pfifo 400: parent 1:5 limit 1000p\nqdisc pfifo 9f26: parent 2:3 limit 1000p\n");
        assert_eq!(h.get("e0", ClassId::new(1, 5)), Some(0x400));
        assert_eq!(h.get("e0", ClassId::new(2, 3)), Some(0x9f26));
        assert_eq!(h.get("e0", ClassId::new(0x7fff, 1)), None);
    }
}
