// About: lqos's version, every bundled dataset with its version, licence and the attribution
// its licence requires (datasets.json), the loaded ASN/country tables and their files, and
// the licence texts (served by lqosd).

import { h, table, card, errorBox } from '../dom.js';
import { fmtBytes, fmtCount } from '../format.js';
import { about, attributionNodes } from '../geo.js';

/** The attribution the dataset's licence requires, with its links. */
function attributionNode(d) {
  return h('div', { testid: `attribution-${d.id}` },
    d.attribution_html ? attributionNodes(d.attribution_html) : d.attribution ?? '',
    d.requirements ? h('div', { class: 'muted' }, d.requirements) : null);
}

function tableStats(label, t, file) {
  if (!t) return h('p', { class: 'warn-box' }, `${label}: not loaded (${file}); addresses show as unknown. The log says why.`);
  return h('p', null, h('strong', null, label), `: ${t.dataset} · ${fmtCount(t.ipv4_ranges)} IPv4 + ${fmtCount(t.ipv6_ranges)} IPv6 ranges`,
    t.asns ? `, ${fmtCount(t.asns)} ASNs` : '', ` · ${fmtBytes(t.file_bytes)} (${file})`);
}

export function mount(root) {
  const slot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  root.append(h('div', { class: 'page', testid: 'page-about' }, h('div', { class: 'page-head' }, h('h1', null, 'About')), slot));
  about().then((a) => {
    const sets = a.datasets?.datasets ?? [];
    const tools = a.datasets?.build_tools ?? [];
    slot.replaceChildren(
      card('lqos', h('p', null, `lqos ${a.version} on ${a.node_name}. Everything this WebUI shows comes from this shaper; `
        + 'the maps and the ASN/country data are bundled open data, and the browser asks no other host for anything'
        + (a.tile_url ? ' (except the street tiles of the tile server set in lqos.conf).' : '.'))),
      card('Bundled datasets', table({
        testid: 'about-datasets', rows: sets,
        empty: 'datasets.json was not found: see the problems below.',
        columns: [
          { label: 'Dataset', cell: (d) => h('div', null, h('strong', null, d.title ?? d.id), h('div', { class: 'muted' }, d.used_for ?? '')) },
          { label: 'Package', cls: 'mono', cell: (d) => d.npm ?? `${d.package}@${d.version}` },
          { label: 'Licence', cell: (d) => h('div', null, d.license_url ? h('a', { href: d.license_url, target: '_blank', rel: 'noopener noreferrer' }, d.license) : d.license,
            d.data_license ? h('div', { class: 'muted' }, `data: ${d.data_license}`) : null) },
          { label: 'Attribution', cell: attributionNode },
          { label: 'Licence texts', cell: (d) => h('div', null, (d.license_files ?? []).map((f) => {
            const name = f.replace(/^licenses\//, '');
            return a.licenses.includes(name) ? h('div', null, h('a', { href: `/api/geo/licenses/${encodeURIComponent(name)}`, target: '_blank' }, name)) : h('div', { class: 'muted' }, name);
          })) },
        ],
      }),
      sets.filter((d) => d.upstream_notice).map((d) => h('p', { class: 'muted' }, h('strong', null, `${d.package}: `), d.upstream_notice))),
      tools.length ? card('Build-time tools (not installed)', table({
        testid: 'about-tools', rows: tools,
        columns: [
          { label: 'Package', cls: 'mono', cell: (t) => `${t.package}@${t.version}` },
          { label: 'Licence', cell: (t) => t.license },
          { label: 'Used for', cell: (t) => t.used_for ?? '' },
        ],
      })) : null,
      card('Loaded tables', tableStats('IP → ASN', a.tables.asn, a.asn_file), tableStats('IP → country', a.tables.country, a.country_file),
        h('p', { class: 'muted' }, `Map data and manifest: ${a.data_dir}. To update the data, see docs/geo-data.md.`)),
      a.problems.length ? card('Problems', h('ul', { testid: 'about-problems' }, a.problems.map((p) => h('li', { class: 'mono' }, p)))) : null);
  }).catch((e) => slot.replaceChildren(errorBox(e)));
  return {};
}
