// CPU Weights: per CPU queue, what the plan puts there (planned Mbps, circuits, the binning
// weight) against its live load, and what `lqos-scheduler refresh --rebalance` would move
// (the scheduler's preview, /api/cpu/weights). Refreshed every 5 s.

import { h, patch, table, bar, card, errorBox } from '../dom.js';
import { get, poll } from '../api.js';
import { fmtBps, fmtMbps, fmtCount, fmtPct, fmtWhen } from '../format.js';
import { queueWhere } from './cpu-tree.js';

const load = (f) => (f == null ? h('span', { class: 'muted' }, '—') : bar(f, fmtPct(f)));
const maybe = (v) => (v == null ? '—' : fmtMbps(v));

function queuesTable(queues) {
  return table({
    testid: 'cpu-weights-table',
    rows: queues,
    empty: 'No plan is live yet: lqos-scheduler has not applied one.',
    rowAttrs: (q) => ({ 'data-testid': 'cpu-weight-row', 'data-queue': String(q.queue), title: queueWhere(q) }),
    columns: [
      { label: 'Queue', cell: (q) => `Queue ${q.queue + 1}` },
      { label: 'CPU ↓ / ↑', cls: 'num', cell: (q) => `${q.download?.cpu ?? '—'} / ${q.upload?.cpu ?? '—'}` },
      { label: 'Top-level nodes', cls: 'num', cell: (q) => fmtCount(q.top_nodes) },
      { label: 'Circuits', cls: 'num', cell: (q) => fmtCount(q.circuits) },
      { label: 'Planned ↓ Mbps', cls: 'num', cell: (q) => h('span', { title: `guaranteed (rate): ${fmtMbps(q.planned_down_rate_mbps)}` }, fmtMbps(q.planned_down_mbps)) },
      { label: 'Planned ↑ Mbps', cls: 'num', cell: (q) => h('span', { title: `guaranteed (rate): ${fmtMbps(q.planned_up_rate_mbps)}` }, fmtMbps(q.planned_up_mbps)) },
      { label: 'Binning weight', cls: 'num', cell: (q) => maybe(q.weight_mbps) },
      { label: 'After rebalance', cls: 'num', cell: (q) => maybe(q.rebalanced_weight_mbps) },
      { label: 'Down now', cls: 'num', cell: (q) => fmtBps(q.down_bps) },
      { label: 'Up now', cls: 'num', cell: (q) => fmtBps(q.up_bps) },
      { label: 'Load ↓', cls: 'util', cell: (q) => load(q.load_down) },
      { label: 'Load ↑', cls: 'util', cell: (q) => load(q.load_up) },
    ],
  });
}

function previewCard(p) {
  if (!p.available) {
    return card('What a rebalance would move',
      h('div', { testid: 'cpu-preview' },
        h('p', { class: 'notice', testid: 'cpu-preview-none' }, 'No preview yet.'),
        h('p', { class: 'muted', testid: 'cpu-preview-reason' }, p.reason ?? '')));
  }
  const head = p.moves_total === 0
    ? `lqos-scheduler refresh --rebalance would move nothing: every one of the ${fmtCount(p.entries)} top-level entries stays on its queue.`
    : `lqos-scheduler refresh --rebalance would move ${fmtCount(p.moves_total)} of ${fmtCount(p.entries)} top-level entries to another queue.`;
  return card('What a rebalance would move',
    h('div', { testid: 'cpu-preview', dataset: { status: p.status, moves: String(p.moves_total) } },
      h('p', { testid: 'cpu-preview-summary' }, head),
      p.reason ? h('p', { class: 'notice', testid: 'cpu-preview-reason' }, p.reason) : null,
      h('p', { class: 'muted' }, `Computed by lqos-scheduler at its refresh ${fmtWhen(p.written_unix)}`,
        p.generation ? ` for plan generation ${p.generation}` : '',
        `; binning ${p.binpacking ? 'by weight (use_binpacking)' : 'round-robin by count (use_binpacking off)'}. `,
        'Without --rebalance, refreshes keep every node where it is.'),
      p.moves_total ? table({
        testid: 'cpu-preview-moves',
        rows: p.moves,
        columns: [
          { label: 'What', cell: (m) => (m.kind === 'node' ? 'node' : 'circuit without a parent node') },
          { label: 'Name', cell: (m) => (m.kind === 'node'
            ? h('a', { href: `#/tree/${encodeURIComponent(m.name)}` }, m.name)
            : h('a', { href: `#/circuit/${encodeURIComponent(m.name)}`, class: 'mono' }, m.name)) },
          { label: 'Weight (Mbps)', cls: 'num', cell: (m) => fmtMbps(m.weight_mbps) },
          { label: 'From', cell: (m) => `Queue ${m.from + 1}` },
          { label: 'To', cell: (m) => `Queue ${m.to + 1}` },
        ],
      }) : null,
      p.moves_total > p.moves.length ? h('p', { class: 'muted' }, `The heaviest ${fmtCount(p.moves.length)} are listed.`) : null));
}

export function mount(root) {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const page = h('div', { class: 'page', testid: 'page-cpu-weights' },
    h('div', { class: 'page-head' }, h('h1', null, 'CPU Weights'), h('span', { class: 'grow' }),
      h('a', { href: '#/cpu-tree' }, 'CPU Tree ›')),
    h('p', { class: 'muted' },
      'Planned: the sum of the ceilings of the classes at the top of each queue (each capped at the link), each way; ',
      'the guaranteed rates are in the tooltip. Binning weight: what lqos-scheduler spreads over the queues, the sum of ',
      'the download maximums of the circuits under each top-level node (a node without circuits counts its own download ',
      'bandwidth; a circuit without a parent node counts alone). Load: live rate against planned.'),
    body);
  root.append(page);
  let data = null;
  let error = null;
  let built = false;

  const render = () => {
    if (!data) { if (error) body.replaceChildren(errorBox(error)); return; }
    const fresh = h('div', null,
      card(null, queuesTable(data.queues ?? [])),
      previewCard(data.preview ?? { available: false, reason: 'lqosd sent no preview' }),
      error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (!built) { body.replaceChildren(...fresh.childNodes); built = true; } else patch(body, fresh);
  };

  const stop = poll(async () => {
    try {
      data = await get('/api/cpu/weights');
      error = null;
    } catch (e) { error = e; }
    render();
  }, 5000);
  return { destroy: stop, rerender: render };
}
