#!/usr/bin/env bash
# The long soak (docs/reliability.md, "Soak"): lqosd and repeated `lqos-scheduler refresh` on a
# generated network in network namespaces, each cycle changing ~1% of the circuits, iperf3
# flows through a few circuits throughout; after every cycle the kernel must equal the plan.
# Prints lqosd's RSS over time and its slope after warm-up, refresh and apply times, and the
# flows' 1 s windows. Needs root.
#
#   scripts/soak.sh [CIRCUITS] [CYCLES] [FLOWS]      (default 10000 500 3)
#
# Uses the debug build unless LQOS_SOAK_PROFILE=release (the binaries and the test are built
# first, with CARGO_TARGET_DIR if set). LQOS_SOAK_SEED picks the churn (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
    echo "soak: needs root (network namespaces, tc, eBPF): run with sudo" >&2
    exit 1
fi
export LQOS_SOAK_CIRCUITS=${1:-10000} LQOS_SOAK_CYCLES=${2:-500} LQOS_SOAK_FLOWS=${3:-3}
profile=()
[ "${LQOS_SOAK_PROFILE:-debug}" = release ] && profile=(--release)
cargo build "${profile[@]}" -p lqosd -p lqos-scheduler --bins
cargo test "${profile[@]}" -p lqos-e2e --test soak -- --nocapture --test-threads 1
