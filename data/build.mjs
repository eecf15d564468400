// Writes country-centroids.json and datasets.json into the output directory and copies the
// datasets' licence files into OUT/licenses/. Run by scripts/geo-data.sh after lqos-geo-build
// has written asn.bin and country.bin there (their sizes go into the manifest).
//
//   node data/build.mjs OUT_DIR

import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeCentroids } from "./lib/centroids.mjs";
import { DATASETS, installed, manifest } from "./lib/manifest.mjs";
import { buildWorld } from "./lib/world.mjs";

const out = process.argv[2];
if (!out) {
  console.error("usage: node data/build.mjs OUT_DIR");
  process.exit(2);
}
mkdirSync(join(out, "licenses"), { recursive: true });

const { countries, missing } = computeCentroids();
const atlas = installed("world-atlas").json.version;
const centroids = {
  format: 1,
  source: `world-atlas@${atlas} (Natural Earth admin-0), i18n-iso-countries@${installed("i18n-iso-countries").json.version}`,
  method: "d3-geo geoCentroid of each country's largest polygon (by spherical area)",
  countries,
  missing,
};
writeFileSync(join(out, "country-centroids.json"), JSON.stringify(centroids) + "\n");
// The maps' outlines (the WebUI's Flow Globe and Site Map).
writeFileSync(join(out, "world.json"), JSON.stringify(buildWorld()) + "\n");

for (const d of DATASETS) {
  const { dir } = installed(d.package);
  for (const f of d.license_files) copyFileSync(join(dir, f), join(out, "licenses", `${d.id}-${f}`));
}
writeFileSync(join(out, "datasets.json"), JSON.stringify(manifest(out), null, 2) + "\n");
console.error(
  `geo-data: ${Object.keys(countries).length} centroids (no geometry: ${missing.join(" ") || "none"}), datasets.json in ${out}`,
);
