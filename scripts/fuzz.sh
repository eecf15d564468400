#!/usr/bin/env bash
# Fuzzes every target of lqos-fuzz with AFL++ (cargo-afl, stable Rust) for SECONDS each
# (default 600), one after another, then minimises each target's queue into
# lqos-fuzz/corpus/<target>/ and copies any crash or hang into lqos-fuzz/regressions/<target>/.
# Prints per target: seconds, total executions, executions per second, corpus size, crashes.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Not part of CI (CI replays the corpus: `cargo test -p lqos-fuzz`). Installs cargo-afl and
# builds AFL++ on first use (needs clang, llvm and make, which scripts/setup.sh installs).
# FUZZ_WORK (default /tmp/lqos-fuzz) keeps AFL's output directories.
set -euo pipefail

cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(shaped_devices network_json overrides lqos_conf bus_frames bus_messages webui_bodies integrations)
fi
work=${FUZZ_WORK:-/tmp/lqos-fuzz}
target_dir=${CARGO_TARGET_DIR:-target}

if ! cargo afl --version >/dev/null 2>&1; then
    cargo install --locked cargo-afl@0.18.2
fi
# Builds AFL++ for this rustc once; "already built" is not an error.
cargo afl config --build >/dev/null 2>&1 || true

# With an explicit --target, cargo-afl's flags (coverage instrumentation, debug assertions,
# overflow checks) reach only the fuzzed code, not build scripts and proc macros; opt-level 1
# builds several times faster than cargo-afl's default 3 on a small machine.
host=$(rustc -vV | sed -n 's/^host: //p')
AFL_OPT_LEVEL=${AFL_OPT_LEVEL:-1} cargo afl build --release --target "$host" -p lqos-fuzz --features afl
bin="$target_dir/$host/release/lqos-fuzz"

# Seeds (etc/, tests/fixtures, encoded bus messages) join the committed corpus as inputs.
rm -rf "$work/seeds"
cargo run -q -p lqos-fuzz --example seeds -- "$work/seeds"

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
stat() { sed -n "s/^$1 *: //p" "$2" | tr -d ' '; }
results=()
for t in "${targets[@]}"; do
    in="$work/in/$t" out="$work/out/$t" corpus="lqos-fuzz/corpus/$t"
    rm -rf "$in" "$out"
    mkdir -p "$in" "$corpus" "$work/out" "$work/cmin"
    cp "$work/seeds/$t"/* "$in"/ 2>/dev/null || true
    cp "$corpus"/* "$in"/ 2>/dev/null || true
    echo "== $t: ${secs}s from $(ls "$in" | wc -l) inputs"
    cargo afl fuzz -V "$secs" -i "$in" -o "$out" -- "$bin" "$t" >"$work/$t.log" 2>&1 || {
        tail -20 "$work/$t.log"
        echo "afl-fuzz failed for $t (log: $work/$t.log)" >&2
        exit 1
    }
    s="$out/default/fuzzer_stats"
    # Keeps only the inputs that add an edge (hit counts ignored, to keep the corpus small).
    rm -rf "$work/cmin/$t"
    if cargo afl cmin -e -i "$out/default/queue" -o "$work/cmin/$t" -- "$bin" "$t" >"$work/$t.cmin.log" 2>&1; then
        rm -rf "$corpus" && mv "$work/cmin/$t" "$corpus"
    else
        echo "afl-cmin failed for $t (log: $work/$t.cmin.log): $corpus left as it was" >&2
    fi
    found=0
    for kind in crashes hangs; do
        for f in "$out/default/$kind"/id*; do
            [ -e "$f" ] || continue
            mkdir -p "lqos-fuzz/regressions/$t"
            cp "$f" "lqos-fuzz/regressions/$t/$kind-$(basename "$f" | cut -c1-9 | tr ':' '-')"
            found=$((found + 1))
        done
    done
    results+=("$(printf '%-16s %6s %12s %10s %6s %8s %6s' "$t" "$(stat run_time "$s")" \
        "$(stat execs_done "$s")" "$(stat execs_per_sec "$s")" "$(ls "$corpus" | wc -l)" \
        "$(($(cat "$corpus"/* | wc -c) / 1024))K" "$found")")
done
printf '%-16s %6s %12s %10s %6s %8s %6s\n' target secs execs execs/s files size found
printf '%s\n' "${results[@]}"
