#!/usr/bin/env bash
# Builds the Debian package lqos_<version>_<arch>.deb with dpkg-deb (no packaging tool beyond
# dpkg itself, which every Debian machine has; the layout is written out here, in full view):
# the binaries, the systemd units (enabled by nothing), /etc/lqos.conf as a conffile, the
# example inputs, the docs, the manual pages and shell completions, the Grafana dashboard, and
# the geo tables with their manifest and licences (/usr/share/lqos/geo: scripts/geo-data.sh).
# The maintainer scripts are in etc/debian/.
#
#   scripts/package.sh [--bin-dir DIR] [--version V] [--out DIR]
#     --bin-dir DIR  take the binaries from DIR (lqosd, lqos-scheduler, lqos, lqtop, lqos-manpages,
#                    and lqos-geo-build when there) instead of building them in release mode
#     --version V    the package version (default: the workspace's)
#     --out DIR      where to write the .deb (default: target/debian)
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir="" version="" out=target/debian
while (($#)); do
    case "$1" in
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --version) version="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "package: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
if [ -z "$bin_dir" ]; then
    ./scripts/setup.sh
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    cargo build --release --locked -p lqosd -p lqos-scheduler -p lqos-cli -p lqtop -p lqos-manpages
    bin_dir=target/release
fi
[ -n "$version" ] || version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
for b in lqosd lqos-scheduler lqos lqtop lqos-manpages; do
    [ -x "$bin_dir/$b" ] || { echo "package: $bin_dir/$b is missing" >&2; exit 1; }
done
# The geo tables (built here unless up to date; offline once data/node_modules is installed).
geo_tool=()
[ -x "$bin_dir/lqos-geo-build" ] && geo_tool=(--tool "$bin_dir/lqos-geo-build")
./scripts/geo-data.sh "${geo_tool[@]}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/lqos_${version}_$arch"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc" \
    "$root/usr/share/lqos/examples" "$root/usr/share/lqos/grafana" "$root/usr/share/doc/lqos/docs" \
    "$root/usr/share/lqos/geo/licenses" \
    "$root/usr/share/man/man8" "$root/usr/share/bash-completion/completions" \
    "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d"
for b in lqosd lqos-scheduler lqos lqtop; do
    install -m 0755 "$bin_dir/$b" "$root/usr/bin/"
    strip --strip-unneeded "$root/usr/bin/$b"
done
for unit in lqosd.service lqos_scheduler.service; do
    sed 's|/usr/local/bin/|/usr/bin/|g' "etc/systemd/$unit" > "$root/lib/systemd/system/$unit"
    chmod 0644 "$root/lib/systemd/system/$unit"
done
install -m 0644 etc/lqos.conf "$root/etc/lqos.conf"
install -m 0644 etc/ShapedDevices.csv etc/network.json etc/lqos_overrides.json "$root/usr/share/lqos/examples/"
install -m 0644 etc/grafana/lqos.json "$root/usr/share/lqos/grafana/"
install -m 0644 target/geo/asn.bin target/geo/country.bin target/geo/country-centroids.json target/geo/world.json \
    target/geo/datasets.json "$root/usr/share/lqos/geo/"
install -m 0644 target/geo/licenses/* "$root/usr/share/lqos/geo/licenses/"
install -m 0644 README.md "$root/usr/share/doc/lqos/"
install -m 0644 etc/README.md "$root/usr/share/doc/lqos/examples.md"
install -m 0644 docs/*.md "$root/usr/share/doc/lqos/docs/"
printf 'lqos\nLicense: GPL-2.0-only (see /usr/share/common-licenses/GPL-2)\n\n%s\n' \
    'Files: /usr/share/lqos/geo/*: open datasets (IP -> ASN and country: CC BY 4.0, RouteViews, DB-IP, NRO; Natural Earth geometry: public domain), each with its version, licence and attribution in /usr/share/lqos/geo/datasets.json and its licence files in /usr/share/lqos/geo/licenses/ (docs/geo-data.md).' \
    > "$root/usr/share/doc/lqos/copyright"
generated="$stage/generated"
"$bin_dir/lqos-manpages" "$generated" >/dev/null
for page in "$generated"/man/man8/*.8; do
    gzip -9n < "$page" > "$root/usr/share/man/man8/$(basename "$page").gz"
done
for b in lqosd lqos-scheduler lqos lqtop; do
    install -m 0644 "$generated/completions/bash/$b.bash" "$root/usr/share/bash-completion/completions/$b"
    install -m 0644 "$generated/completions/zsh/_$b" "$root/usr/share/zsh/vendor-completions/"
    install -m 0644 "$generated/completions/fish/$b.fish" "$root/usr/share/fish/vendor_completions.d/"
done

installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: lqos
Version: $version
Architecture: $arch
Maintainer: lqos developers <lqos@localhost>
Section: net
Priority: optional
Installed-Size: $installed_kb
Depends: libc6 (>= 2.34), libgcc-s1, iproute2, adduser
Recommends: ethtool, bpftool
Description: traffic shaper for Internet service providers
 lqos gives every subscriber the plan they pay for (an HTB class per circuit under the
 operator's network tree, with a fair-queueing leaf such as CAKE) at line rate, with XDP
 and TC eBPF programs that map each subscriber address to a CPU and a queue. It reads
 LibreQoS's ShapedDevices.csv, network.json and lqos_overrides.json.
CONTROL
echo /etc/lqos.conf > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "etc/debian/$script" "$root/DEBIAN/$script"
done
mkdir -p "$out"
deb="$out/lqos_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
echo "package: wrote $deb"
