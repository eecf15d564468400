#!/usr/bin/env bash
# Installs lqos on a Debian/Ubuntu host: the binaries (/usr/local/bin), the systemd units
# (lqosd.service, lqos_scheduler.service), the example configuration (/etc/lqos.conf and the
# input files in /opt/lqos, only where none exist: nothing of yours is overwritten) and the
# state directory (/var/lib/lqos). Then: edit /etc/lqos.conf and
#     systemctl enable --now lqosd lqos_scheduler
#
#   scripts/install.sh [--destdir DIR] [--bin-dir DIR]
#     --destdir DIR   install under DIR instead of / (packaging, tests)
#     --bin-dir DIR   take lqosd and lqos-scheduler from DIR instead of building them
# scripts/uninstall.sh undoes it.
set -euo pipefail
cd "$(dirname "$0")/.."
destdir="" bin_dir=""
while (($#)); do
    case "$1" in
        --destdir) destdir="$2"; shift 2 ;;
        --bin-dir) bin_dir="$2"; shift 2 ;;
        *) echo "install: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
if [ -z "$bin_dir" ]; then
    ./scripts/setup.sh
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    cargo build --release --locked -p lqosd -p lqos-scheduler
    bin_dir=target/release
fi
for b in lqosd lqos-scheduler; do
    [ -x "$bin_dir/$b" ] || { echo "install: $bin_dir/$b is missing" >&2; exit 1; }
done

install -d "$destdir/usr/local/bin" "$destdir/etc/systemd/system" "$destdir/opt/lqos" \
    "$destdir/var/lib/lqos" "$destdir/usr/share/doc/lqos"
install -m 0755 "$bin_dir/lqosd" "$bin_dir/lqos-scheduler" "$destdir/usr/local/bin/"
install -m 0644 etc/systemd/lqosd.service etc/systemd/lqos_scheduler.service "$destdir/etc/systemd/system/"
install -m 0644 README.md "$destdir/usr/share/doc/lqos/"
keep() { # source, target: install unless the operator already has one
    if [ -e "$2" ]; then echo "install: keeping your $2"; else install -m 0644 "$1" "$2"; fi
}
keep etc/lqos.conf "$destdir/etc/lqos.conf"
for f in ShapedDevices.csv network.json lqos_overrides.json; do keep "etc/$f" "$destdir/opt/lqos/$f"; done

if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
echo "install: done. Edit ${destdir}/etc/lqos.conf ([bridge] or [single_interface]), then:"
echo "    systemctl enable --now lqosd lqos_scheduler"
