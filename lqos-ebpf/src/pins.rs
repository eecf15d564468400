//! Pinned maps that cannot serve this object: found and replaced before loading.
//!
//! aya reuses a map pinned under the map's name without checking it against the object. A
//! map pinned by an older lqos whose layout differs (the 16-byte `lqos_ip_info` before the
//! circuit index, for example) would then make every later load fail in the verifier (the
//! program reads past the old value), for ever. So before loading, each pin is compared with
//! the object's definition, and an incompatible pin is removed: the load creates a new, empty
//! map in its place. The old map lives on while attached programs hold it; the programs loaded
//! next use the new one.
//!
//! Incompatible means a different map type, key size, value size or map flags. The flow
//! telemetry maps ([`MAP_FLOWS`], [`MAP_RTT`]) are also replaced when their `max_entries`
//! differs from the requested [`MapSizes`] (their contents are cumulative telemetry that user
//! space tolerates losing); every other map keeps the size it was created with.

use std::path::{Path, PathBuf};

use aya::maps::MapInfo;
use aya_obj::{maps::PinningType, Object};

use crate::{MapSizes, MAP_FLOWS, MAP_RTT, OBJECT};

/// A pinned map that was replaced, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePin {
    /// The map's name (its file name in the pin directory).
    pub name: String,
    /// What differed, e.g. `value size 16, this lqos needs 20`.
    pub reason: String,
}

/// Why a pin could not be checked or replaced.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("cannot parse the embedded eBPF object")]
    Object(#[source] aya_obj::ParseError),
    #[error("{path} exists but cannot be opened as a pinned map")]
    Open {
        path: PathBuf,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("cannot remove the stale pin {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Compares every map pinned in `pin_dir` with the object's definition (and the telemetry
/// maps with `sizes`) and removes the pins that cannot be reused, so that [`crate::load`]
/// creates fresh maps there. Returns what it removed; nothing when `pin_dir` is missing.
/// [`crate::load`] calls it too; call it first to learn (and log) what is replaced, e.g.
/// before deciding whether the IP map survived a restart.
pub fn replace_stale_pins(sizes: &MapSizes, pin_dir: &Path) -> Result<Vec<StalePin>, PinError> {
    let obj = Object::parse(OBJECT).map_err(PinError::Object)?;
    let mut stale = Vec::new();
    let mut names: Vec<&String> = obj.maps.keys().collect();
    names.sort();
    for name in names {
        let def = &obj.maps[name];
        if def.pinning() != PinningType::ByName {
            continue;
        }
        let path = pin_dir.join(name);
        if !path.exists() {
            continue;
        }
        let info = MapInfo::from_pin(&path).map_err(|source| PinError::Open {
            path: path.clone(),
            source,
        })?;
        let want_entries = match name.as_str() {
            MAP_FLOWS => Some(sizes.flows),
            MAP_RTT => Some(sizes.circuits),
            _ => None,
        };
        let found_type = info.map_type().map(|t| t as u32).unwrap_or(u32::MAX);
        let checks = [
            ("map type", found_type, def.map_type()),
            ("key size", info.key_size(), def.key_size()),
            ("value size", info.value_size(), def.value_size()),
            ("map flags", info.map_flags(), def.map_flags()),
            (
                "max_entries",
                info.max_entries(),
                want_entries.unwrap_or(info.max_entries()),
            ),
        ];
        let Some((what, found, want)) = checks.into_iter().find(|(_, f, w)| f != w) else {
            continue;
        };
        std::fs::remove_file(&path).map_err(|source| PinError::Remove {
            path: path.clone(),
            source,
        })?;
        stale.push(StalePin {
            name: name.clone(),
            reason: format!("{what} {found}, this lqos needs {want}"),
        });
    }
    Ok(stale)
}
