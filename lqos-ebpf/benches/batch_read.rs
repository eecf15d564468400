//! Cost of reading the whole flow table from user space: `lookup_batch` (one syscall per
//! chunk) against aya's `HashMap::iter` (a `GET_NEXT_KEY` and a `LOOKUP_ELEM` per entry), with
//! 100,000 flows. `cargo bench -p lqos-ebpf --bench batch_read` (root; it PANICS otherwise).
//! Prints the median wall time of 5 reads (and the CPU time of the process over them).

use std::{path::PathBuf, time::Instant};

use aya::maps::{HashMap, Map};
use lqos_ebpf::*;

const FLOWS: u32 = 100_000;
const READS: usize = 5;

fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "\n\n*** batch_read bench: NOT RUN, needs root (CAP_BPF). ***\n"
    );
}

/// CPU time (user + system) of this process in ms.
fn cpu_ms() -> f64 {
    // SAFETY: a zeroed rusage the call fills in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

/// (median wall ms, mean CPU ms) of `READS` calls of `read`, which must see `FLOWS` entries.
fn time(mut read: impl FnMut() -> usize) -> (f64, f64) {
    let mut wall = Vec::new();
    let cpu0 = cpu_ms();
    for _ in 0..READS {
        let t = Instant::now();
        assert_eq!(read(), FLOWS as usize, "entries read");
        wall.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = (cpu_ms() - cpu0) / READS as f64;
    wall.sort_by(f64::total_cmp);
    (wall[READS / 2], cpu)
}

fn main() {
    require_root();
    let dir = PathBuf::from(format!("{BPFFS}/lqos-batch-bench-{}", std::process::id()));
    let sizes = MapSizes {
        flows: 131_072,
        circuits: 16,
        ..MapSizes::for_this_machine().expect("sizes")
    };
    let mut ebpf = load(&sizes, &dir).expect("load");
    std::fs::remove_dir_all(&dir).expect("remove the pin directory");
    {
        let mut map: HashMap<_, LqosFlowKey, LqosFlow> =
            HashMap::try_from(ebpf.map_mut(MAP_FLOWS).expect("flows")).expect("hash");
        for i in 0..FLOWS {
            let mut k = LqosFlowKey {
                proto: 6,
                ..LqosFlowKey::default()
            };
            k.local[12..].copy_from_slice(&i.to_be_bytes());
            k.remote_port = (i as u16).to_be();
            let v = LqosFlow {
                circuit: i,
                ..LqosFlow::default()
            };
            map.insert(k, v, 0).expect("insert");
        }
    }
    let Some(Map::HashMap(data)) = ebpf.map(MAP_FLOWS) else {
        panic!("{MAP_FLOWS} is not a hash map")
    };
    println!("reading {FLOWS} flows (168 B each) from {MAP_FLOWS}, median of {READS} reads");
    println!();
    println!("| method | wall ms per read | CPU ms per read |");
    println!("|---|---:|---:|");
    let mut out = Vec::with_capacity(FLOWS as usize);
    for chunk in [256, 1024, 4096, 16384] {
        let (wall, cpu) = time(|| {
            lookup_batch::<LqosFlowKey, LqosFlow>(data, chunk, &mut out).expect("batch");
            out.len()
        });
        println!("| lookup_batch, chunk {chunk} | {wall:.1} | {cpu:.1} |");
    }
    let map: HashMap<_, LqosFlowKey, LqosFlow> =
        HashMap::try_from(ebpf.map(MAP_FLOWS).expect("flows")).expect("hash");
    let (wall, cpu) = time(|| map.iter().filter(|e| e.is_ok()).count());
    println!("| aya HashMap::iter (next key + lookup per entry) | {wall:.1} | {cpu:.1} |");
}
