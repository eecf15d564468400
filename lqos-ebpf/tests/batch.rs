//! Privileged: batch lookup and delete (`lqos_ebpf::{lookup_batch, lookup_batch_per_cpu,
//! delete_batch}`) on real maps of the loaded object. Needs root and PANICS otherwise.

mod support;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use aya::{
    maps::{HashMap, Map, MapData, PerCpuArray, PerCpuValues},
    Ebpf,
};
use lqos_ebpf::*;

fn load_private(flows: u32, circuits: u32) -> Ebpf {
    support::require_root();
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(format!("/sys/fs/bpf/lqos-batch-{}-{n}", std::process::id()));
    let sizes = MapSizes {
        flows,
        circuits,
        ..MapSizes::for_this_machine().expect("sizes")
    };
    let ebpf = load(&sizes, &dir).expect("load");
    std::fs::remove_dir_all(&dir).expect("remove the pin directory");
    ebpf
}

fn data<'a>(ebpf: &'a Ebpf, name: &str) -> &'a MapData {
    match ebpf.map(name).expect("map") {
        Map::HashMap(d) | Map::PerCpuArray(d) | Map::Array(d) => d,
        other => panic!("unexpected map kind {other:?}"),
    }
}

fn flow_key(i: u32) -> LqosFlowKey {
    let mut k = LqosFlowKey {
        proto: 6,
        ..LqosFlowKey::default()
    };
    k.local[..4].copy_from_slice(&i.to_be_bytes());
    k.remote[12..].copy_from_slice(&(i.wrapping_mul(2_654_435_761)).to_be_bytes());
    k.local_port = (i as u16).to_be();
    k
}

fn flow_value(i: u32) -> LqosFlow {
    let mut f = LqosFlow {
        first_seen_ns: u64::from(i) * 7,
        circuit: i,
        ..LqosFlow::default()
    };
    f.dir[FLOW_DOWN].packets = i + 1;
    f
}

#[test]
fn lookup_and_delete_batches_of_a_few_thousand_flows() {
    const N: u32 = 3000;
    let mut ebpf = load_private(8192, 64);
    {
        let mut map: HashMap<_, LqosFlowKey, LqosFlow> =
            HashMap::try_from(ebpf.map_mut(MAP_FLOWS).expect("flows")).expect("hash");
        for i in 0..N {
            map.insert(flow_key(i), flow_value(i), 0).expect("insert");
        }
    }
    let flows = data(&ebpf, MAP_FLOWS);
    let mut out = Vec::new();
    // chunk 1 must grow on every bucket holding more than one entry (ENOSPC), not loop.
    for chunk in [1, 7, 256, 100_000] {
        lookup_batch::<LqosFlowKey, LqosFlow>(flows, chunk, &mut out).expect("lookup batch");
        assert_eq!(out.len(), N as usize, "chunk {chunk}: every entry");
        let seen: BTreeSet<u32> = out.iter().map(|(_, v)| v.circuit).collect();
        assert_eq!(seen.len(), N as usize, "chunk {chunk}: each exactly once");
        for (k, v) in &out {
            assert_eq!(*k, flow_key(v.circuit), "key and value belong together");
            assert_eq!(*v, flow_value(v.circuit));
        }
    }

    // Delete the even ones, with a key that is not in the map in the middle.
    let mut doomed: Vec<LqosFlowKey> = (0..N).step_by(2).map(flow_key).collect();
    doomed.insert(700, flow_key(N + 5));
    let deleted = delete_batch(flows, &doomed).expect("delete batch");
    assert_eq!(deleted, N / 2);
    lookup_batch::<LqosFlowKey, LqosFlow>(flows, 128, &mut out).expect("lookup batch");
    let left: BTreeSet<u32> = out.iter().map(|(_, v)| v.circuit).collect();
    assert_eq!(left, (1..N).step_by(2).collect::<BTreeSet<u32>>());
    assert_eq!(delete_batch::<LqosFlowKey>(flows, &[]).expect("empty"), 0);

    // An empty map: no entry, no error.
    let odd: Vec<LqosFlowKey> = (1..N).step_by(2).map(flow_key).collect();
    assert_eq!(delete_batch(flows, &odd).expect("delete the rest"), N / 2);
    lookup_batch::<LqosFlowKey, LqosFlow>(flows, 64, &mut out).expect("lookup batch");
    assert!(out.is_empty());

    // Wrong types and a zero chunk are errors, not garbage.
    let mut wrong: Vec<(LqosFlowKey, u64)> = Vec::new();
    assert!(matches!(
        lookup_batch(flows, 8, &mut wrong),
        Err(BatchError::Size { what: "value", .. })
    ));
    assert!(matches!(
        lookup_batch::<LqosFlowKey, LqosFlow>(flows, 0, &mut out),
        Err(BatchError::ZeroChunk)
    ));
    let mut rtt_plain: Vec<(u32, LqosRttHist)> = Vec::new();
    assert!(matches!(
        lookup_batch(data(&ebpf, MAP_RTT), 8, &mut rtt_plain),
        Err(BatchError::PerCpu)
    ));
}

#[test]
fn per_cpu_histograms_in_one_walk() {
    const CIRCUITS: u32 = 1000;
    let mut ebpf = load_private(16, CIRCUITS);
    let cpus = aya::util::nr_cpus().expect("cpus");
    {
        let mut map: PerCpuArray<_, LqosRttHist> =
            PerCpuArray::try_from(ebpf.map_mut(MAP_RTT).expect("rtt")).expect("percpu");
        let per_cpu: Vec<LqosRttHist> = (0..cpus)
            .map(|cpu| {
                let mut h = LqosRttHist::default();
                h.side[RTT_INTERNET].count[3] = cpu as u32 + 1;
                h.side[RTT_SUBSCRIBER].sum_us[23] = 77;
                h
            })
            .collect();
        let values = PerCpuValues::try_from(per_cpu).expect("per-cpu values");
        map.set(7, values, 0).expect("set index 7");
    }
    let mut seen = 0u32;
    let mut index7 = None;
    lookup_batch_per_cpu::<u32, LqosRttHist>(data(&ebpf, MAP_RTT), 100, |i, v| {
        assert_eq!(v.len(), cpus);
        assert_eq!(i, seen, "indexes in order");
        seen += 1;
        if i == 7 {
            index7 = Some(v.to_vec());
        } else {
            assert!(v.iter().all(|h| *h == LqosRttHist::default()), "index {i}");
        }
    })
    .expect("per-cpu batch");
    assert_eq!(seen, CIRCUITS);
    let index7 = index7.expect("index 7 seen");
    for (cpu, h) in index7.iter().enumerate() {
        assert_eq!(h.side[RTT_INTERNET].count[3], cpu as u32 + 1);
        assert_eq!(h.side[RTT_SUBSCRIBER].sum_us[23], 77);
    }
    let mut plain_on_flows = 0;
    assert!(matches!(
        lookup_batch_per_cpu::<LqosFlowKey, LqosFlow>(data(&ebpf, MAP_FLOWS), 8, |_, _| {
            plain_on_flows += 1
        }),
        Err(BatchError::PerCpu)
    ));
}
