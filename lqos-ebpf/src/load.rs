//! Loading the object with aya, with the map sizes set for this machine.

use aya::{Ebpf, EbpfError, EbpfLoader};

use crate::{
    CPU_MAP_DEFAULT_ENTRIES, HOSTS_DEFAULT_ENTRIES, IP_MAP_DEFAULT_ENTRIES, MAP_CPU, MAP_HOSTS,
    MAP_IP, OBJECT,
};

/// `max_entries` of the maps whose size depends on the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSizes {
    /// Prefixes in the LPM trie.
    pub ip_map: u32,
    /// Hosts with counters. Preallocated: `hosts * possible CPUs * 40` bytes.
    pub hosts: u32,
    /// cpumap entries: the number of possible CPUs (never more than the kernel's `NR_CPUS`,
    /// which the possible count cannot exceed).
    pub cpus: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot count the possible CPUs from {path}")]
    PossibleCpus {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{cpus} possible CPUs do not fit a u32 cpumap size")]
    TooManyCpus { cpus: usize },
    #[error("loading the lqos eBPF object")]
    Load(#[source] EbpfError),
}

impl MapSizes {
    /// The object's defaults for the IP and host maps; the cpumap sized to this machine.
    pub fn for_this_machine() -> Result<Self, LoadError> {
        let cpus = aya::util::nr_cpus()
            .map_err(|(path, source)| LoadError::PossibleCpus { path, source })?;
        let cpus = u32::try_from(cpus).map_err(|_| LoadError::TooManyCpus { cpus })?;
        Ok(Self {
            ip_map: IP_MAP_DEFAULT_ENTRIES,
            hosts: HOSTS_DEFAULT_ENTRIES,
            cpus,
        })
    }
}

impl Default for MapSizes {
    /// The sizes compiled into the object (the cpumap one is only safe up to 64 CPUs).
    fn default() -> Self {
        Self {
            ip_map: IP_MAP_DEFAULT_ENTRIES,
            hosts: HOSTS_DEFAULT_ENTRIES,
            cpus: CPU_MAP_DEFAULT_ENTRIES,
        }
    }
}

/// Creates the maps and loads [`OBJECT`] into the kernel (programs not yet verified or
/// attached: call `load()`/`attach()` on them).
pub fn load(sizes: &MapSizes) -> Result<Ebpf, LoadError> {
    EbpfLoader::new()
        .set_max_entries(MAP_IP, sizes.ip_map)
        .set_max_entries(MAP_HOSTS, sizes.hosts)
        .set_max_entries(MAP_CPU, sizes.cpus)
        .load(OBJECT)
        .map_err(LoadError::Load)
}
