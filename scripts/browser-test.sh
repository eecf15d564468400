#!/usr/bin/env bash
# The WebUI's browser tests: the live demo (network namespaces, lqosd, lqos-scheduler, iperf3
# traffic; scripts/demo.sh --first-run) and Debian's headless Chromium driven by playwright-core
# (webui/tests/). Screenshots of every page land in target/browser-tests/. Needs root.
# Uses the binaries in LQOS_BIN_DIR (default target/debug: build them first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export LQOS_BIN_DIR=${LQOS_BIN_DIR:-$root/target/debug}
for b in lqosd lqos-scheduler lqos; do
    [ -x "$LQOS_BIN_DIR/$b" ] || { echo "browser-test: $LQOS_BIN_DIR/$b is missing: cargo build first" >&2; exit 1; }
done
# The CRM test APIs (the integration editors' test), built with the binaries' target dir.
[ -x "$LQOS_BIN_DIR/examples/crm-test-api" ] || {
    echo "browser-test: $LQOS_BIN_DIR/examples/crm-test-api is missing: cargo build -p lqos-integrations --example crm-test-api --features testkit" >&2
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
LQOS_DEMO_PORT=19123 ./scripts/demo.sh --first-run --quick --keep > "$artifacts/demo.log" 2>&1 &
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
node --test --test-concurrency=1 tests/
