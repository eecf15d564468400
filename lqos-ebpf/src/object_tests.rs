//! The compiled object against the Rust mirror: a C/Rust drift fails here, without root.

use core::mem::size_of;

use aya_obj::{generated::bpf_map_type as T, Object, ProgramSection};

use crate::*;

/// `BPF_F_NO_PREALLOC`, required by the kernel for LPM tries.
const BPF_F_NO_PREALLOC: u32 = 1;
/// `struct bpf_cpumap_val`: queue size + program fd/id.
const CPUMAP_VAL_SIZE: usize = 8;

fn object() -> Object {
    match Object::parse(OBJECT) {
        Ok(obj) => obj,
        Err(e) => panic!("the embedded object does not parse: {e}"),
    }
}

struct Expected {
    name: &'static str,
    kind: T,
    key: usize,
    value: usize,
    max_entries: u32,
    flags: u32,
    pinned: bool,
}

#[test]
fn maps_match_rust_types() {
    let obj = object();
    let expected = [
        Expected {
            name: MAP_IP,
            kind: T::BPF_MAP_TYPE_LPM_TRIE,
            key: size_of::<LqosIpKey>(),
            value: size_of::<LqosIpInfo>(),
            max_entries: IP_MAP_DEFAULT_ENTRIES,
            flags: BPF_F_NO_PREALLOC,
            pinned: true,
        },
        Expected {
            name: MAP_CPU,
            kind: T::BPF_MAP_TYPE_CPUMAP,
            key: size_of::<u32>(),
            value: CPUMAP_VAL_SIZE,
            max_entries: CPU_MAP_DEFAULT_ENTRIES,
            flags: 0,
            pinned: true,
        },
        Expected {
            name: MAP_HOSTS,
            kind: T::BPF_MAP_TYPE_PERCPU_HASH,
            key: size_of::<LqosHostKey>(),
            value: size_of::<LqosHostCounters>(),
            max_entries: HOSTS_DEFAULT_ENTRIES,
            flags: 0,
            pinned: true,
        },
        Expected {
            name: MAP_UNKNOWN_HOSTS,
            kind: T::BPF_MAP_TYPE_LRU_PERCPU_HASH,
            key: size_of::<LqosHostKey>(),
            value: size_of::<LqosHostCounters>(),
            max_entries: UNKNOWN_HOSTS_ENTRIES,
            flags: 0,
            pinned: true,
        },
        Expected {
            name: MAP_UNKNOWN,
            kind: T::BPF_MAP_TYPE_PERCPU_ARRAY,
            key: size_of::<u32>(),
            value: size_of::<LqosHostCounters>(),
            max_entries: UNKNOWN_SLOTS,
            flags: 0,
            pinned: true,
        },
        Expected {
            name: MAP_CONFIG,
            kind: T::BPF_MAP_TYPE_ARRAY,
            key: size_of::<u32>(),
            value: size_of::<LqosDpConfig>(),
            max_entries: 1,
            flags: 0,
            pinned: true,
        },
        // Preallocated (no BPF_F_NO_PREALLOC) and not LRU: a flood must not evict flows.
        Expected {
            name: MAP_FLOWS,
            kind: T::BPF_MAP_TYPE_HASH,
            key: size_of::<LqosFlowKey>(),
            value: size_of::<LqosFlow>(),
            max_entries: FLOWS_DEFAULT_ENTRIES,
            flags: 0,
            pinned: true,
        },
        Expected {
            name: MAP_RTT,
            kind: T::BPF_MAP_TYPE_PERCPU_ARRAY,
            key: size_of::<u32>(),
            value: size_of::<LqosRttHist>(),
            max_entries: RTT_DEFAULT_ENTRIES,
            flags: 0,
            pinned: true,
        },
        Expected {
            name: MAP_FLOW_STATS,
            kind: T::BPF_MAP_TYPE_PERCPU_ARRAY,
            key: size_of::<u32>(),
            value: size_of::<u64>(),
            max_entries: FLOW_STAT_SLOTS,
            flags: 0,
            pinned: true,
        },
        // The programs' own clock cache (jiffies, ns): never shared, never pinned.
        Expected {
            name: MAP_CLOCK,
            kind: T::BPF_MAP_TYPE_PERCPU_ARRAY,
            key: size_of::<u32>(),
            value: 2 * size_of::<u64>(),
            max_entries: 1,
            flags: 0,
            pinned: false,
        },
    ];
    let mut names: Vec<&str> = obj.maps.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = MAP_NAMES.to_vec();
    want.sort_unstable();
    assert_eq!(names, want, "maps in the object");

    assert_eq!(
        expected.len(),
        MAP_NAMES.len(),
        "every map has an expectation"
    );
    for e in expected {
        let map = &obj.maps[e.name];
        let pinning = if e.pinned {
            aya_obj::maps::PinningType::ByName
        } else {
            aya_obj::maps::PinningType::None
        };
        assert_eq!(map.pinning(), pinning, "{}: pinning", e.name);
        assert!(
            e.name.len() <= 15,
            "{}: map names are cut at 15 characters",
            e.name
        );
        assert_eq!(map.map_type(), e.kind as u32, "{}: map type", e.name);
        assert_eq!(map.key_size() as usize, e.key, "{}: key size", e.name);
        assert_eq!(map.value_size() as usize, e.value, "{}: value size", e.name);
        assert_eq!(map.max_entries(), e.max_entries, "{}: max_entries", e.name);
        assert_eq!(map.map_flags(), e.flags, "{}: map flags", e.name);
    }
}

#[test]
fn programs_have_the_expected_sections() {
    let obj = object();
    let xdp = &obj.programs[PROG_XDP];
    assert!(
        matches!(xdp.section, ProgramSection::Xdp { frags: false, .. }),
        "{:?}",
        xdp.section
    );
    let tc = &obj.programs[PROG_TC_EGRESS];
    assert!(
        matches!(tc.section, ProgramSection::SchedClassifier),
        "{:?}",
        tc.section
    );
    let stick = &obj.programs[PROG_TC_STICK];
    assert!(
        matches!(stick.section, ProgramSection::SchedClassifier),
        "{:?}",
        stick.section
    );
    assert_eq!(obj.programs.len(), 3);
    for name in [PROG_XDP, PROG_TC_EGRESS, PROG_TC_STICK] {
        assert!(
            name.len() <= 15,
            "{name}: program names are cut at 15 characters"
        );
        assert_eq!(obj.programs[name].license.to_str(), Ok("GPL"));
    }
}

#[test]
fn object_is_aligned_for_in_place_parsing() {
    assert_eq!(OBJECT.as_ptr() as usize % 32, 0);
    assert_eq!(&OBJECT[..4], b"\x7fELF");
}

/// The benchmark's floor must look its addresses up in a trie like [`MAP_IP`], and must not
/// pin it (a pin would need a bpffs directory and could collide between runs).
#[test]
fn floor_object_matches_the_ip_map_and_is_unpinned() {
    let obj = match Object::parse(FLOOR_OBJECT) {
        Ok(obj) => obj,
        Err(e) => panic!("the embedded floor object does not parse: {e}"),
    };
    assert_eq!(FLOOR_OBJECT.as_ptr() as usize % 32, 0);
    let mut names: Vec<&str> = obj.maps.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["floor_flows", "floor_ip_map"],
        "maps in the floor object"
    );
    let (flows, real_flows) = (&obj.maps["floor_flows"], &object().maps[MAP_FLOWS]);
    assert_eq!(flows.map_type(), real_flows.map_type());
    assert_eq!(flows.key_size(), real_flows.key_size());
    assert_eq!(flows.value_size(), real_flows.value_size());
    assert_eq!(flows.max_entries(), real_flows.max_entries());
    assert_eq!(flows.map_flags(), real_flows.map_flags());
    assert_eq!(flows.pinning(), aya_obj::maps::PinningType::None);
    let (floor, real) = (&obj.maps["floor_ip_map"], &object().maps[MAP_IP]);
    assert_eq!(floor.map_type(), real.map_type());
    assert_eq!(floor.key_size(), real.key_size());
    assert_eq!(floor.value_size(), real.value_size());
    assert_eq!(floor.map_flags(), real.map_flags());
    assert_eq!(floor.pinning(), aya_obj::maps::PinningType::None);
    assert!(matches!(
        obj.programs["floor_xdp"].section,
        ProgramSection::Xdp { frags: false, .. }
    ));
    assert!(matches!(
        obj.programs["floor_tc"].section,
        ProgramSection::SchedClassifier
    ));
    assert!(matches!(
        obj.programs["floor_flow_xdp"].section,
        ProgramSection::Xdp { frags: false, .. }
    ));
    assert_eq!(obj.programs.len(), 3);
}

/// `LQOS_RTT_EDGES_US` in the C header and [`RTT_EDGES_US`] hold the same edges.
#[test]
fn rtt_edges_match_the_header() {
    let header = include_str!("../include/lqos_abi.h");
    let start = header
        .find("#define LQOS_RTT_EDGES_US")
        .expect("LQOS_RTT_EDGES_US in lqos_abi.h");
    let rest = &header[start..];
    let open = rest.find('{').expect("edges: {");
    let close = rest.find('}').expect("edges: }");
    let edges: Vec<u32> = rest[open + 1..close]
        .split(|c: char| c == ',' || c.is_whitespace() || c == '\\')
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().expect("an edge"))
        .collect();
    assert_eq!(edges, RTT_EDGES_US.to_vec());
    assert!(edges.windows(2).all(|w| w[0] < w[1]), "ascending edges");
}
