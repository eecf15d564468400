//! The sizes of the kernel's flow table and RTT histograms: from `[flows]`, or sized for the
//! machine (0.25% of its memory each, within bounds) when lqos.conf leaves them out. Both maps
//! are preallocated when lqosd creates them, so their size is also start-up time: a larger
//! default made a start without pins miss its attach by seconds on a 2-core machine.

/// Bytes the kernel spends per flow: key 40 + value 128 + the hash table's element header
/// (about 56 with its preallocated free-list node), rounded up.
pub const BYTES_PER_FLOW: u64 = 232;
/// Bytes per circuit and CPU of `lqos_rtt` (`struct lqos_rtt_hist`).
pub const BYTES_PER_CIRCUIT_CPU: u64 = 384;

const MIN_FLOWS: u64 = 65_536;
const MAX_FLOWS: u64 = 2_097_152;
const MIN_CIRCUITS: u64 = 1_024;
const MAX_CIRCUITS: u64 = 131_072;

/// `(max_flows, max_circuits)` for a machine with `mem_bytes` of RAM and `cpus` possible CPUs.
pub fn table_sizes(flows: &lqos_config::flows::Flows, mem_bytes: u64, cpus: u32) -> (u32, u32) {
    let budget = mem_bytes / 400;
    let auto_flows = (budget / BYTES_PER_FLOW).clamp(MIN_FLOWS, MAX_FLOWS);
    let per_circuit = BYTES_PER_CIRCUIT_CPU * u64::from(cpus.max(1));
    let auto_circuits = (budget / per_circuit).clamp(MIN_CIRCUITS, MAX_CIRCUITS);
    (
        flows.max_flows.unwrap_or(auto_flows as u32),
        flows.max_circuits.unwrap_or(auto_circuits as u32),
    )
}

/// `MemTotal` of /proc/meminfo in bytes; `None` when it cannot be read.
pub fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lqos_config::flows::Flows;

    const GIB: u64 = 1 << 30;

    #[test]
    fn sized_for_the_machine_within_bounds() {
        let auto = Flows::default();
        // 24 GiB, 2 CPUs: 0.25% = 61 MiB -> ~278k flows, ~80k circuits.
        assert_eq!(table_sizes(&auto, 24 * GIB, 2), (277_691, 83_886));
        // A small box gets the minimums.
        assert_eq!(table_sizes(&auto, GIB / 2, 64), (65_536, 1_024));
        // A big one the maximum flows; circuits shrink with many CPUs.
        assert_eq!(table_sizes(&auto, 2048 * GIB, 128).0, 2_097_152);
        assert_eq!(table_sizes(&auto, 64 * GIB, 128).1, 3_495);
    }

    #[test]
    fn lqos_conf_wins() {
        let fixed = Flows {
            max_flows: Some(4096),
            max_circuits: Some(100),
            ..Flows::default()
        };
        assert_eq!(table_sizes(&fixed, 24 * GIB, 2), (4096, 100));
    }

    #[test]
    fn this_machine_has_memory() {
        assert!(mem_total().is_some_and(|m| m > 0));
    }
}
