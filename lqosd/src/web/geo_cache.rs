//! The geo pages' state: the data files ([`GeoData`]) and answers computed at most once a
//! second however many clients ask (the per-ASN report scans every live flow; the site map
//! rolls up RTT over every located node's circuits).

use super::geo_data::GeoData;
use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// A value rebuilt when older than `ttl`; one builder at a time, the others wait for it.
pub struct Ttl<T> {
    slot: RwLock<Option<(Instant, Arc<T>)>>,
    building: tokio::sync::Mutex<()>,
    ttl: Duration,
}

impl<T> Ttl<T> {
    pub fn new(ttl: Duration) -> Self {
        Ttl {
            slot: RwLock::new(None),
            building: tokio::sync::Mutex::new(()),
            ttl,
        }
    }

    fn fresh(&self) -> Option<Arc<T>> {
        let slot = self.slot.read().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// The current value, rebuilt by `build` if stale.
    pub async fn get(&self, build: impl FnOnce() -> T) -> Arc<T> {
        if let Some(v) = self.fresh() {
            return v;
        }
        let _one = self.building.lock().await;
        if let Some(v) = self.fresh() {
            return v;
        }
        let v = Arc::new(build());
        *self.slot.write().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), v.clone()));
        v
    }
}

/// Rendered answers keyed by something small (an ASN), each kept for `ttl`; at most `max`.
pub struct KeyedTtl<K> {
    map: Mutex<HashMap<K, (Instant, Bytes)>>,
    ttl: Duration,
    max: usize,
}

impl<K: std::hash::Hash + Eq + Clone> KeyedTtl<K> {
    pub fn new(ttl: Duration, max: usize) -> Self {
        KeyedTtl {
            map: Mutex::new(HashMap::new()),
            ttl,
            max,
        }
    }

    /// The cached answer for `key`, or `build`'s (then cached).
    pub fn get<E>(&self, key: &K, build: impl FnOnce() -> Result<Bytes, E>) -> Result<Bytes, E> {
        {
            let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, b)) = map.get(key) {
                if at.elapsed() < self.ttl {
                    return Ok(b.clone());
                }
            }
        }
        let b = build()?;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.max {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= self.max {
                map.clear();
            }
        }
        map.insert(key.clone(), (Instant::now(), b.clone()));
        Ok(b)
    }
}

/// Everything the geo pages keep.
pub struct GeoState {
    pub data: GeoData,
    pub report: Ttl<super::asns::Snapshot>,
    pub asn_detail: KeyedTtl<u32>,
    pub sitemap: Ttl<Bytes>,
}

impl GeoState {
    pub fn new(config: &lqos_config::geo::Geo) -> Self {
        GeoState {
            data: GeoData::load(config),
            report: Ttl::new(Duration::from_secs(1)),
            asn_detail: KeyedTtl::new(Duration::from_secs(1), 256),
            sitemap: Ttl::new(Duration::from_secs(2)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_built_once_per_ttl() {
        let t: Ttl<u32> = Ttl::new(Duration::from_secs(60));
        let mut builds = 0;
        let a = t
            .get(|| {
                builds += 1;
                7
            })
            .await;
        let b = t
            .get(|| {
                builds += 1;
                8
            })
            .await;
        assert_eq!((*a, *b, builds), (7, 7, 1));
        let t: Ttl<u32> = Ttl::new(Duration::ZERO);
        t.get(|| 1).await;
        assert_eq!(*t.get(|| 2).await, 2, "stale: rebuilt");
    }

    #[test]
    fn keyed_answers_are_cached_and_bounded() {
        let k: KeyedTtl<u32> = KeyedTtl::new(Duration::from_secs(60), 2);
        let mut builds = 0;
        for key in [1, 1, 2, 1] {
            k.get::<()>(&key, || {
                builds += 1;
                Ok(Bytes::from(key.to_string()))
            })
            .unwrap();
        }
        assert_eq!(builds, 2);
        k.get::<()>(&3, || Ok(Bytes::from_static(b"3"))).unwrap();
        assert!(k.map.lock().unwrap().len() <= 2, "bounded");
    }
}
