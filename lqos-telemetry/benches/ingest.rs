//! What lqosd's once-a-second telemetry work costs, with figures printed as medians:
//! - `FlowTable::ingest` of 100k flows (10 per circuit over 10k circuits, every flow's
//!   counters moving, RTT samples on a third of them), against a floor measured in the same
//!   run: one FxHashMap lookup per flow and nothing else;
//! - `Telemetry::ingest_flows` (the flow table plus the retransmit windows);
//! - the memory of the table at 100k flows, counted by a counting global allocator (live
//!   bytes allocated, before and after) and compared with the table's own `heap_bytes`;
//! - `ingest_rtt` for 10k changed circuits, and the memory of the RTT windows with 10k busy
//!   circuits after 5 minutes plus 90k idle ones (baseline only);
//! - a circuit view, a 100-circuit roll-up and the dashboard at that size.
//!
//! `cargo bench -p lqos-telemetry --bench ingest` (LQOS_BENCH_FLOWS, default 100000).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use lqos_ebpf::{LqosFlow, LqosFlowKey, LqosRttHist, RTT_BUCKETS, RTT_EDGES_US, RTT_INTERNET};
use lqos_ebpf::{FLOW_DOWN, FLOW_UP, RTT_SUBSCRIBER};
use lqos_telemetry::qoo::Qoo;
use lqos_telemetry::{CircuitRtt, FlowLimits, FlowTable, Telemetry};
use rustc_hash::FxHashMap;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const SEC: u64 = 1_000_000_000;
const FLOWS_PER_CIRCUIT: u32 = 10;

/// xorshift64*: deterministic inputs without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key(n: u32) -> LqosFlowKey {
    LqosFlowKey {
        remote: Ipv4Addr::from(0x6440_0000 + (n * 7919) % 65_536)
            .to_ipv6_mapped()
            .octets(),
        local: Ipv4Addr::from(0x0a00_0000 + n / FLOWS_PER_CIRCUIT)
            .to_ipv6_mapped()
            .octets(),
        remote_port: 443u16.to_be(),
        local_port: (30_000 + (n % FLOWS_PER_CIRCUIT) as u16).to_be(),
        proto: if n.is_multiple_of(5) { 17 } else { 6 },
        pad: [0; 3],
    }
}

fn flows(n: u32, now_ns: u64) -> Vec<(LqosFlowKey, LqosFlow)> {
    (0..n)
        .map(|i| {
            let f = LqosFlow {
                first_seen_ns: 1,
                last_seen_ns: now_ns,
                circuit: 1 + i / FLOWS_PER_CIRCUIT,
                ..Default::default()
            };
            (key(i), f)
        })
        .collect()
}

/// One second of traffic on every flow; a third take an RTT sample.
fn advance(flows: &mut [(LqosFlowKey, LqosFlow)], now_ns: u64, rng: &mut Rng) {
    for (_, f) in flows.iter_mut() {
        f.last_seen_ns = now_ns;
        let down = 1_000 + rng.below(200_000);
        f.dir[FLOW_DOWN].bytes += down;
        f.dir[FLOW_DOWN].packets = f.dir[FLOW_DOWN].packets.wrapping_add((down / 1200) as u32);
        f.dir[FLOW_UP].bytes += down / 20;
        f.dir[FLOW_UP].packets = f.dir[FLOW_UP].packets.wrapping_add((down / 24_000) as u32);
        if rng.below(100) == 0 {
            f.dir[FLOW_DOWN].retransmits += 1;
        }
        if rng.below(3) == 0 {
            f.sample_ns[FLOW_DOWN] = now_ns - 1;
            f.rtt_us = [
                5_000 + rng.below(20_000) as u32,
                20_000 + rng.below(60_000) as u32,
            ];
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// This thread's CPU time, ms (time on the CPU only: steady on a machine others load).
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn bench_flows(n: u32) {
    let passes = 21;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut input = flows(n, SEC);

    // Floor: one hash lookup per flow into a map of the same keys.
    let floor_map: FxHashMap<LqosFlowKey, u64> = input
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i as u64))
        .collect();
    let mut floor = Vec::new();
    let mut floor_cpu = Vec::new();
    for _ in 0..passes {
        let (t0, c0) = (Instant::now(), cpu_ms());
        let mut acc = 0u64;
        for (k, f) in &input {
            acc = acc.wrapping_add(floor_map.get(k).copied().unwrap_or(0) ^ f.dir[0].bytes);
        }
        black_box(acc);
        floor.push(ms(t0));
        floor_cpu.push(cpu_ms() - c0);
    }
    drop(floor_map);

    let before = live();
    let mut table = FlowTable::new(FlowLimits::default());
    let t0 = Instant::now();
    table.ingest(SEC, &input);
    let first = ms(t0);
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut changed = 0;
    for p in 2..=passes as u64 {
        advance(&mut input, p * SEC, &mut rng);
        let (t0, c0) = (Instant::now(), cpu_ms());
        let pass = table.ingest(p * SEC, &input);
        times.push(ms(t0));
        cpu.push(cpu_ms() - c0);
        changed = pass.changed_circuits.len();
    }
    let counted = live() - before;
    let computed = table.heap_bytes();
    let med = median(times);
    let floor = median(floor);
    let cpu = median(cpu);
    let floor_cpu = median(floor_cpu);
    println!(
        "FlowTable::ingest, {n} flows over {} circuits ({passes} passes)",
        n / FLOWS_PER_CIRCUIT
    );
    println!("  first pass (inserts):        {first:8.2} ms");
    println!(
        "  steady pass, median:         {med:8.2} ms  ({:.0} ns/flow)",
        med * 1e6 / f64::from(n)
    );
    println!(
        "  floor (1 hash lookup/flow):  {floor:8.2} ms  -> {:.1}x floor",
        med / floor
    );
    println!(
        "  CPU time: pass {cpu:.2} ms, floor {floor_cpu:.2} ms -> {:.1}x floor",
        cpu / floor_cpu
    );
    println!("  changed circuits per pass:   {changed}");
    println!(
        "  memory: {:.1} MiB counted by the allocator ({:.0} B/flow), {:.1} MiB from heap_bytes()",
        counted as f64 / 1048576.0,
        counted as f64 / f64::from(n),
        computed as f64 / 1048576.0
    );
    drop(table);

    // The same with the retransmit windows (what lqosd calls).
    let mut t = Telemetry::new(FlowLimits::default(), Qoo::default());
    let mut input = flows(n, SEC);
    t.ingest_flows(SEC, &input);
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for p in 2..=passes as u64 {
        advance(&mut input, p * SEC, &mut rng);
        let (t0, c0) = (Instant::now(), cpu_ms());
        black_box(t.ingest_flows(p * SEC, &input));
        times.push(ms(t0));
        cpu.push(cpu_ms() - c0);
    }
    println!(
        "Telemetry::ingest_flows (+ retransmit windows), median: {:.2} ms wall, {:.2} ms CPU",
        median(times),
        median(cpu)
    );
}

fn bucket_of(us: u32) -> usize {
    RTT_EDGES_US
        .iter()
        .position(|&e| us <= e)
        .unwrap_or(RTT_BUCKETS - 1)
}

/// About 10 samples per side per second in a few buckets around a circuit's own RTT.
fn add_second(h: &mut LqosRttHist, base_us: u32, rng: &mut Rng) {
    for side in [RTT_SUBSCRIBER, RTT_INTERNET] {
        let base = if side == RTT_SUBSCRIBER {
            base_us
        } else {
            base_us * 3
        };
        for _ in 0..10 {
            let us = base + rng.below(u64::from(base)) as u32;
            let b = bucket_of(us);
            h.side[side].count[b] = h.side[side].count[b].wrapping_add(1);
            h.side[side].sum_us[b] = h.side[side].sum_us[b].wrapping_add(us);
        }
    }
}

fn bench_rtt() {
    let busy = 10_000u32;
    let idle = 90_000u32;
    let mut rng = Rng(42);
    let before = live();
    let mut rtt = CircuitRtt::new();
    let mut hists: Vec<LqosRttHist> = vec![LqosRttHist::default(); busy as usize];
    let bases: Vec<u32> = (0..busy)
        .map(|_| 2_000 + rng.below(30_000) as u32)
        .collect();
    // Idle circuits: read once long ago (a baseline of a few buckets), nothing since.
    for c in 0..idle {
        let mut h = LqosRttHist::default();
        add_second(&mut h, 3_000 + c % 20_000, &mut rng);
        rtt.ingest_rtt(0, busy + 1 + c, &h);
    }
    let idle_bytes = live() - before;
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for s in 1..=310u64 {
        for (h, base) in hists.iter_mut().zip(&bases) {
            add_second(h, *base, &mut rng);
        }
        let (t0, c0) = (Instant::now(), cpu_ms());
        for (c, h) in hists.iter().enumerate() {
            rtt.ingest_rtt(s, c as u32 + 1, h);
        }
        rtt.advance(s);
        times.push(ms(t0));
        cpu.push(cpu_ms() - c0);
    }
    let counted = live() - before;
    let steady = median(times[300..].to_vec());
    let steady_cpu = median(cpu[300..].to_vec());
    println!(
        "CircuitRtt::ingest_rtt, {busy} changed circuits per pass (+ advance over {} circuits)",
        busy + idle
    );
    println!(
        "  pass, median of seconds 301-310: {steady:8.2} ms wall, {steady_cpu:.2} ms CPU ({:.0} ns/circuit)",
        steady_cpu * 1e6 / f64::from(busy)
    );
    println!(
        "  memory: idle circuits {:.0} B each; busy circuits (5 min of windows) {:.0} B each; total {:.1} MiB counted, {:.1} MiB from heap_bytes()",
        idle_bytes as f64 / f64::from(idle),
        (counted - idle_bytes) as f64 / f64::from(busy),
        counted as f64 / 1048576.0,
        rtt.heap_bytes() as f64 / 1048576.0
    );
}

fn bench_queries(n: u32) {
    // A Telemetry with n flows and their circuits' RTT windows filled for 5 minutes.
    let mut rng = Rng(7);
    let circuits = n / FLOWS_PER_CIRCUIT;
    let mut t = Telemetry::new(FlowLimits::default(), Qoo::default());
    let mut input = flows(n, SEC);
    let mut hists = vec![LqosRttHist::default(); circuits as usize + 1];
    for s in 1..=300u64 {
        advance(&mut input, s * SEC, &mut rng);
        let pass = t.ingest_flows(s * SEC, &input);
        for c in pass.changed_circuits {
            let h = &mut hists[c as usize];
            add_second(h, 3_000 + c * 3 % 40_000, &mut rng);
            t.ingest_rtt(s, c, h);
        }
    }
    // CPU time of this thread (the machine may be busy with other work).
    let time = |f: &dyn Fn()| {
        let mut v = Vec::new();
        for _ in 0..21 {
            let c0 = cpu_ms();
            f();
            v.push(cpu_ms() - c0);
        }
        median(v)
    };
    let view = time(&|| {
        black_box(t.circuit_view(black_box(77), 10));
    });
    let ids: Vec<u32> = (1..=100).collect();
    let rollup = time(&|| {
        black_box(t.rollup(&ids));
    });
    let dash = time(&|| {
        black_box(t.dashboard(10));
    });
    let all = time(&|| {
        black_box(t.flows().all_flows(100));
    });
    println!(
        "Queries with {n} flows, {circuits} circuits with 5 min of windows (medians, CPU time)"
    );
    println!("  circuit_view(10 flows): {view:.3} ms; rollup(100 circuits): {rollup:.3} ms");
    println!("  dashboard(10): {dash:.2} ms; all_flows(100): {all:.2} ms");
    println!(
        "  state: {:.1} MiB from heap_bytes()",
        t.heap_bytes() as f64 / 1048576.0
    );
}

fn main() {
    let n = std::env::var("LQOS_BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000u32);
    bench_flows(n);
    bench_rtt();
    bench_queries(n);
}
