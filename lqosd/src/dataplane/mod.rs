//! The data plane: the eBPF object loaded with its maps pinned under `bpf_pin_dir`, the XDP and
//! TC programs attached to the shaped interfaces through pinned links, and the kernel side of
//! [`crate::apply::Kernel`] (tc for the HTB trees, the LPM trie for the IP map).
//!
//! Restarting lqosd swaps the programs in place (`bpf_link_update` on the pinned links) and
//! reuses the pinned maps, so traffic never passes unclassified and the IP map is kept.

mod links;
pub mod preflight;
pub mod tc;

use crate::apply::{Kernel, MapFailure, TcFailure};
use crate::circuit_index::CircuitIndex;
use aya::maps::{Array, CpuMap, LpmTrie, MapData};
use aya::Ebpf;
use ipnet::IpNet;
use lqos_config::{Config, Interfaces, QueueMode, XdpMode};
use lqos_ebpf::{
    LqosDpConfig, LqosIpInfo, LqosIpKey, MapSizes, CFG_ON_A_STICK, MAP_CONFIG, MAP_CPU, MAP_IP,
    MODE_OBSERVE, MODE_SHAPE,
};
use lqos_plan::{IpMapping, QueuePlan, TcOp};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

pub use links::{attach_all, LinkError};
pub use preflight::{LinkInfo, PreflightError};

/// Queue size of every cpumap entry (frames buffered per CPU), as LibreQoS uses.
const CPUMAP_QUEUE_SIZE: u32 = 2048;

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Load(#[from] lqos_ebpf::LoadError),
    #[error("eBPF map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("cpumap entry of CPU {cpu}: {detail}")]
    Cpumap { cpu: u32, detail: String },
    #[error("the eBPF object has no map {0}")]
    NoMap(&'static str),
    #[error(transparent)]
    Link(#[from] LinkError),
}

fn map_err(map: &'static str) -> impl Fn(aya::maps::MapError) -> DataplaneError {
    move |source| DataplaneError::Map { map, source }
}

/// The shaped interfaces as lqosd sees them.
#[derive(Debug, Clone)]
pub struct Shaped {
    pub to_internet: LinkInfo,
    pub to_network: LinkInfo,
    /// On a stick: (internet VLAN, network VLAN); both links are the same interface.
    pub vlans: Option<(u16, u16)>,
}

impl Shaped {
    /// Each distinct interface once.
    pub fn interfaces(&self) -> Vec<&LinkInfo> {
        if self.vlans.is_some() {
            vec![&self.to_internet]
        } else {
            vec![&self.to_internet, &self.to_network]
        }
    }
}

/// Preflights the interfaces of `config`.
pub fn shaped_interfaces(config: &Config) -> Result<Shaped, PreflightError> {
    match &config.interfaces {
        Interfaces::Bridge {
            to_internet,
            to_network,
        } => Ok(Shaped {
            to_internet: preflight::check(to_internet, 1)?,
            to_network: preflight::check(to_network, 1)?,
            vlans: None,
        }),
        Interfaces::OnAStick {
            interface,
            internet_vlan,
            network_vlan,
        } => {
            let link = preflight::check(interface, 2)?;
            Ok(Shaped {
                to_internet: link.clone(),
                to_network: link,
                vlans: Some((*internet_vlan, *network_vlan)),
            })
        }
    }
}

/// The loaded and attached data plane.
pub struct Dataplane {
    ebpf: Ebpf,
    shaped: Shaped,
    mode: QueueMode,
    /// The IP map was already pinned (lqosd restarted): its contents are the last plan's.
    pub maps_reused: bool,
    pub pin_dir: PathBuf,
    /// cpumap entries: the CPUs packets can be steered to.
    pub cpumap_entries: u32,
    /// Which circuit owns each RTT histogram index (shared with the telemetry reader).
    pub circuits: Arc<Mutex<CircuitIndex>>,
    tc: tc::Tc,
}

impl Dataplane {
    /// Loads the object (reusing pinned maps), fills the cpumap and writes the config for a
    /// plan of `queues` queues per direction. Nothing is attached yet: the caller fills the IP
    /// map first when it must, then calls [`Dataplane::attach`].
    pub fn load(config: &Config, shaped: Shaped, queues: u16) -> Result<Self, DataplaneError> {
        let pin_dir = config.lqosd.bpf_pin_dir.clone();
        let machine = MapSizes::for_this_machine()?;
        let mem = crate::telemetry::sizes::mem_total().unwrap_or(8 << 30);
        let (flows, circuits) =
            crate::telemetry::sizes::table_sizes(&config.flows, mem, machine.cpus);
        let sizes = MapSizes {
            ip_map: config.lqosd.ip_map_capacity,
            flows,
            circuits,
            ..machine
        };
        // Pins an older lqos left with another layout (or telemetry maps of another size)
        // are replaced by fresh maps: checked before deciding whether the IP map survived,
        // so that a replaced IP map is refilled from the saved plan.
        for stale in lqos_ebpf::replace_stale_pins(&sizes, &pin_dir)
            .map_err(|e| DataplaneError::Load(lqos_ebpf::LoadError::Pins(e)))?
        {
            warn!(map = %stale.name, reason = %stale.reason, "pinned map replaced by a new, empty one");
        }
        let maps_reused = pin_dir.join(MAP_IP).exists();
        let mut ebpf = lqos_ebpf::load(&sizes, &pin_dir)?;
        let mut cpus = CpuMap::try_from(
            ebpf.map_mut(MAP_CPU)
                .ok_or(DataplaneError::NoMap(MAP_CPU))?,
        )
        .map_err(map_err(MAP_CPU))?;
        for cpu in 0..sizes.cpus {
            // Rewriting an entry restarts that CPU's kthread and drops the frames queued on
            // it: a restarted lqosd leaves entries that are already right alone.
            if cpus
                .get(cpu, 0)
                .is_ok_and(|v| v.queue_size == CPUMAP_QUEUE_SIZE && v.prog_id.is_none())
            {
                continue;
            }
            cpus.set(cpu, CPUMAP_QUEUE_SIZE, None, 0)
                .map_err(|e| DataplaneError::Cpumap {
                    cpu,
                    detail: e.to_string(),
                })?;
        }
        let mut dp = Dataplane {
            ebpf,
            shaped,
            mode: config.queues.queue_mode,
            maps_reused,
            pin_dir,
            cpumap_entries: sizes.cpus,
            circuits: Arc::new(Mutex::new(CircuitIndex::new(sizes.circuits))),
            tc: tc::Tc::open(),
        };
        dp.write_config(queues)?;
        Ok(dp)
    }

    /// Attaches (or swaps in) the programs on every shaped interface. Returns why XDP is
    /// generic where lqosd chose it (see [`links::xdp_choice`]).
    pub fn attach(&mut self, xdp_mode: XdpMode) -> Result<Vec<String>, DataplaneError> {
        let generic = attach_all(&mut self.ebpf, &self.shaped, &self.pin_dir, xdp_mode)?;
        info!(reused_maps = self.maps_reused, pin_dir = %self.pin_dir.display(), "data plane attached");
        Ok(generic)
    }

    /// Writes the data-plane config: which interface faces what, mode, on-a-stick offset.
    pub fn write_config(&mut self, queues: u16) -> Result<(), DataplaneError> {
        let (flags, (internet_vlan, network_vlan)) = match self.shaped.vlans {
            Some(v) => (CFG_ON_A_STICK, v),
            None => (0, (0, 0)),
        };
        let cfg = LqosDpConfig {
            mode: match self.mode {
                QueueMode::Shape => MODE_SHAPE,
                QueueMode::Observe => MODE_OBSERVE,
            },
            flags,
            ifindex_to_internet: self.shaped.to_internet.ifindex,
            ifindex_to_network: self.shaped.to_network.ifindex,
            internet_vlan,
            network_vlan,
            stick_offset: u32::from(queues),
            reserved: [0; 2],
        };
        let mut map: Array<_, LqosDpConfig> = Array::try_from(
            self.ebpf
                .map_mut(MAP_CONFIG)
                .ok_or(DataplaneError::NoMap(MAP_CONFIG))?,
        )
        .map_err(map_err(MAP_CONFIG))?;
        map.set(0, cfg, 0).map_err(map_err(MAP_CONFIG))
    }

    fn ip_map(&mut self) -> Result<LpmTrie<&mut MapData, [u8; 16], LqosIpInfo>, MapFailure> {
        let fail = |message: String| MapFailure {
            prefix: IpNet::default(),
            message,
        };
        let map = self
            .ebpf
            .map_mut(MAP_IP)
            .ok_or_else(|| fail(format!("no map {MAP_IP}")))?;
        LpmTrie::try_from(map).map_err(|e| fail(e.to_string()))
    }

    /// Deletes every entry of the IP map (a reused map whose plan is unknown).
    pub fn clear_ip_map(&mut self) -> Result<usize, MapFailure> {
        let mut trie = self.ip_map()?;
        let keys: Vec<_> = trie.keys().filter_map(Result::ok).collect();
        for k in &keys {
            // Already gone is fine: we want it gone.
            let _ = trie.remove(k);
        }
        Ok(keys.len())
    }

    /// Sets XPS so that CPU n transmits on the tx queue of the HTB the plan gives CPU n.
    /// XPS decides the tx queue of forwarded packets once XDP put them on their CPU.
    pub fn set_xps(&self, plan: &QueuePlan) {
        for iface in &plan.interfaces {
            for q in &iface.htbs {
                let path = Path::new("/sys/class/net").join(&iface.name).join(format!(
                    "queues/tx-{}/xps_cpus",
                    q.mq_minor.saturating_sub(1)
                ));
                let mask = cpu_mask(q.cpu);
                if let Err(e) = std::fs::write(&path, &mask) {
                    warn!(path = %path.display(), error = %e, "cannot set XPS; packets may use another CPU's queue");
                }
            }
        }
    }
}

/// Why the pins under `pin_dir` will not outlive this lqosd, if they will not: lqosd is about
/// to mount bpffs itself (none at `/sys/fs/bpf`) in a mount namespace that is not the host's
/// (`ip netns exec`, a container, a unit with a private /sys). Such a mount dies with the
/// process, and the pinned links and maps with it: the programs detach when lqosd exits and
/// the next lqosd must rebuild the IP map. Call before [`Dataplane::load`].
pub fn pins_die_with_lqosd(pin_dir: &Path) -> Option<String> {
    if !pin_dir.starts_with(lqos_ebpf::BPFFS)
        || lqos_ebpf::is_bpffs(Path::new(lqos_ebpf::BPFFS)).unwrap_or(true)
    {
        return None;
    }
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let (mine, host) = (ns("self"), ns("1"));
    if mine.is_some() && mine == host {
        return None;
    }
    Some(format!(
        "no bpffs is mounted at {bpffs} in lqosd's mount namespace, which is not the host's: \
         lqosd mounts its own, and its pins ({pin}) die with it, so the programs detach when \
         lqosd stops and a restart cannot be hitless. Run lqosd in the host's mount namespace \
         with bpffs at {bpffs} (systemd mounts it), or point [lqosd] bpf_pin_dir at a bpffs \
         that outlives the process (docs/dataplane.md)",
        bpffs = lqos_ebpf::BPFFS,
        pin = pin_dir.display()
    ))
}

/// The hex CPU mask sysfs expects ("1", "2", "4", ..., with commas every 32 bits).
fn cpu_mask(cpu: u32) -> String {
    let words = cpu as usize / 32 + 1;
    let mut parts = vec!["00000000".to_owned(); words];
    parts[words - 1 - cpu as usize / 32] = format!("{:08x}", 1u32 << (cpu % 32));
    parts.join(",")
}

impl Kernel for Dataplane {
    fn run_tc(&mut self, ops: &[TcOp]) -> Result<(), TcFailure> {
        self.tc.run(ops)
    }

    fn upsert_mappings(&mut self, mappings: &[IpMapping]) -> Result<(), MapFailure> {
        let circuits = self.circuits.clone();
        let mut circuits = circuits.lock().unwrap_or_else(|p| p.into_inner());
        let mut trie = self.ip_map()?;
        for m in mappings {
            let info = LqosIpInfo {
                cpu: m.cpu,
                classid_down: m.download.as_u32(),
                classid_up: m.upload.as_u32(),
                flags: 0,
                circuit: circuits.map(m.prefix, &m.circuit_id),
            };
            trie.insert(&LqosIpKey::from_net(m.prefix).into(), info, 0)
                .map_err(|e| MapFailure {
                    prefix: m.prefix,
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    fn remove_mappings(&mut self, prefixes: &[IpNet]) -> Result<(), MapFailure> {
        let circuits = self.circuits.clone();
        let mut circuits = circuits.lock().unwrap_or_else(|p| p.into_inner());
        let mut trie = self.ip_map()?;
        for p in prefixes {
            circuits.unmap(p);
            match trie.remove(&LqosIpKey::from_net(*p).into()) {
                Ok(()) => {}
                Err(aya::maps::MapError::KeyNotFound) => {}
                Err(e) => {
                    return Err(MapFailure {
                        prefix: *p,
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_masks_are_what_sysfs_takes() {
        assert_eq!(super::cpu_mask(0), "00000001");
        assert_eq!(super::cpu_mask(5), "00000020");
        assert_eq!(super::cpu_mask(33), "00000002,00000000");
    }
}
