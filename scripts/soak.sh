#!/usr/bin/env bash
# The long soak (docs/reliability.md, "Soak"): lqosd and repeated `lqos-scheduler refresh` on a
# generated network in network namespaces, each cycle changing ~1% of the circuits, iperf3
# flows through a few circuits throughout; after every cycle the kernel must equal the plan.
# Prints lqosd's RSS over time and its slope after warm-up, refresh and apply times, and the
# flows' 1 s windows. Needs root.
#
#   scripts/soak.sh [CIRCUITS] [CYCLES] [FLOWS]      (default 10000 500 3)
#
# Runs the debug binaries unless LQOS_SOAK_PROFILE=release (then lqosd and the scheduler are
# built in release and the test, in debug, runs them through LQOS_BIN_DIR). CARGO_TARGET_DIR is
# honoured. LQOS_SOAK_SEED picks the churn (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
    echo "soak: needs root (network namespaces, tc, eBPF): run with sudo" >&2
    exit 1
fi
export LQOS_SOAK_CIRCUITS=${1:-10000} LQOS_SOAK_CYCLES=${2:-500} LQOS_SOAK_FLOWS=${3:-3}
if [ "${LQOS_SOAK_PROFILE:-debug}" = release ]; then
    cargo build --release -p lqosd -p lqos-scheduler -p lqos-cli --bins
    export LQOS_BIN_DIR=${CARGO_TARGET_DIR:-$PWD/target}/release
else
    cargo build -p lqosd -p lqos-scheduler -p lqos-cli --bins
fi
cargo test -p lqos-e2e --test soak -- --nocapture --test-threads 1
