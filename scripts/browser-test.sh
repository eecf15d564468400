#!/usr/bin/env bash
# The WebUI's browser tests, in Debian's headless Chromium driven by playwright-core:
# - webui/tests/webui.test.mjs against the live demo (network namespaces, lqosd,
#   lqos-scheduler, iperf3 traffic; scripts/demo.sh --first-run);
# - then, with the demo stopped, webui/tests/fleet.test.mjs: the Scheduler page's Fleet card on
#   a fleet box against a real 3-member etcd (its bed, target/debug/examples/fleet-webui-bed,
#   is started and removed by the test itself).
# Screenshots of every page land in target/browser-tests/. Needs root. Uses the binaries in
# LQOS_BIN_DIR (default target/debug: build them first, with --all-targets for the bed).
# Prints "browser tests: N passed, M failed" over both runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export LQOS_BIN_DIR=${LQOS_BIN_DIR:-$root/target/debug}
for b in lqosd lqos-scheduler lqos lqos-delay-line; do
    [ -x "$LQOS_BIN_DIR/$b" ] || { echo "browser-test: $LQOS_BIN_DIR/$b is missing: cargo build first" >&2; exit 1; }
done
# The CRM test APIs (the integration editors' test), built with the binaries' target dir.
[ -x "$LQOS_BIN_DIR/examples/crm-test-api" ] || {
    echo "browser-test: $LQOS_BIN_DIR/examples/crm-test-api is missing: cargo build -p lqos-integrations --example crm-test-api --features testkit" >&2
    exit 1
}
[ -x "$LQOS_BIN_DIR/examples/fleet-webui-bed" ] || {
    echo "browser-test: $LQOS_BIN_DIR/examples/fleet-webui-bed is missing: cargo build -p lqos-e2e --example fleet-webui-bed" >&2
    exit 1
}
artifacts=$root/target/browser-tests
rm -rf "$artifacts" && mkdir -p "$artifacts"
demo_pid=
stop_demo() {
    if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
        kill -TERM "$demo_pid"
        wait "$demo_pid" 2>/dev/null || true
    fi
}
trap stop_demo EXIT
# Port 19123 on loopback, so a demo or WebUI already on 9123 is left alone.
# Each flow capped at 6 Mbit/s (~38 Mbit/s down in all): the demo's full 220 Mbit/s through
# its real-time delay lines leaves Chromium too little of a 2-core machine (page loads timed
# out at a load average of 30).
LQOS_DEMO_MAX_RATE=6 LQOS_DEMO_PORT=19123 ./scripts/demo.sh --first-run --quick --keep > "$artifacts/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 600); do
    grep -q '^WebUI:' "$artifacts/demo.log" && break
    kill -0 "$demo_pid" 2>/dev/null || break
    sleep 0.2
done
if ! grep -q '^WebUI:' "$artifacts/demo.log"; then
    echo "browser-test: the demo did not come up:" >&2
    tail -30 "$artifacts/demo.log" >&2
    exit 1
fi
export LQOS_URL=http://10.123.0.2:9123 LQOS_DEMO_DIR=$root/target/demo LQOS_ARTIFACTS=$artifacts
cd webui
set +e
node --test --test-concurrency=1 tests/webui.test.mjs 2>&1 | tee "$artifacts/webui.tap"
webui=${PIPESTATUS[0]}
# The fleet bed runs alone: the demo's traffic would compete with etcd's timing on 2 cores.
stop_demo
node --test --test-concurrency=1 tests/fleet.test.mjs 2>&1 | tee "$artifacts/fleet.tap"
fleet=${PIPESTATUS[0]}
set -e
awk '/^# pass / { passed += $3 } /^# fail / { failed += $3 } END { printf "browser tests: %d passed, %d failed\n", passed, failed }' \
    "$artifacts/webui.tap" "$artifacts/fleet.tap"
[ "$webui" = 0 ] && [ "$fleet" = 0 ]
