//! Loading the object with aya, with the map sizes set for this machine.

use std::path::Path;

use aya::{Ebpf, EbpfError, EbpfLoader};

use crate::{
    pins::{replace_stale_pins, PinError},
    CPU_MAP_DEFAULT_ENTRIES, FLOWS_DEFAULT_ENTRIES, HOSTS_DEFAULT_ENTRIES, IP_MAP_DEFAULT_ENTRIES,
    MAP_CPU, MAP_FLOWS, MAP_HOSTS, MAP_IP, MAP_RTT, OBJECT, RTT_DEFAULT_ENTRIES,
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
    /// Flows tracked at once (`lqos_flows`, `[flows] max_flows`). Preallocated: about
    /// `flows * (40 + 128 + 48)` bytes (key, value, the kernel's element overhead).
    pub flows: u32,
    /// Circuit indexes with an RTT histogram (`lqos_rtt`): the highest circuit index + 1.
    /// `circuits * possible CPUs * 384` bytes.
    pub circuits: u32,
}

/// Where bpffs lives on every systemd host.
pub const BPFFS: &str = "/sys/fs/bpf";

/// `BPF_FS_MAGIC` from `linux/magic.h`.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Mounts bpffs at `dir` unless it is one already (systemd mounts it; minimal hosts and
/// private mount namespaces may not have it).
pub fn ensure_bpffs(dir: &Path) -> Result<(), LoadError> {
    let err = |source| LoadError::Bpffs {
        path: dir.to_path_buf(),
        source,
    };
    if is_bpffs(dir)? {
        return Ok(());
    }
    let c_dir = c_path(dir).map_err(err)?;
    let fstype = c"bpf";
    // SAFETY: valid NUL-terminated strings; no mount data.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            c_dir.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(())
}

fn c_path(path: &Path) -> Result<std::ffi::CString, std::io::Error> {
    std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
}

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> Result<bool, LoadError> {
    let err = |source| LoadError::Bpffs {
        path: path.to_path_buf(),
        source,
    };
    let c = c_path(path).map_err(err)?;
    // SAFETY: a valid NUL-terminated path and a zeroed statfs buffer the call fills in.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(st.f_type as i64 == BPF_FS_MAGIC)
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the pin directory {path} is not on a bpffs (mount one: mount -t bpf bpf DIR)")]
    NotBpffs { path: std::path::PathBuf },
    #[error("{path} is not a bpffs and mounting one there failed")]
    Bpffs {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot count the possible CPUs from {path}")]
    PossibleCpus {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{cpus} possible CPUs do not fit a u32 cpumap size")]
    TooManyCpus { cpus: usize },
    #[error("cannot create the bpffs pin directory {path} (is bpffs mounted at /sys/fs/bpf?)")]
    PinDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("map size {map} = 0: every map needs at least one entry")]
    ZeroSize { map: &'static str },
    #[error("checking the pinned maps against this lqos")]
    Pins(#[source] PinError),
    #[error("loading the lqos eBPF object")]
    Load(#[source] EbpfError),
}

impl MapSizes {
    /// The object's defaults for the IP, host and flow maps; the cpumap sized to this machine.
    pub fn for_this_machine() -> Result<Self, LoadError> {
        let cpus = aya::util::nr_cpus()
            .map_err(|(path, source)| LoadError::PossibleCpus { path, source })?;
        let cpus = u32::try_from(cpus).map_err(|_| LoadError::TooManyCpus { cpus })?;
        Ok(Self {
            cpus,
            ..Self::default()
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
            flows: FLOWS_DEFAULT_ENTRIES,
            circuits: RTT_DEFAULT_ENTRIES,
        }
    }
}

/// Creates the maps and loads [`OBJECT`] into the kernel (programs not yet verified or
/// attached: call `load()`/`attach()` on them).
///
/// Every map is pinned by name under `pin_dir` (a bpffs directory, created if missing): maps
/// already pinned there are reused as they are, contents included, so that a restarted lqosd
/// keeps the live IP map. A reused map keeps the size it was created with (see
/// [`MapSizes`]); remove the pins to resize. Exceptions, replaced by a new empty map (see
/// [`replace_stale_pins`]): a pin whose type, key or value size or flags differ from this
/// object's (a map from an older lqos), and a flow telemetry map (`lqos_flows`, `lqos_rtt`)
/// whose size differs from `sizes`. Callers that want private maps (tests) pass a fresh
/// directory and remove it after loading: the maps live as long as their fds.
pub fn load(sizes: &MapSizes, pin_dir: &Path) -> Result<Ebpf, LoadError> {
    for (map, size) in [
        (MAP_IP, sizes.ip_map),
        (MAP_HOSTS, sizes.hosts),
        (MAP_CPU, sizes.cpus),
        (MAP_FLOWS, sizes.flows),
        (MAP_RTT, sizes.circuits),
    ] {
        if size == 0 {
            return Err(LoadError::ZeroSize { map });
        }
    }
    if pin_dir.starts_with(BPFFS) {
        ensure_bpffs(Path::new(BPFFS))?;
    } else {
        // Elsewhere (a test's own bpffs mount) the directory must already be on a bpffs.
        let existing = pin_dir
            .ancestors()
            .find(|a| a.exists())
            .unwrap_or(Path::new("/"));
        if !is_bpffs(existing)? {
            return Err(LoadError::NotBpffs {
                path: pin_dir.to_path_buf(),
            });
        }
    }
    std::fs::create_dir_all(pin_dir).map_err(|source| LoadError::PinDir {
        path: pin_dir.to_path_buf(),
        source,
    })?;
    replace_stale_pins(sizes, pin_dir).map_err(LoadError::Pins)?;
    EbpfLoader::new()
        .map_pin_path(pin_dir)
        .set_max_entries(MAP_IP, sizes.ip_map)
        .set_max_entries(MAP_HOSTS, sizes.hosts)
        .set_max_entries(MAP_CPU, sizes.cpus)
        .set_max_entries(MAP_FLOWS, sizes.flows)
        .set_max_entries(MAP_RTT, sizes.circuits)
        .load(OBJECT)
        .map_err(LoadError::Load)
}

/// Verifies and loads a program with `load` (an aya program's `load()`), trying again, up to
/// five times in all as libbpf does, when the kernel answers EAGAIN: the verifier gives up on
/// a program when a signal is pending for the loading thread.
pub fn load_program(
    mut load: impl FnMut() -> Result<(), aya::programs::ProgramError>,
) -> Result<(), aya::programs::ProgramError> {
    let mut tries = 1;
    loop {
        match load() {
            Err(aya::programs::ProgramError::LoadError { io_error, .. })
                if io_error.kind() == std::io::ErrorKind::WouldBlock && tries < 5 =>
            {
                tries += 1;
            }
            other => return other,
        }
    }
}
