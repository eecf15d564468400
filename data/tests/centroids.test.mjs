// Country centroids are where the countries are, every country of the bundled IP -> country
// data has one, and the manifest names each dataset at its pinned version with its licence.
// Run: cd data && npm test   (scripts/test.sh does)

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { computeCentroids } from "../lib/centroids.mjs";
import { installed, manifest } from "../lib/manifest.mjs";

const { countries, missing } = computeCentroids();

const near = (code, [lon, lat], degrees = 2.5) => {
  const c = countries[code];
  assert.ok(c, `${code} has a centroid`);
  const [x, y] = c.centroid;
  assert.ok(
    Math.abs(x - lon) <= degrees && Math.abs(y - lat) <= degrees,
    `${code} (${c.name}) at ${x},${y}, expected near ${lon},${lat}`,
  );
};

test("centroids are inside the expected countries", () => {
  near("FR", [2.5, 46.5]); // metropolitan France, not pulled towards French Guiana
  near("US", [-98.5, 39.5]); // the contiguous states, not Alaska or Hawaii
  near("JP", [138, 36.5]);
  near("BR", [-53, -10.5]);
  near("ZA", [25, -29]);
  near("GB", [-2.5, 54]);
  near("NO", [12, 64]); // mainland Norway, not Svalbard
  near("SG", [103.8, 1.35], 0.5);
  near("GF", [-53.2, 4], 1); // French Guiana: a polygon of France in Natural Earth
  near("RE", [55.5, -21.1], 1);
});

test("every country of the bundled IP -> country data has a centroid", () => {
  const dir = installed("@ip-location-db/asn-country").dir;
  const codes = new Set();
  for (const file of ["asn-country-ipv4.csv", "asn-country-ipv6.csv"]) {
    for (const line of readFileSync(`${dir}/${file}`, "utf8").split("\n")) {
      if (line) codes.add(line.slice(line.lastIndexOf(",") + 1));
    }
  }
  assert.ok(codes.size > 200, `${codes.size} codes read`);
  const without = [...codes].filter((c) => !countries[c]);
  assert.deepEqual(without, [], "codes without a centroid");
  assert.deepEqual(missing, ["BV"], "only Bouvet Island has no geometry");
});

test("the manifest names every dataset at its pinned version with licence and attribution", () => {
  const pinned = JSON.parse(readFileSync(new URL("../package.json", import.meta.url))).devDependencies;
  const m = manifest("/nonexistent");
  const ids = m.datasets.map((d) => d.id);
  assert.deepEqual(ids, ["asn", "country", "world-geometry", "country-codes"]);
  for (const d of m.datasets) {
    assert.equal(d.version, pinned[d.package], `${d.package} is the pinned version`);
    assert.match(d.license, /^(CC-BY-4.0|ISC|MIT)$/);
    assert.ok(d.attribution.length > 20 && d.used_for && d.license_url.startsWith("https://"));
    for (const [file, size] of Object.entries(d.source_bytes)) assert.ok(size > 0, `${file} installed`);
  }
  const asn = m.datasets[0];
  assert.ok(asn.attribution_html.includes("<a href='https://db-ip.com'>IP Geolocation by DB-IP</a>"));
  for (const who of ["routeviews.org", "nro.net", "db-ip.com"]) assert.ok(asn.attribution.includes(who), who);
  assert.ok(asn.upstream_notice.includes("Data Bugs"));
  assert.deepEqual(m.build_tools.map((t) => t.package), ["d3-geo", "topojson-client"]);
});
