#!/usr/bin/env bash
# The live demo: installs what lqos needs, builds it, and runs the bundled example network
# (etc/) for real in network namespaces: an Internet host, the shaper (a bridge of two veths
# running lqosd and lqos-scheduler) and a subscribers' host, with latency on both sides: a
# remote server 15 ms (one way) beyond the Internet host and the subscribers in three CPE
# namespaces 3, 5 and 8 ms beyond the subscribers' host, each behind a delay line
# (lqos-delay-line: this kernel has no netem; docs/testing.md). iperf3 first measures a few
# circuits against their plans, then keeps traffic flowing through several circuits (some at
# their plan, some below, one address in no circuit) while the WebUI shows it live.
# Needs root. Ctrl-C (or SIGTERM) removes everything it created.
#
#   scripts/demo.sh [--first-run] [--quick] [--keep]
#     --first-run  create no WebUI user: the page asks for the first admin (and the setup
#                  token lqosd wrote to target/demo/state/webui-setup-token)
#     --quick      skip the iperf3 measurements (start the traffic at once)
#     --keep       stay up until Ctrl-C/SIGTERM even without a terminal (for tests)
#   LQOS_BIN_DIR=target/debug  use already built binaries instead of building release ones
#   LQOS_DEMO_PORT=9123        the WebUI's port on this host's loopback
#   LQOS_DEMO_MAX_RATE=N       cap each iperf3 flow at N Mbit/s (the browser tests: the delay
#                              lines forward every packet at a real-time priority, and the
#                              full traffic takes most of 2 cores from the browser)
set -euo pipefail
cd "$(dirname "$0")/.."
first_run=0 quick=0 keep=0
for a in "$@"; do
    case $a in
        --first-run) first_run=1 ;;
        --quick) quick=1 ;;
        --keep) keep=1 ;;
        *) echo "demo: unknown option $a (see the top of $0)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "demo: needs root (network namespaces, eBPF, tc): run as root" >&2
    exit 1
fi
./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ -n "${LQOS_BIN_DIR:-}" ]; then
    bin=$(cd "$LQOS_BIN_DIR" && pwd)
else
    cargo build --release --locked -p lqosd -p lqos-scheduler -p lqos-cli -p lqos-delay-line
    bin=$PWD/target/release
fi
out=$PWD/target/demo
port=${LQOS_DEMO_PORT:-9123}
inet=lqdemo-inet shaper=lqdemo-shaper subs=lqdemo-subs far=lqdemo-far
# The subscribers' CPE namespaces, each this many ms (one way) beyond the subscribers' host,
# and the subscriber addresses behind each. 100.64.99.7 is in no circuit (an "unknown IP").
cpes="3:100.64.1.10,100.64.4.10,100.64.99.7 5:100.64.1.40,100.64.5.20,100.64.8.20 8:100.64.1.50,100.64.6.20"
cpe_namespaces="lqdemo-cpe3 lqdemo-cpe5 lqdemo-cpe8"
internet_ms=15
host_ip=10.123.0.1 shaper_ip=10.123.0.2
forward_pid= sleep_pid= line_pids=
declare -A cpe_of # subscriber address -> its CPE namespace

cleanup() {
    local - # the options below end with the function
    set +e  # remove everything, whatever is already gone
    [ -n "$sleep_pid" ] && kill "$sleep_pid" 2>/dev/null
    if [ -n "$forward_pid" ]; then
        pkill -P "$forward_pid" 2>/dev/null # socat's connections
        kill "$forward_pid" 2>/dev/null
    fi
    # The delay lines (processes of this host whose devices hold the namespaces).
    [ -n "$line_pids" ] && kill $line_pids 2>/dev/null
    for ns in $inet $subs $shaper $far $cpe_namespaces; do
        # Deleting a namespace does not stop its processes: stop them first.
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] && kill $pids 2>/dev/null
    done
    sleep 0.5
    for ns in $inet $subs $shaper $far $cpe_namespaces; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] && kill -9 $pids 2>/dev/null
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del lqdemo-mgmt 2>/dev/null || true
    umount -l "$out/bpf" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
rm -rf "$out" && mkdir -p "$out/bpf" "$out/state"
mount -t bpf bpf "$out/bpf"

echo "== network namespaces: $inet <-> $shaper (bridge lqi|lqn, lqosd) <-> $subs"
for ns in $inet $shaper $subs; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n $shaper link add lqi numtxqueues 2 numrxqueues 2 type veth peer name eth0 netns $inet
ip -n $shaper link add lqn numtxqueues 2 numrxqueues 2 type veth peer name eth0 netns $subs
ip -n $shaper link add br0 type bridge
for dev in lqi lqn; do ip -n $shaper link set $dev master br0 up; done
ip -n $shaper link set br0 up
ip -n $inet addr add 100.127.255.254/10 dev eth0
ip -n $subs addr add 100.127.255.253/10 dev eth0
for ns in $inet $subs; do
    # Software checksums on the senders, so that the shaper can run native XDP on its veths
    # (xdp_mode = "native" below; see docs/dataplane.md).
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
    ip -n "$ns" link set eth0 up
    # They route between the shaper's link and their delay lines.
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
done

start_line() { # name, then lqos-delay-line's arguments; waits for its "ready"
    local name=$1
    shift
    # The lowest real-time priority: on a busy machine, lines under the normal scheduler
    # fall behind and queue (the demo's traffic measured 95 rather than 136 Mbit/s, lines
    # up to 130 ms late); a line's work is bounded by the traffic, which backs off.
    "$bin/lqos-delay-line" --priority 1 --exit-with-parent "$@" > "$out/line-$name.log" 2>&1 &
    line_pids="$line_pids $!"
    for _ in $(seq 100); do
        grep -q '^ready' "$out/line-$name.log" && return 0
        sleep 0.05
    done
    echo "demo: the delay line $name did not start:" >&2
    cat "$out/line-$name.log" >&2
    exit 1
}
echo "== delay lines: $far <-${internet_ms} ms-> $inet; $subs <-3/5/8 ms-> $cpe_namespaces"
# The remote server: every flow of the demo starts or ends there.
ip netns add $far
ip -n $far link set lo up
start_line internet --ns-a $inet --dev-a dlf --addr-a 10.123.1.2/30 --ns-b $far --dev-b dl0 \
    --addr-b 10.123.1.1/30 --delay-ms-a2b $internet_ms --delay-ms-b2a $internet_ms
ip -n $far route add default dev dl0
ip -n $subs route add 10.123.1.0/30 via 100.127.255.254
# More addresses of the remote server, in the test geo dataset's ranges (etc/geo-test/: CGNAT
# space, never public), so its flows come from several ASNs and countries: AS64501 FR,
# AS64502 JP, AS64503 BR, AS64504 ZA (10.123.1.1 itself is AS64506 GB).
remotes="10.123.1.1 100.80.0.10 100.96.0.10 100.104.0.10 100.112.0.10"
for a in ${remotes#* }; do
    ip -n $far addr add $a/32 dev lo
    ip -n $inet route add $a/32 via 10.123.1.1
    ip -n $subs route add $a/32 via 100.127.255.254
done
for c in $cpes; do
    ms=${c%%:*} addrs=${c#*:}
    ns=lqdemo-cpe$ms
    ip netns add $ns
    ip -n $ns link set lo up
    start_line cpe$ms --ns-a $subs --dev-a dlc$ms --ns-b $ns --dev-b dl0 \
        --delay-ms-a2b "$ms" --delay-ms-b2a "$ms"
    ip -n $ns route add default dev dl0
    for addr in ${addrs//,/ }; do
        cpe_of[$addr]=$ns
        ip -n $ns addr add "$addr/32" dev dl0
        # The Internet host sees the subscribers on its link (a /10): the subscribers' host
        # answers ARP for them and routes them to their CPE.
        ip -n $subs route add "$addr/32" dev dlc$ms
        ip -n $subs neigh add proxy "$addr" dev eth0
    done
done
# A management link from this host to the shaper, for the WebUI.
ip link add lqdemo-mgmt type veth peer name mgmt netns $shaper
ip addr add $host_ip/30 dev lqdemo-mgmt
ip link set lqdemo-mgmt up
ip -n $shaper addr add $shaper_ip/30 dev mgmt
ip -n $shaper link set mgmt up

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
    -e "s|^webserver_listen = .*|webserver_listen = \":::9123\"|" \
    -e "s|^to_internet = .*|to_internet = \"lqi\"|" \
    -e "s|^to_network = .*|to_network = \"lqn\"|" \
    -e "s|^default_sqm = .*|default_sqm = \"$leaf\"|" \
    -e "s|^bus_socket = .*|bus_socket = \"$out/bus\"|" \
    -e "s|^bpf_pin_dir = .*|bpf_pin_dir = \"$out/bpf/lqos\"|" \
    -e "s|^xdp_mode = .*|xdp_mode = \"native\"|" \
    -e "s|^#asn_file = .*|asn_file = \"$PWD/target/geo/test/asn.bin\"|" \
    -e "s|^#country_file = .*|country_file = \"$PWD/target/geo/test/country.bin\"|" \
    -e "s|^#data_dir = .*|data_dir = \"$PWD/target/geo\"|" etc/lqos.conf > "$out/lqos.conf"
conf=$out/lqos.conf

echo "== lqosd (log: $out/lqosd.log)"
ip netns exec $shaper "$bin/lqosd" --config "$conf" 2> "$out/lqosd.log" &
for _ in $(seq 100); do [ -S "$out/bus" ] && break; sleep 0.1; done
[ -S "$out/bus" ] || { echo "demo: lqosd did not start:" >&2; tail -20 "$out/lqosd.log" >&2; exit 1; }
echo "== lqos-scheduler run (log: $out/scheduler.log)"
ip netns exec $shaper "$bin/lqos-scheduler" --config "$conf" run 2> "$out/scheduler.log" &
for _ in $(seq 300); do
    "$bin/lqos" --config "$conf" status 2>/dev/null | grep -q "generation" && break
    sleep 0.1
done
"$bin/lqos" --config "$conf" status | head -3

measure() { # addr, -R for upload
    local cpe=${cpe_of[$1]}
    timeout 30 ip netns exec $cpe iperf3 -s -1 -B "$1" -p 5299 >/dev/null 2>&1 &
    local server=$!
    for _ in $(seq 50); do
        ip netns exec $cpe ss -ltn 2>/dev/null | grep -q "$1:5299" && break
        sleep 0.1
    done
    ip netns exec $far timeout 30 iperf3 -c "$1" -p 5299 -t 4 -O 1 -f m ${2:-} | awk '/receiver/ { print $7 }'
    wait $server || true
}
if [ $quick = 0 ]; then
    echo
    echo "== iperf3 through the shaper (Mbit/s of TCP payload; HTB meters frames, ~4.5% more)"
    printf '%-10s %-30s %12s %12s\n' circuit plan download upload
    for c in "1001 100.64.1.10 100/20" "1004 100.64.1.40 12.5/2.5" "1005 100.64.1.50 300/60+(lqos_overrides.json)"; do
        set -- $c
        printf '%-10s %-30s %12s %12s\n' "$1" "${3//+/ }" "$(measure "$2")" "$(measure "$2" -R)"
    done
fi

# Traffic that keeps flowing: address, port, direction (-R: upload), rate (0: as fast as the
# plan allows). About 220 Mbit/s down in all: every packet crosses two delay lines, which move
# packets one by one through user space (one line carries ~290 Mbit/s of TCP on 2 cores).
flows="100.64.1.10:5301::0 100.64.1.10:5302:-R:0 100.64.1.40:5303::0 100.64.4.10:5304::20M
100.64.5.20:5305::30M 100.64.6.20:5306::40M 100.64.8.20:5307::15M 100.64.8.20:5308:-R:0
100.64.99.7:5309::2M"
for f in $flows; do
    IFS=: read -r addr p dir rate <<< "$f"
    ip netns exec "${cpe_of[$addr]}" iperf3 -s -B "$addr" -p "$p" >/dev/null 2>&1 &
done
sleep 0.5
set -- $remotes
for f in $flows; do
    IFS=: read -r addr p dir rate <<< "$f"
    if [ -n "${LQOS_DEMO_MAX_RATE:-}" ] && { [ "$rate" = 0 ] || [ "${rate%M}" -gt "$LQOS_DEMO_MAX_RATE" ]; }; then
        rate=${LQOS_DEMO_MAX_RATE}M
    fi
    # Each flow from one of the remote server's addresses in turn (several ASNs/countries).
    src=$1 && shift && set -- "$@" "$src"
    # A client that comes back if its flow ever ends.
    ip netns exec $far bash -c "while true; do iperf3 -c $addr -p $p -B $src -t 3600 -b $rate $dir >/dev/null 2>&1; sleep 1; done" &
done

user_note="the page asks you to create the first admin, with the setup token in $out/state/webui-setup-token"
if [ $first_run = 0 ]; then
    password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 12)
    printf '%s\n' "$password" | "$bin/lqosd" --config "$conf" user add admin --role admin >/dev/null
    user_note="user admin, password $password"
fi
# The WebUI listens inside the shaper's namespace; forward this host's loopback to it.
if command -v socat >/dev/null; then
    socat TCP-LISTEN:"$port",bind=127.0.0.1,fork,reuseaddr TCP:$shaper_ip:9123 2>/dev/null &
    forward_pid=$!
    sleep 0.2
    if ! kill -0 $forward_pid 2>/dev/null; then
        echo "demo: 127.0.0.1:$port is taken (LQOS_DEMO_PORT picks another); the WebUI is at http://$shaper_ip:9123/ only" >&2
        forward_pid=
    fi
fi
webui_up=0
for _ in $(seq 300); do
    curl -fs "http://$shaper_ip:9123/health" >/dev/null 2>&1 && { webui_up=1; break; }
    sleep 0.1
done
if [ $webui_up = 0 ]; then
    echo "demo: the WebUI does not answer on $shaper_ip:9123; lqosd's log:" >&2
    tail -20 "$out/lqosd.log" >&2
    exit 1
fi
echo
echo "== lqos is shaping $(grep -c '^[0-9B]' "$out/ShapedDevices.csv") devices of the bundled example, with traffic flowing."
echo "WebUI: http://127.0.0.1:$port/ (or http://$shaper_ip:9123/); $user_note"
echo "  from another machine: ssh -L $port:127.0.0.1:$port root@this-host, then open http://127.0.0.1:$port/"
echo "Look around:"
echo "  $bin/lqos --config $conf top"
echo "  ip netns exec $shaper tc -s class show dev lqn | head -20"
echo "  edit $out/ShapedDevices.csv: lqos-scheduler applies it within seconds"
echo "  ip netns exec lqdemo-cpe5 ping 10.123.1.1    # the remote server: 2 x (5 + ${internet_ms}) ms away, plus the queues"
if [ -t 0 ] || [ $keep = 1 ]; then
    echo "Ctrl-C stops the demo and removes everything it created."
    while true; do
        sleep 3600 &
        sleep_pid=$!
        wait $sleep_pid
    done
fi
