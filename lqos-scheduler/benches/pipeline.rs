//! Files to rendered plan at 1k, 10k and 100k circuits (lqos-gen inputs, ~2 devices each).
//!
//! `cargo bench -p lqos-scheduler --bench pipeline` prints, per size, the median of each phase
//! in process, a baseline measured in the same run (reading the CSV with the csv crate and no
//! validation: the floor for any parser), and the real binary's wall time and peak RSS for
//! `lqos-scheduler refresh --dry-run > /dev/null`. Goal: 100k circuits under 1 s and 300 MB.

use lqos_config::{load_inputs, Config};
use lqos_plan::{render_mappings, render_tc};
use lqos_scheduler::plan::{plan, AssignOptions};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn write_config(dir: &Path) {
    let conf = "lqos_directory = \".\"\nstate_directory = \"state\"\n[bridge]\nto_internet = \"lqbench-absent0\"\nto_network = \"lqbench-absent1\"\n\
                [queues]\ndefault_sqm = \"cake diffserv4\"\noverride_available_queues = 4\ndownlink_bandwidth_mbps = 100000\nuplink_bandwidth_mbps = 100000\n";
    std::fs::write(dir.join("lqos.conf"), conf).expect("write config");
}

/// Runs the real binary once: (wall time, peak RSS in MiB). The child's peak includes this
/// process's own high-water mark (it is spawned sharing our memory until exec), so this runs
/// before the bench allocates anything large.
fn run_binary(bin: &str, conf: &Path) -> (Duration, f64) {
    let t = Instant::now();
    // Reaped with wait4 below (std's wait would not report the child's resource usage).
    #[allow(clippy::zombie_processes)]
    let child = Command::new(bin)
        .arg("--config")
        .arg(conf)
        .args(["refresh", "--dry-run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run lqos-scheduler");
    let mut status = 0;
    // SAFETY: wait4 writes only into the two values we pass; the child is ours and unwaited.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = t.elapsed();
    assert!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "lqos-scheduler failed on {}",
        conf.display()
    );
    (wall, usage.ru_maxrss as f64 / 1024.0)
}

/// Input generation runs in a child of the bench so the bench's own memory stays small.
const GENERATE_ENV: &str = "LQOS_BENCH_GENERATE";

fn main() {
    if let Ok(spec) = std::env::var(GENERATE_ENV) {
        let (n, dir) = spec.split_once(':').expect("N:DIR");
        let g = lqos_gen::write_to_dir(
            &lqos_gen::GenSpec::new(n.parse().expect("N")),
            Path::new(dir),
        )
        .expect("generate");
        print!("{}", g.devices);
        return;
    }
    let bin = env!("CARGO_BIN_EXE_lqos-scheduler");
    let sizes = [(1_000usize, 15usize), (10_000, 9), (100_000, 5)];
    let dirs: Vec<tempfile::TempDir> = sizes
        .iter()
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let mut devices = Vec::new();
    for ((circuits, _), dir) in sizes.iter().zip(&dirs) {
        let out = Command::new(std::env::current_exe().expect("self"))
            .env(GENERATE_ENV, format!("{circuits}:{}", dir.path().display()))
            .output()
            .expect("generate inputs");
        assert!(out.status.success(), "generation failed");
        devices.push(String::from_utf8_lossy(&out.stdout).into_owned());
        write_config(dir.path());
    }
    // The real binary first, while this process is still small (see run_binary).
    let mut process = Vec::new();
    for ((_, runs), dir) in sizes.iter().zip(&dirs) {
        let conf = dir.path().join("lqos.conf");
        let results: Vec<(Duration, f64)> = (0..*runs).map(|_| run_binary(bin, &conf)).collect();
        let peak = results.iter().map(|r| r.1).fold(0.0, f64::max);
        process.push((median(results.into_iter().map(|r| r.0).collect()), peak));
    }

    println!(
        "lqos-scheduler pipeline benchmark ({} CPUs; medians)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:>8} {:>8} {:>9} | {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>6} | {:>9} {:>9}",
        "circuits",
        "devices",
        "prefixes",
        "csv-floor",
        "validate",
        "plan",
        "render",
        "total",
        "x floor",
        "runs",
        "process",
        "peak RSS"
    );
    for (i, ((circuits, runs), dir)) in sizes.iter().zip(&dirs).enumerate() {
        let (config, _) = Config::load(&dir.path().join("lqos.conf")).expect("config");
        let csv_path = config.shaped_devices_path();
        let (mut floor, mut validate, mut planning, mut render, mut total) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut prefixes = 0;
        for _ in 0..*runs {
            let t = Instant::now();
            let bytes = std::fs::read(&csv_path).expect("read csv");
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .comment(Some(b'#'))
                .from_reader(&bytes[..]);
            let mut record = csv::StringRecord::new();
            let mut fields = 0usize;
            while reader.read_record(&mut record).expect("csv") {
                fields += record.len();
            }
            std::hint::black_box(fields);
            floor.push(t.elapsed());

            let t0 = Instant::now();
            let loaded = load_inputs(&config).expect("valid inputs");
            let t1 = Instant::now();
            let planned = plan(
                &loaded.inputs,
                &config,
                4,
                None,
                AssignOptions {
                    binpacking: true,
                    rebalance: false,
                },
            )
            .expect("plan");
            let t2 = Instant::now();
            let p = &planned.plan;
            let (tc, maps) = std::thread::scope(|s| {
                let m = s.spawn(|| render_mappings(p));
                (render_tc(p), m.join().expect("render"))
            });
            let t3 = Instant::now();
            std::hint::black_box((tc.len(), maps.len()));
            prefixes = p.mappings.len();
            validate.push(t1 - t0);
            planning.push(t2 - t1);
            render.push(t3 - t2);
            total.push(t3 - t0);
        }
        let floor = median(floor);
        let total = median(total);
        println!(
            "{:>8} {:>8} {:>9} | {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms {:>7.1}ms | {:>8.2}x {:>6} | {:>7.1}ms {:>6.0}MiB",
            circuits,
            devices[i],
            prefixes,
            ms(floor),
            ms(median(validate)),
            ms(median(planning)),
            ms(median(render)),
            ms(total),
            total.as_secs_f64() / floor.as_secs_f64(),
            runs,
            ms(process[i].0),
            process[i].1
        );
    }
}
