// Country positions for the Flow Globe: one [lon, lat] per ISO 3166-1 alpha-2 code, computed
// from Natural Earth's admin-0 countries (world-atlas) with d3-geo.
//
// The point is the spherical centroid (d3.geoCentroid) of the country's LARGEST polygon (by
// spherical area), not of the whole multipolygon: the whole of France includes French Guiana
// and would land in the Atlantic; the largest polygon is metropolitan France (about 2.5E 46.6N).
// Geometry comes from countries-50m (241 units, small states included), then countries-10m for
// the few codes 50m lacks. Natural Earth gives some units no ISO numeric id: they are joined by
// name (NAME_TO_ALPHA2).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { feature } from "topojson-client";
import { geoArea, geoCentroid, geoDistance } from "d3-geo";

const require = createRequire(import.meta.url);
const countries = require("i18n-iso-countries");

// Territories Natural Earth draws as part of another unit (French overseas departments inside
// France, Svalbard inside Norway, ...): [unit (alpha-2 or Natural Earth name), approximate
// [lon, lat]]. The point only SELECTS the unit's polygon nearest to it (within 3 degrees); the
// centroid is still computed from that polygon.
export const PARTS = {
  BQ: ["NL", [-68.3, 12.2]],
  CC: ["Indian Ocean Ter.", [96.85, -12.15]],
  CX: ["Indian Ocean Ter.", [105.6, -10.5]],
  GF: ["FR", [-53.1, 4.0]],
  GP: ["FR", [-61.5, 16.2]],
  MQ: ["FR", [-61.0, 14.6]],
  RE: ["FR", [55.5, -21.1]],
  SJ: ["NO", [16.0, 78.5]],
  TK: ["NZ", [-171.8, -9.2]],
  YT: ["FR", [45.1, -12.8]],
};

// Units without an ISO numeric id in Natural Earth that are ISO (or widely used) codes.
export const NAME_TO_ALPHA2 = { Kosovo: "XK" };

const atlasFile = (name) => require.resolve(`world-atlas/${name}`);

/** The admin-0 features of a world-atlas file, keyed by alpha-2 (first feature wins). */
function featuresByAlpha2(file) {
  const topology = JSON.parse(readFileSync(atlasFile(file), "utf8"));
  const byCode = new Map();
  for (const f of feature(topology, topology.objects.countries).features) {
    const code =
      f.id !== undefined ? countries.numericToAlpha2(f.id) : NAME_TO_ALPHA2[f.properties.name];
    if (code && !byCode.has(code)) byCode.set(code, f);
    if (!byCode.has(f.properties.name)) byCode.set(f.properties.name, f);
  }
  return byCode;
}

const round = (point) => point.map((v) => Math.round(v * 1000) / 1000);

function polygonsOf(geometry) {
  return geometry.type === "MultiPolygon"
    ? geometry.coordinates.map((coordinates) => ({ type: "Polygon", coordinates }))
    : [geometry];
}

/** The centroid of the polygon nearest to `hint` (within 3 degrees), or null. */
export function nearestPolygonCentroid(geometry, hint) {
  let best = null;
  let bestDistance = (3 * Math.PI) / 180;
  for (const p of polygonsOf(geometry)) {
    const c = geoCentroid(p);
    const d = geoDistance(c, hint);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best && round(best);
}

/** The centroid of a feature's largest polygon, [lon, lat] rounded to 3 decimals. */
export function largestPolygonCentroid(geometry) {
  const polygons = polygonsOf(geometry);
  let best = polygons[0];
  let bestArea = -1;
  for (const p of polygons) {
    const a = geoArea(p);
    if (a > bestArea) [best, bestArea] = [p, a];
  }
  return round(geoCentroid(best));
}

/**
 * Centroids of every alpha-2 code i18n-iso-countries knows and Natural Earth draws:
 * { countries: { FR: { name, centroid: [lon, lat], geometry } }, missing: [codes] }.
 */
export function computeCentroids() {
  const sources = [
    ["countries-50m.json", featuresByAlpha2("countries-50m.json")],
    ["countries-10m.json", featuresByAlpha2("countries-10m.json")],
  ];
  const out = {};
  const missing = [];
  for (const code of Object.keys(countries.getAlpha2Codes()).sort()) {
    const found = sources.find(([, byCode]) => byCode.has(code));
    const name = countries.getName(code, "en");
    if (found) {
      const [file, byCode] = found;
      out[code] = {
        name: name ?? byCode.get(code).properties.name,
        centroid: largestPolygonCentroid(byCode.get(code).geometry),
        geometry: file,
      };
      continue;
    }
    const part = PARTS[code];
    const unit = part && sources.find(([, byCode]) => byCode.has(part[0]));
    const centroid = unit && nearestPolygonCentroid(unit[1].get(part[0]).geometry, part[1]);
    if (centroid) {
      out[code] = { name, centroid, geometry: `${unit[0]} (a polygon of ${part[0]})` };
    } else {
      missing.push(code);
    }
  }
  return { countries: out, missing };
}
