#!/usr/bin/env bash
# Installs everything lqos needs to build and test on Debian/Ubuntu: the eBPF toolchain (clang,
# llvm, libbpf headers, bpftool), iproute2 for tc and network namespaces, iperf3 for traffic, ping
# (iputils-ping) for the round trips through the delay lines (tests/delay-line),
# socat and curl for the demo's WebUI, Chromium and Node.js for the browser tests (with
# playwright-core from webui/package-lock.json), wrk for the WebUI's latency benchmark,
# Prometheus for the test of the Grafana dashboard's queries, man-db to render the manual pages,
# tmux to run lqtop in a real terminal in its end-to-end test, faketime (libfaketime) for the
# clock-step fault test, protoc (protobuf-compiler, with the well-known .proto files of
# libprotobuf-dev) to build the etcd client, and etcd itself for the fleet tests. Then the geo
# datasets (data/package-lock.json) and the tables built from them into target/geo/
# (scripts/geo-data.sh, docs/geo-data.md).
# Idempotent: it installs only what is missing. Needs root (apt-get).
set -euo pipefail

packages=(clang llvm libbpf-dev bpftool iproute2 iperf3 ethtool systemd openssl linux-libc-dev pkg-config
    iputils-ping socat curl chromium wrk prometheus man-db tmux faketime protobuf-compiler libprotobuf-dev etcd-server etcd-client)
# Node.js: Debian's, unless the machine has one already.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: need root to install: ${missing[*]} (run as root)" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
    echo "setup: no Rust toolchain: install one with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi
# The browser tests' driver, pinned by webui/package-lock.json (no browser download: they
# use Debian's Chromium).
webui=$(cd "$(dirname "$0")/../webui" && pwd)
if [ ! -d "$webui/node_modules/playwright-core" ] || [ "$webui/package-lock.json" -nt "$webui/node_modules" ]; then
    (cd "$webui" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The open IP -> ASN / country datasets and world geometry, pinned by data/package-lock.json,
# converted into target/geo/ (the .deb's tables; target/geo/test/ for the demo and the tests).
"$(dirname "$0")/geo-data.sh"
echo "setup: ready ($(cargo --version), $(clang --version | head -n1))"
