#!/usr/bin/env bash
# The live demo: installs what lqos needs, builds it, and shapes the bundled example network
# (etc/) for real: network namespaces with an Internet host, the shaper (a bridge of two veths
# running lqosd) and a subscribers' host; lqos-scheduler applies the plan through lqosd, then
# iperf3 measures a few circuits against their plans. Needs root. Ctrl-C removes everything.
# (The WebUI on :9123 arrives in a later release.)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
    echo "demo: needs root (network namespaces, eBPF, tc): run with sudo" >&2
    exit 1
fi
cargo build --release --locked -p lqosd -p lqos-scheduler
bin=$PWD/target/release
out=$PWD/target/demo
inet=lqdemo-inet shaper=lqdemo-shaper subs=lqdemo-subs
lqosd_pid=

cleanup() {
    [ -n "$lqosd_pid" ] && kill "$lqosd_pid" 2>/dev/null && wait "$lqosd_pid" 2>/dev/null
    for ns in $inet $shaper $subs; do ip netns del "$ns" 2>/dev/null || true; done
    umount -l "$out/bpf" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
rm -rf "$out" && mkdir -p "$out/bpf"
mount -t bpf bpf "$out/bpf"

echo "== network namespaces: $inet <-> $shaper (bridge lqi|lqn, lqosd) <-> $subs"
for ns in $inet $shaper $subs; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n $shaper link add lqi numtxqueues 2 numrxqueues 2 type veth peer name eth0 netns $inet
ip -n $shaper link add lqn numtxqueues 2 numrxqueues 2 type veth peer name eth0 netns $subs
ip -n $shaper link add br0 type bridge
for dev in lqi lqn; do ip -n $shaper link set $dev master br0 up; done
ip -n $shaper link set br0 up
ip -n $inet addr add 100.127.255.254/10 dev eth0
for addr in 100.64.1.10 100.64.1.40 100.64.1.50; do ip -n $subs addr add $addr/10 dev eth0; done
for ns in $inet $subs; do
    # Software checksums on the senders (veth + native XDP into a cpumap; see docs/dataplane.md).
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
    ip -n "$ns" link set eth0 up
done

# The leaf qdisc: CAKE where the kernel has it, else pfifo (HTB still shapes).
leaf="cake diffserv4"
if ! ip netns exec $shaper tc qdisc add dev lo root cake 2>/dev/null; then leaf=pfifo; fi
ip netns exec $shaper tc qdisc del dev lo root 2>/dev/null || true
echo "== leaf qdisc: $leaf"

cp etc/network.json "$out/"
if [ "$leaf" = pfifo ]; then
    # Per-circuit cake/fq_codel requests need qdiscs this kernel lacks: the default for
    # ShapedDevices.csv's sqm column, no leaf for the override's.
    sed -E 's#,[a-z_/]*(cake|fq_codel)[a-z_/]*$#,#' etc/ShapedDevices.csv > "$out/ShapedDevices.csv"
    sed -E 's#"sqm_override": "[a-z_/]+"#"sqm_override": "none"#' etc/lqos_overrides.json > "$out/lqos_overrides.json"
else
    cp etc/ShapedDevices.csv etc/lqos_overrides.json "$out/"
fi
sed -e "s|^lqos_directory = .*|lqos_directory = \"$out\"|" \
    -e "s|^state_directory = .*|state_directory = \"$out/state\"|" \
    -e "s|^to_internet = .*|to_internet = \"lqi\"|" \
    -e "s|^to_network = .*|to_network = \"lqn\"|" \
    -e "s|^default_sqm = .*|default_sqm = \"$leaf\"|" \
    -e "s|^bus_socket = .*|bus_socket = \"$out/bus\"|" \
    -e "s|^bpf_pin_dir = .*|bpf_pin_dir = \"$out/bpf/lqos\"|" etc/lqos.conf > "$out/lqos.conf"

echo "== lqosd (log: $out/lqosd.log)"
ip netns exec $shaper "$bin/lqosd" --config "$out/lqos.conf" 2> "$out/lqosd.log" &
lqosd_pid=$!
for _ in $(seq 100); do [ -S "$out/bus" ] && break; sleep 0.1; done
echo "== lqos-scheduler refresh"
ip netns exec $shaper "$bin/lqos-scheduler" --config "$out/lqos.conf" refresh

measure() { # addr, -R for upload
    ip netns exec $subs iperf3 -s -1 -B "$1" -p 5299 >/dev/null 2>&1 &
    sleep 0.3
    ip netns exec $inet iperf3 -c "$1" -p 5299 -t 4 -O 1 -f m ${2:-} | awk '/receiver/ { print $7 }'
    wait
}
echo
echo "== iperf3 through the shaper (Mbit/s of TCP payload; HTB meters frames, ~4.5% more)"
printf '%-10s %-30s %12s %12s\n' circuit plan download upload
for c in "1001 100.64.1.10 100/20" "1004 100.64.1.40 12.5/2.5" "1005 100.64.1.50 300/60_(lqos_overrides.json)"; do
    set -- $c
    printf '%-10s %-30s %12s %12s\n' "$1" "${3//_/ }" "$(measure "$2")" "$(measure "$2" -R)"
done
echo
echo "lqosd is shaping $(grep -c '^[0-9]' "$out/ShapedDevices.csv") devices of the bundled example. Look around:"
echo "  ip netns exec $shaper tc -s class show dev lqn | head -20"
echo "  edit $out/ShapedDevices.csv, then: ip netns exec $shaper $bin/lqos-scheduler --config $out/lqos.conf refresh"
if [ -t 0 ]; then
    echo "Ctrl-C stops the demo and removes everything it created."
    wait "$lqosd_pid"
fi
