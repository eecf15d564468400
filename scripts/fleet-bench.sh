#!/usr/bin/env bash
# Fleet figures for docs/fleet.md: failover time (median and max over FLEET_RUNS, default 20),
# time for a change to reach every box, and etcd bytes per publication at 10k and 100k
# circuits. Runs a private 3-member etcd on loopback (Debian etcd-server) and two
# lqos-scheduler services in fleet mode; needs no root. FLEET_TTL sets the lease TTL (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v etcd >/dev/null || { echo "fleet-bench: etcd is not installed (scripts/setup.sh)" >&2; exit 1; }
cargo build --bins -p lqos-scheduler --profile dev
# The dev profile: the figures are timings of etcd and of the services, not of CPU-bound code,
# and a release build of the whole dependency tree is not worth its disk and time here.
exec cargo bench --profile dev -p lqos-e2e --bench fleet
