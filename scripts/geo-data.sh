#!/usr/bin/env bash
# Builds lqos's geo data (docs/geo-data.md) into target/geo/ from the npm datasets pinned by
# data/package-lock.json: asn.bin and country.bin (lqos-geo-build), country-centroids.json,
# datasets.json (the About page's manifest) and licenses/ (node data/build.mjs), plus the
# test/demo tables test/asn.bin and test/country.bin from etc/geo-test/*.csv. Fully offline
# once `npm ci` has the packages; does nothing when everything is up to date.
#
#   scripts/geo-data.sh [--tool PATH] [--out DIR]
#     --tool PATH  the lqos-geo-build binary to use (default: built here in release mode)
#     --out DIR    where to write (default: target/geo)
set -euo pipefail
cd "$(dirname "$0")/.."
tool="" out=target/geo
while (($#)); do
    case "$1" in
        --tool) tool="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "geo-data: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
if [ ! -d data/node_modules/@ip-location-db/asn ] || [ data/package-lock.json -nt data/node_modules ]; then
    (cd data && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -z "$tool" ]; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    cargo build --release --locked -q -p lqos-telemetry --bin lqos-geo-build
    tool=target/release/lqos-geo-build
fi
[ -x "$tool" ] || { echo "geo-data: $tool is missing" >&2; exit 1; }

stamp="$out/.built"
if [ -f "$stamp" ] && [ -z "$(find data/package-lock.json data/build.mjs data/lib etc/geo-test "$tool" -newer "$stamp" -print -quit)" ]; then
    exit 0
fi
v() { node -p "require('./data/node_modules/$1/package.json').version"; }
asn=data/node_modules/@ip-location-db/asn country=data/node_modules/@ip-location-db/asn-country
mkdir -p "$out/test"
"$tool" asn --label "@ip-location-db/asn@$(v @ip-location-db/asn)" --out "$out/asn.bin" \
    "$asn/asn-ipv4.csv" "$asn/asn-ipv6.csv"
"$tool" country --label "@ip-location-db/asn-country@$(v @ip-location-db/asn-country)" \
    --out "$out/country.bin" "$country/asn-country-ipv4.csv" "$country/asn-country-ipv6.csv"
"$tool" asn --label "lqos test dataset (etc/geo-test/asn.csv)" --out "$out/test/asn.bin" etc/geo-test/asn.csv
"$tool" country --label "lqos test dataset (etc/geo-test/country.csv)" --out "$out/test/country.bin" \
    etc/geo-test/country.csv
node data/build.mjs "$out"
touch "$stamp"
