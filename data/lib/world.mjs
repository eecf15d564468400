// Country outlines for the WebUI's Flow Globe and Site Map: Natural Earth admin-0 at 1:110m
// (world-atlas countries-110m), decoded from TopoJSON with topojson-client at build time into
// plain rings of [lon, lat] pairs (2 decimals, ~1 km), keyed by ISO 3166-1 alpha-2 where
// Natural Earth has a numeric id (other units keep their Natural Earth name). The browser then
// needs no TopoJSON decoder and asks nothing of any other host.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { feature } from "topojson-client";

const require = createRequire(import.meta.url);
const countries = require("i18n-iso-countries");

const r2 = (v) => Math.round(v * 100) / 100;

/** { format, source, countries: [{ code, name, rings: [[lon, lat, lon, lat, ...], ...] }] } */
export function buildWorld() {
  const file = require.resolve("world-atlas/countries-110m.json");
  const version = JSON.parse(readFileSync(require.resolve("world-atlas/package.json"), "utf8")).version;
  const topology = JSON.parse(readFileSync(file, "utf8"));
  const out = [];
  for (const f of feature(topology, topology.objects.countries).features) {
    if (!f.geometry) continue;
    const polys = f.geometry.type === "MultiPolygon" ? f.geometry.coordinates : [f.geometry.coordinates];
    const rings = [];
    for (const poly of polys) {
      for (const ring of poly) {
        const flat = [];
        for (const [lon, lat] of ring) flat.push(r2(lon), r2(lat));
        if (flat.length >= 6) rings.push(flat);
      }
    }
    const code = f.id !== undefined ? countries.numericToAlpha2(f.id) ?? null : null;
    out.push({ code, name: f.properties.name, rings });
  }
  return {
    format: 1,
    source: `world-atlas@${version} countries-110m.json (Natural Earth admin-0, 1:110m)`,
    countries: out,
  };
}
