// datasets.json: every dataset lqos bundles (and the build-time libraries that derive data
// from them), with the exact npm version installed, the licence (SPDX), the attribution the
// licence requires, what lqos uses it for and the sizes. The WebUI's About page shows it.

import { readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const nodeModules = fileURLToPath(new URL("../node_modules/", import.meta.url));

/** The installed package's directory and package.json (data/node_modules, from the lock). */
export function installed(pkg) {
  const dir = join(nodeModules, pkg);
  return { dir, json: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) };
}

const bytes = (file) => (existsSync(file) ? statSync(file).size : null);

const DBIP_LINK = "<a href='https://db-ip.com'>IP Geolocation by DB-IP</a>";

/** The datasets, before sizes and versions are filled in from the installed packages. */
export const DATASETS = [
  {
    id: "asn",
    title: "IP to ASN (number and organisation name)",
    package: "@ip-location-db/asn",
    license: "CC-BY-4.0",
    license_url: "https://creativecommons.org/licenses/by/4.0/",
    attribution:
      "IP to ASN data from ip-location-db (https://github.com/sapics/ip-location-db), built " +
      "from RouteViews (https://www.routeviews.org), the five RIRs' statistics published by " +
      "the NRO (https://www.nro.net) and the DB-IP IP to ASN Lite database (https://db-ip.com), " +
      "each licensed CC BY 4.0. Modified: converted by lqos into binary range tables " +
      "(overlapping ranges resolved, adjacent ranges of one ASN merged).",
    attribution_html:
      "IP to ASN data: <a href='https://www.routeviews.org'>RouteViews</a>, " +
      "<a href='https://www.nro.net'>NRO</a>, " + DBIP_LINK +
      ", via <a href='https://github.com/sapics/ip-location-db'>ip-location-db</a> (CC BY 4.0, converted by lqos)",
    requirements:
      "CC BY 4.0: credit RouteViews, NRO and DB-IP and indicate changes. DB-IP's licence also " +
      "requires, in a web application, a link back to DB-IP.com on every page that displays " +
      "or uses results from the database: show attribution_html on those pages (ASN Analysis, " +
      "Flow Globe, flow lists with ASNs) and on the About page.",
    pages_requiring_link: ["asn-analysis", "flow-globe", "flows", "about"],
    upstream_notice:
      "The ip-location-db README at this version opens with a 'CRITICAL NOTICE: Data Bugs & " +
      "Migration': the npm data 'contains bugs resulting in incorrect data' and npm updates are " +
      "deprecated in favour of GitHub releases. lqos pins this version and spot-checks " +
      "well-known ranges in its tests; operators can convert a newer release (docs/geo-data.md).",
    used_for: "The remote ASN and its name for every flow (ASN Analysis, Flow Globe lists, flows)",
    sources: ["asn-ipv4.csv", "asn-ipv6.csv"],
    license_files: ["ROUTEVIEWS-LICENSE", "DBIP-LICENSE", "NRO_LICENSE", "MODIFICATIONS"],
    outputs: ["asn.bin"],
  },
  {
    id: "country",
    title: "IP to country",
    package: "@ip-location-db/asn-country",
    license: "CC-BY-4.0",
    package_license: "CC0-1.0",
    license_url: "https://creativecommons.org/licenses/by/4.0/",
    attribution:
      "IP to country data from ip-location-db (https://github.com/sapics/ip-location-db), " +
      "built from the five RIRs' statistics published by the NRO (https://www.nro.net), " +
      "licensed CC BY 4.0. Modified: converted by lqos into binary range tables.",
    attribution_html:
      "IP to country data: <a href='https://www.nro.net'>NRO</a> via " +
      "<a href='https://github.com/sapics/ip-location-db'>ip-location-db</a> (CC BY 4.0, converted by lqos)",
    requirements:
      "The package is marked CC0-1.0, but its README states the source data is CC BY 4.0 by " +
      "the NRO ('provided you give attribution to nro.net'): lqos credits the NRO.",
    pages_requiring_link: ["about"],
    upstream_notice:
      "Same 'CRITICAL NOTICE: Data Bugs & Migration' as @ip-location-db/asn (see there).",
    used_for: "The remote country of every flow (Flow Globe positions, per-country lists)",
    sources: ["asn-country-ipv4.csv", "asn-country-ipv6.csv"],
    license_files: ["NRO_LICENSE"],
    outputs: ["country.bin"],
  },
  {
    id: "world-geometry",
    title: "World country geometry (Natural Earth admin-0, 1:110m, 1:50m and 1:10m)",
    package: "world-atlas",
    license: "ISC",
    data_license: "Natural Earth: public domain",
    license_url: "https://www.naturalearthdata.com/about/terms-of-use/",
    attribution:
      "Made with Natural Earth (https://www.naturalearthdata.com), public domain; TopoJSON " +
      "packaging by world-atlas (Copyright 2013-2019 Michael Bostock, ISC licence).",
    attribution_html:
      "Made with <a href='https://www.naturalearthdata.com'>Natural Earth</a>; " +
      "<a href='https://github.com/topojson/world-atlas'>world-atlas</a> (ISC)",
    requirements:
      "Natural Earth needs no attribution (it is suggested); the ISC licence of the " +
      "world-atlas packaging asks that its copyright notice accompany copies of its files.",
    pages_requiring_link: [],
    used_for:
      "Country centroids for the Flow Globe (country-centroids.json); country outlines of the " +
      "Flow Globe and Site Map (world.json)",
    sources: ["countries-110m.json", "countries-50m.json", "countries-10m.json"],
    license_files: ["LICENSE"],
    outputs: ["country-centroids.json", "world.json"],
  },
  {
    id: "country-codes",
    title: "ISO 3166-1 country codes and names",
    package: "i18n-iso-countries",
    license: "MIT",
    license_url: "https://opensource.org/license/mit",
    attribution: "i18n-iso-countries, Copyright (c) 2016 widdix GmbH, MIT licence.",
    attribution_html:
      "<a href='https://github.com/michaelwittig/node-i18n-iso-countries'>i18n-iso-countries</a> (MIT, Copyright (c) 2016 widdix GmbH)",
    requirements: "MIT: the copyright and permission notice accompany copies (licenses/).",
    pages_requiring_link: [],
    used_for: "Joining Natural Earth's numeric codes to alpha-2; country names in country-centroids.json",
    sources: ["codes.json", "langs/en.json"],
    license_files: ["LICENSE"],
    outputs: ["country-centroids.json"],
  },
];

/** Libraries run at build time only (nothing of them is installed). */
export const BUILD_TOOLS = [
  { package: "d3-geo", license: "ISC", used_for: "geoCentroid and geoArea for the centroids" },
  { package: "topojson-client", license: "ISC", used_for: "TopoJSON to GeoJSON" },
];

/** The manifest for the files in `outDir`. */
export function manifest(outDir) {
  const datasets = DATASETS.map((d) => {
    const { dir, json } = installed(d.package);
    return {
      ...d,
      version: json.version,
      npm: `${d.package}@${json.version}`,
      source_bytes: Object.fromEntries(d.sources.map((s) => [s, bytes(join(dir, s))])),
      license_files: d.license_files.map((f) => `licenses/${d.id}-${f}`),
      outputs: Object.fromEntries(d.outputs.map((o) => [o, bytes(join(outDir, o))])),
    };
  });
  const build_tools = BUILD_TOOLS.map((t) => ({ ...t, version: installed(t.package).json.version }));
  return { format: 1, datasets, build_tools };
}
