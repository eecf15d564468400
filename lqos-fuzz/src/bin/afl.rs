//! The AFL++ driver: `lqos-fuzz TARGET` runs one target of [`lqos_fuzz::TARGETS`] in AFL's
//! persistent mode. Built by `cargo afl build --features afl` (scripts/fuzz.sh).

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = lqos_fuzz::target(&name) else {
        let names: Vec<&str> = lqos_fuzz::TARGETS.iter().map(|t| t.name).collect();
        eprintln!("usage: lqos-fuzz TARGET (one of: {})", names.join(", "));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        (target.run)(data);
    });
}
