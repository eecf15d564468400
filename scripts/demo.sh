#!/usr/bin/env bash
# Installs what lqos needs, builds it, and runs the one-shot refresh on the bundled example
# network (etc/): validation, then the queue plan as tc commands and IP mappings.
# lqosd (which applies plans to the kernel) and the WebUI arrive in later releases; until then
# this is the dry run an operator uses to check a plan before it goes live.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p lqos-scheduler

out=target/demo
mkdir -p "$out"
cp etc/ShapedDevices.csv etc/network.json etc/lqos_overrides.json "$out/"
sed -e "s|^lqos_directory = .*|lqos_directory = \"$PWD/$out\"|" \
    -e "s|^state_directory = .*|state_directory = \"$PWD/$out/state\"|" etc/lqos.conf > "$out/lqos.conf"
bin=target/release/lqos-scheduler

echo "== lqos-scheduler validate (the bundled example: etc/)"
"$bin" --config "$out/lqos.conf" validate
echo
echo "== lqos-scheduler refresh --dry-run"
"$bin" --config "$out/lqos.conf" refresh --dry-run > "$out/plan.txt"
echo
echo "== the first lines of the plan (all of it: $out/plan.txt)"
head -n 24 "$out/plan.txt"
echo "..."
grep -A 6 '^# ip mappings' "$out/plan.txt"
echo "..."
echo
echo "Try: $bin --config $out/lqos.conf refresh --dry-run --debug > /dev/null"
