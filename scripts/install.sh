#!/usr/bin/env bash
# Installs lqos on a Debian/Ubuntu host: the binaries (/usr/local/bin: lqosd, lqos-scheduler,
# lqos), the systemd units (lqosd.service, lqos_scheduler.service), the example configuration
# (/etc/lqos.conf and the input files in /opt/lqos, only where none exist: nothing of yours is
# overwritten), the state directory (/var/lib/lqos) and the system group lqos, whose members
# may use the `lqos` CLI without root (docs/bus.md). Then: edit /etc/lqos.conf and
#     systemctl enable --now lqosd lqos_scheduler
#
#   scripts/install.sh [--destdir DIR] [--bin-dir DIR]
#     --destdir DIR   install under DIR instead of / (packaging, tests)
#     --bin-dir DIR   take lqosd, lqos-scheduler and lqos from DIR instead of building them
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
    cargo build --release --locked -p lqosd -p lqos-scheduler -p lqos-cli -p lqtop -p lqos-manpages
    bin_dir=target/release
fi
for b in lqosd lqos-scheduler lqos lqtop lqos-manpages; do
    [ -x "$bin_dir/$b" ] || { echo "install: $bin_dir/$b is missing" >&2; exit 1; }
done

install -d "$destdir/usr/local/bin" "$destdir/etc/systemd/system" "$destdir/opt/lqos" \
    "$destdir/var/lib/lqos" "$destdir/usr/share/doc/lqos"
install -m 0755 "$bin_dir/lqosd" "$bin_dir/lqos-scheduler" "$bin_dir/lqos" "$bin_dir/lqtop" "$destdir/usr/local/bin/"
install -m 0644 etc/systemd/lqosd.service etc/systemd/lqos_scheduler.service "$destdir/etc/systemd/system/"
install -m 0644 README.md "$destdir/usr/share/doc/lqos/"
# Manual pages (section 8) and bash, zsh and fish completions, generated from the binaries
# own command-line definitions.
generated=$(mktemp -d)
trap 'rm -rf "$generated"' EXIT
"$bin_dir/lqos-manpages" "$generated" >/dev/null
install -d "$destdir/usr/local/share/man/man8" "$destdir/usr/local/share/bash-completion/completions" \
    "$destdir/usr/local/share/zsh/site-functions" "$destdir/usr/local/share/fish/vendor_completions.d"
install -m 0644 "$generated"/man/man8/*.8 "$destdir/usr/local/share/man/man8/"
for b in lqosd lqos-scheduler lqos lqtop; do
    install -m 0644 "$generated/completions/bash/$b.bash" "$destdir/usr/local/share/bash-completion/completions/$b"
    install -m 0644 "$generated/completions/zsh/_$b" "$destdir/usr/local/share/zsh/site-functions/"
    install -m 0644 "$generated/completions/fish/$b.fish" "$destdir/usr/local/share/fish/vendor_completions.d/"
done
keep() { # source, target: install unless the operator already has one
    if [ -e "$2" ]; then echo "install: keeping your $2"; else install -m 0644 "$1" "$2"; fi
}
keep etc/lqos.conf "$destdir/etc/lqos.conf"
for f in ShapedDevices.csv network.json lqos_overrides.json; do keep "etc/$f" "$destdir/opt/lqos/$f"; done

# The bus socket's group: lqosd gives /run/lqos/bus (mode 0660) to it when it exists.
if [ -z "$destdir" ]; then
    getent group lqos >/dev/null || groupadd --system lqos
    echo "install: group lqos may use the lqos CLI: usermod -aG lqos NAME (then log in again)"
else
    echo "install: on the target, create the bus group: groupadd --system lqos"
fi
if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
echo "install: done. Edit ${destdir}/etc/lqos.conf ([bridge] or [single_interface]), then:"
echo "    systemctl enable --now lqosd lqos_scheduler"
