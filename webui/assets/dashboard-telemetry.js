// The dashboard's flow telemetry (its `telemetry` member, rendered by lqosd once a second):
// the RTT histogram of the last 10 s per side, the worst circuits by RTT p90 per side and by
// (significant) retransmits, flows tracked with the kernel table's fill, and queue drops.

import { h, table, card, bar } from './dom.js';
import { fmtCount, fmtBytes } from './format.js';
import { pii } from './privacy.js';
import { HistogramChart } from './chart.js';
import { circuitHref } from './circuit-table.js';
import { fmtRtt, retxDir } from './telemetry.js';
import { INTERNET_COLOR, SUBSCRIBER_COLOR } from './circuit-telemetry.js';

const circuitCell = (c) => h('a', { href: circuitHref(c.circuit_id) }, pii(c.name) || c.circuit_id);

const worstRttColumns = [
  { label: 'Circuit', cell: circuitCell },
  { label: 'ID', cls: 'mono', cell: (c) => c.circuit_id },
  { label: 'p90', cls: 'num', cell: (c) => fmtRtt(c.p90_ms) },
  { label: 'Samples', cls: 'num muted', cell: (c) => fmtCount(c.samples) },
];

const worstRetxColumns = (gate) => [
  { label: 'Circuit', cell: circuitCell },
  { label: 'ID', cls: 'mono', cell: (c) => c.circuit_id },
  { label: '↓', cls: 'num', cell: (c) => retxDir(c.retransmits, 'down', gate, null, { compact: true }) },
  { label: '↑', cls: 'num', cell: (c) => retxDir(c.retransmits, 'up', gate, null, { compact: true }) },
];

/** Upper bucket edges as labels: "1", "2", ..., "1000", and "> 1000" for the last bucket. */
function edgeLabels(edges) {
  const labels = edges.map((e) => (e >= 1 ? String(Math.round(e * 10) / 10) : String(e)));
  labels.push(`>${labels[labels.length - 1] ?? ''}`);
  return labels;
}

const dl = (pairs, testid) => h('dl', { class: 'kv', testid }, pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));

function flowCounts(t) {
  const f = t.flows ?? {};
  const q = t.queues ?? {};
  const fill = f.kernel_capacity ? f.kernel_entries / f.kernel_capacity : null;
  const perSec = (v) => (v == null ? '' : ` (${v < 10 ? v.toFixed(1) : Math.round(v)}/s now)`);
  return h('div', null,
    f.passes ? null : h('p', { class: 'muted' }, 'No flow telemetry read yet ([flows] enabled = false, or lqosd is starting).'),
    t.last_error ? h('p', { class: 'error-text' }, `Flow reader: ${t.last_error}`) : null,
    dl([
      ['Flows tracked', h('span', { testid: 'flows-tracked' }, fmtCount(f.tracked))],
      ['Kernel flow table', fill == null ? '—' : h('span', { title: `${fmtCount(f.kernel_entries)} of ${fmtCount(f.kernel_capacity)} entries` },
        bar(fill, `${fmtCount(f.kernel_entries)} / ${fmtCount(f.kernel_capacity)}`))],
      ['Insert failures (table full)', h('span', { class: f.insert_failed ? 'warn-text' : '' }, fmtCount(f.insert_failed))],
      ['Not tracked by lqosd (its cap)', fmtCount(f.dropped)],
      ['Finished flows kept', fmtCount(f.finished)],
      ['Queue drops ↓', h('span', { testid: 'queue-drops-down' }, `${fmtCount(q.drops_down)}${perSec(q.drops_per_s_down)}`)],
      ['Queue drops ↑', `${fmtCount(q.drops_up)}${perSec(q.drops_per_s_up)}`],
      ['Queue backlog ↓ / ↑', `${fmtBytes(q.backlog_bytes_down)} / ${fmtBytes(q.backlog_bytes_up)}`],
    ], 'flow-counts'));
}

/** The section: `node(t)` builds it (patched in place by the page), `update(t)` the histogram. */
export function dashboardTelemetry() {
  const hist = new HistogramChart({ testid: 'rtt-histogram', unit: 'ms (upper bucket edge)', ariaLabel: 'RTT histogram per side, last 10 s' });
  return {
    node(t) {
      if (!t) return null;
      const gate = t.gate;
      return h('div', { testid: 'dashboard-telemetry' },
        h('div', { class: 'grid-2' },
          card('Round-trip times, all circuits, last 10 s', h('div', { class: 'rtt-hist-slot', 'data-keep': true })),
          card('Flows and queues', flowCounts(t))),
        h('div', { class: 'grid-3' },
          card('Worst internet RTT (p90, 10 s)', table({ columns: worstRttColumns, rows: t.worst_internet_rtt ?? [], testid: 'worst-rtt-internet', empty: 'No circuit with 5 samples.' })),
          card('Worst subscriber RTT (p90, 10 s)', table({ columns: worstRttColumns, rows: t.worst_subscriber_rtt ?? [], testid: 'worst-rtt-subscriber', empty: 'No circuit with 5 samples.' })),
          card('Worst retransmits (significant, 10 s)', table({ columns: worstRetxColumns(gate), rows: t.worst_retransmits ?? [], testid: 'worst-retransmits',
            empty: `No circuit above the gate (${gate?.min_packets ?? 100} packets, ${gate?.min_retransmits ?? 2} retransmits).` }))));
    },
    /** After the section is in the page: puts the chart in its slot (once) and redraws it. */
    update(root, t) {
      if (!t) return;
      const slot = root.querySelector('.rtt-hist-slot');
      if (slot && !slot.contains(hist.el)) slot.append(hist.el);
      const hg = t.rtt_histogram ?? {};
      hist.set(edgeLabels(hg.edges_ms ?? []), [
        { label: 'Internet', color: INTERNET_COLOR, counts: hg.internet ?? [] },
        { label: 'Subscriber', color: SUBSCRIBER_COLOR, counts: hg.subscriber ?? [] },
      ]);
    },
    destroy() { hist.destroy(); },
  };
}

