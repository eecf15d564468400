// The maps' outlines (world.json): real countries, keyed by alpha-2, with rings inside the
// globe's coordinate range, and each outline around its own centroid.
// Run: cd data && npm test

import { test } from "node:test";
import assert from "node:assert/strict";
import { buildWorld } from "../lib/world.mjs";
import { computeCentroids } from "../lib/centroids.mjs";

const world = buildWorld();
const byCode = new Map(world.countries.filter((c) => c.code).map((c) => [c.code, c]));

test("outlines of the demo's and well-known countries, coordinates in range", () => {
  assert.equal(world.format, 1);
  assert.ok(world.countries.length > 150, `${world.countries.length} countries`);
  for (const code of ["US", "FR", "JP", "BR", "ZA", "DE", "GB", "CA"]) {
    const c = byCode.get(code);
    assert.ok(c && c.rings.length > 0, `${code} has an outline`);
  }
  for (const c of world.countries) {
    for (const ring of c.rings) {
      assert.equal(ring.length % 2, 0);
      for (let i = 0; i < ring.length; i += 2) {
        assert.ok(Math.abs(ring[i]) <= 180 && Math.abs(ring[i + 1]) <= 90, `${c.name} ${ring[i]},${ring[i + 1]}`);
      }
    }
  }
});

test("each outline's bounding box holds the country's centroid", () => {
  const { countries } = computeCentroids();
  for (const code of ["US", "FR", "JP", "BR", "ZA", "AU", "NO"]) {
    const [lon, lat] = countries[code].centroid;
    const hit = byCode.get(code).rings.some((ring) => {
      const xs = ring.filter((_, i) => i % 2 === 0);
      const ys = ring.filter((_, i) => i % 2 === 1);
      return lon >= Math.min(...xs) && lon <= Math.max(...xs) && lat >= Math.min(...ys) && lat <= Math.max(...ys);
    });
    assert.ok(hit, `${code} centroid ${lon},${lat} inside one of its rings' boxes`);
  }
});
