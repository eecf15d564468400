// ASN Analysis: the top remote ASNs of the last 15 minutes by traffic, flows, median RTT or
// retransmits (/api/asns), a search by number or name (/api/asn-search), and one ASN's page
// (#/asns/NUMBER: /api/asns/NUMBER) with its 15-minute trend, circuits and flows.

import { h, patch, table, card, errorBox } from '../dom.js';
import { get, poll, qs } from '../api.js';
import { fmtBytes, fmtCount, fmtBps } from '../format.js';
import { pii } from '../privacy.js';
import { attribution, rttColor } from '../geo.js';

const SORTS = [['bytes', 'Traffic'], ['flows', 'Flows'], ['rtt', 'Median RTT'], ['retransmits', 'Retransmits']];

const ms = (v) => (v == null ? '—' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
const pct = (v) => (v == null ? '—' : `${v.toFixed(v < 1 ? 2 : 1)} %`);
const asnHref = (asn) => `#/asns/${asn}`;
const asnLabel = (a) => (a.asn === 0 ? 'Unknown' : `AS${a.asn}`);

function rttCell(v) {
  return h('span', { class: 'rtt' }, h('span', { class: 'dot', style: { background: rttColor(v) } }), ms(v));
}

function circuitLink(c) {
  if (!c.circuit_id) return h('span', { class: 'muted' }, '(unmapped)');
  return h('a', { href: `#/circuit/${encodeURIComponent(c.circuit_id)}` }, pii(c.name ?? c.circuit_id));
}

function topCircuits(list) {
  if (!list?.length) return '—';
  return h('span', { class: 'circuit-list' }, list.slice(0, 3).flatMap((c, i) => [i ? ', ' : null, circuitLink(c)]));
}

function asnTable(rows, testid) {
  return table({
    testid,
    rows,
    empty: 'No traffic to any ASN in the last 15 minutes.',
    cls: 'clickable',
    rowAttrs: (a) => ({ 'data-href': asnHref(a.asn), 'data-asn': a.asn }),
    columns: [
      { label: 'ASN', cell: (a) => h('a', { href: asnHref(a.asn) }, asnLabel(a)) },
      { label: 'Name', cell: (a) => a.name ?? '' },
      { label: 'Bytes ↓', cls: 'num', cell: (a) => fmtBytes(a.bytes_down) },
      { label: 'Bytes ↑', cls: 'num', cell: (a) => fmtBytes(a.bytes_up) },
      { label: 'Active flows', cls: 'num', cell: (a) => fmtCount(a.active_flows) },
      { label: 'Flows (15 min)', cls: 'num', cell: (a) => fmtCount(a.recent_flows) },
      { label: 'Median RTT', cls: 'num', cell: (a) => rttCell(a.rtt_median_ms) },
      { label: 'Retransmits', cls: 'num', cell: (a) => (a.tcp_packets ? pct(a.retransmit_percent) : '—') },
      { label: 'Circuits', cls: 'num', cell: (a) => fmtCount(a.circuits) },
      { label: 'Most affected', cell: (a) => topCircuits(a.top_circuits) },
    ],
  });
}

function searchBox(onResults) {
  const input = h('input', { type: 'search', placeholder: 'AS number or name…', testid: 'asn-search', size: 28 });
  const form = h('form', { class: 'search', testid: 'asn-search-form', onsubmit: async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) { onResults(null); return; }
    try { onResults(await get(`/api/asn-search${qs({ q })}`)); } catch (err) { onResults({ error: err }); }
  } }, input, h('button', { type: 'submit' }, 'Search'));
  return form;
}

function searchResults(r) {
  if (!r) return null;
  if (r.error) return errorBox(r.error);
  return card(`Search: “${r.query}”`, table({
    testid: 'asn-search-results',
    rows: r.results,
    empty: r.geo_loaded ? 'No ASN matches.' : 'No ASN table is loaded (see About): only AS numbers with traffic are found.',
    columns: [
      { label: 'ASN', cell: (a) => h('a', { href: asnHref(a.asn) }, `AS${a.asn}`) },
      { label: 'Name', cell: (a) => a.name ?? '' },
      { label: 'Traffic (15 min)', cls: 'num', cell: (a) => (a.totals ? fmtBytes(a.totals.bytes_down + a.totals.bytes_up) : 'none') },
      { label: 'Active flows', cls: 'num', cell: (a) => (a.totals ? fmtCount(a.totals.active_flows) : '—') },
    ],
  }));
}

function mountList(root, query) {
  let sort = SORTS.some(([k]) => k === query.get('sort')) ? query.get('sort') : 'bytes';
  let data = null; let error = null; let found = null;
  const slot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const results = h('div');
  const tabs = h('div', { class: 'tabs', testid: 'asn-sort' });
  const page = h('div', { class: 'page', testid: 'page-asns' },
    h('div', { class: 'page-head' }, h('h1', null, 'ASN Analysis'), h('span', { class: 'grow' }),
      searchBox((r) => { found = r; results.replaceChildren(...[searchResults(r)].filter(Boolean)); })),
    h('p', { class: 'muted' }, 'Where the traffic goes: the remote networks of the last 15 minutes. RTT is the internet side (shaper to the remote host and back).'),
    results, tabs, slot, attribution('asn-analysis'));
  root.append(page);
  page.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-href]');
    if (tr && !e.target.closest('a')) location.hash = tr.dataset.href;
  });
  const renderTabs = () => tabs.replaceChildren(...SORTS.map(([k, label]) => h('button', {
    type: 'button', class: `tab ${k === sort ? 'active' : ''}`, testid: `asn-sort-${k}`,
    onclick: () => { sort = k; data = null; renderTabs(); load(); },
  }, label)));
  const render = () => {
    if (found) results.replaceChildren(...[searchResults(found)].filter(Boolean));
    if (!data) { if (error) slot.replaceChildren(errorBox(error)); return; }
    const note = data.geo_loaded ? null
      : h('p', { class: 'warn-box' }, 'No ASN table is loaded: every address shows as unknown (About says why).');
    const other = data.asns_overflowed ? h('p', { class: 'muted' },
      `${fmtCount(data.asns_overflowed)} more ASNs found the table full; their ${fmtBytes(data.other.bytes_down + data.other.bytes_up)} count as “other”.`) : null;
    const fresh = h('div', null, note,
      h('p', { class: 'muted', testid: 'asn-count' }, `${fmtCount(data.asns.length)} of ${fmtCount(data.matching)} ASNs (${fmtCount(data.tracked)} tracked)`),
      asnTable(data.asns, 'asn-table'), other, error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (slot.querySelector('table')) patch(slot, fresh); else slot.replaceChildren(...fresh.childNodes);
  };
  const load = async () => {
    try { data = await get(`/api/asns${qs({ sort, limit: 100 })}`); error = null; } catch (e) { error = e; }
    render();
  };
  renderTabs();
  const stop = poll(load, 5000);
  return { destroy: stop, rerender: render };
}

/** Bars of the 15 minutes: bytes (down over up), coloured by the minute's median RTT. */
function trendChart(trend) {
  const max = Math.max(1, ...trend.map((p) => p.bytes_down + p.bytes_up));
  return h('div', { class: 'trend', testid: 'asn-trend' }, trend.map((p) => {
    const total = p.bytes_down + p.bytes_up;
    const label = `${p.minutes_ago ? `${p.minutes_ago} min ago` : 'this minute'}: ${fmtBytes(p.bytes_down)} ↓ ${fmtBytes(p.bytes_up)} ↑, `
      + `${fmtCount(p.flows_started)} new flows, RTT ${ms(p.rtt_median_ms)}, retransmits ${pct(p.retransmit_percent)}`;
    return h('div', { class: 'trend-col', title: label },
      h('div', { class: 'trend-bar', style: { height: `${(total / max) * 100}%`, background: rttColor(p.rtt_median_ms) } }),
      h('div', { class: 'trend-tick' }, p.minutes_ago % 5 === 0 ? (p.minutes_ago ? `-${p.minutes_ago}` : 'now') : ''));
  }));
}

function mountDetail(root, asn) {
  let d = null; let error = null;
  const slot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const page = h('div', { class: 'page', testid: 'page-asn' },
    h('nav', { class: 'breadcrumb' }, h('a', { href: '#/asns' }, 'ASN Analysis'), h('span', { class: 'sep' }, '›'), `AS${asn}`),
    slot, attribution('asn-analysis'));
  root.append(page);
  const render = () => {
    if (!d) { if (error) slot.replaceChildren(errorBox(error)); return; }
    const stat = (label, value) => h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value));
    const fresh = h('div', null,
      h('div', { class: 'page-head' }, h('h1', { testid: 'asn-title' }, `AS${d.asn}`, d.name ? ` · ${d.name}` : '')),
      d.tracked ? null : h('p', { class: 'muted' }, 'No traffic to this ASN in the last 15 minutes.'),
      card('Last 15 minutes', h('div', { class: 'stats' },
        stat('Bytes ↓', fmtBytes(d.bytes_down)), stat('Bytes ↑', fmtBytes(d.bytes_up)),
        stat('Active flows', fmtCount(d.active_flows)), stat('Flows (15 min)', fmtCount(d.recent_flows)),
        stat('Median RTT', rttCell(d.rtt_median_ms)), stat('Retransmits', d.tcp_packets ? pct(d.retransmit_percent) : '—'),
        stat('Countries', d.countries.map((c) => `${c.name ?? c.country} (${c.flows})`).join(', ') || '—')),
      trendChart(d.trend)),
      card('Circuits talking to it now', table({
        testid: 'asn-circuits', rows: d.circuits, empty: 'No circuit has a live flow to it.',
        columns: [
          { label: 'Circuit', cell: circuitLink },
          { label: 'Flows', cls: 'num', cell: (c) => fmtCount(c.flows) },
          { label: 'Bytes ↓', cls: 'num', cell: (c) => fmtBytes(c.bytes_down) },
          { label: 'Bytes ↑', cls: 'num', cell: (c) => fmtBytes(c.bytes_up) },
          { label: 'Retransmits', cls: 'num', cell: (c) => fmtCount(c.retransmits) },
          { label: 'RTT (internet)', cls: 'num', cell: (c) => rttCell(c.rtt_internet_ms) },
        ],
      })),
      card('Busiest flows', table({
        testid: 'asn-flows', rows: d.flows, empty: 'No live flow.',
        columns: [
          { label: 'Remote', cls: 'mono', cell: (f) => pii(f.remote) },
          { label: 'Subscriber', cls: 'mono', cell: (f) => pii(f.local) },
          { label: 'Proto', cell: (f) => f.proto },
          { label: 'Circuit', cell: (f) => circuitLink({ circuit_id: f.circuit_id, name: f.circuit_name }) },
          { label: 'Country', cell: (f) => f.country ?? '—' },
          { label: 'Rate ↓', cls: 'num', cell: (f) => fmtBps(f.rate_down_bps) },
          { label: 'Rate ↑', cls: 'num', cell: (f) => fmtBps(f.rate_up_bps) },
          { label: 'Bytes', cls: 'num', cell: (f) => fmtBytes(f.bytes_down + f.bytes_up) },
          { label: 'RTT', cls: 'num', cell: (f) => rttCell(f.rtt_internet_ms) },
          { label: 'Retx', cls: 'num', cell: (f) => fmtCount(f.retransmits) },
        ],
      })),
      error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (slot.querySelector('table')) patch(slot, fresh); else slot.replaceChildren(...fresh.childNodes);
  };
  const stop = poll(async () => {
    try { d = await get(`/api/asns/${encodeURIComponent(asn)}`); error = null; } catch (e) { error = e; }
    render();
  }, 5000);
  return { destroy: stop, rerender: render };
}

export function mount(root, { param, query }) {
  return param ? mountDetail(root, param) : mountList(root, query);
}
