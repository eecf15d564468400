#!/usr/bin/env bash
# The whole test suite: unit and property tests, the CLI against fixtures, the privileged
# end-to-end tests (network namespaces, real tc, real eBPF programs), which need root, and the
# WebUI's browser tests (headless Chromium against the live demo; scripts/browser-test.sh).
# Every privileged test cleans up its own namespaces, even when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
    echo "test: the end-to-end tests need root (network namespaces, tc, eBPF): run as root" >&2
    exit 1
fi
cargo build --workspace --all-targets --locked
cargo build --locked -p lqos-integrations --example crm-test-api --features testkit
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# No doc tests exist; --lib --bins --tests keeps the benches (which print figures) out.
cargo test --workspace --locked --no-fail-fast --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The bundled geo datasets against their source CSVs (#[ignore]d in a plain cargo test because
# they need data/node_modules, which setup.sh installed: a missing dataset fails here).
cargo test --locked -p lqos-telemetry --test geo_real_data -- --include-ignored 2>&1 | tee -a "$log"
geo=${PIPESTATUS[0]}
# Country centroids and the datasets manifest (node --test in data/).
geo_log=$(mktemp)
trap 'rm -f "$log" "$geo_log"' EXIT
(cd data && npm test --silent) 2>&1 | tee "$geo_log"
geo_js=${PIPESTATUS[0]}
LQOS_BIN_DIR=$PWD/target/debug ./scripts/browser-test.sh 2>&1 | tee -a "$log"
browser=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "Rust tests: %d passed, %d failed\n", passed, failed }' "$log"
# One "# pass"/"# fail" pair per node --test run of scripts/browser-test.sh (the demo's, the fleet's).
awk '/^# pass / { passed += $3 } /^# fail / { failed += $3 } END { printf "browser tests: %d passed, %d failed\n", passed, failed }' "$log"
awk '/^# pass / { passed += $3 } /^# fail / { failed += $3 } END { printf "geo data tests (node): %d passed, %d failed\n", passed, failed }' "$geo_log"
[ "$status" = 0 ] && [ "$geo" = 0 ] && [ "$geo_js" = 0 ] && [ "$browser" = 0 ]
