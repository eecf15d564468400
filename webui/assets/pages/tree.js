// The network tree: one node at a time (/api/tree?node=NAME), its children and circuits.
// Refreshed every 5 s in place for the live rates.

import { h, patch, table, bar, card, errorBox } from '../dom.js';
import { get, poll, qs } from '../api.js';
import { fmtBps, fmtMbps, fmtCount } from '../format.js';
import { circuitTable, nodeHref } from '../circuit-table.js';
import { rttCell, rttSide, retxDir } from '../telemetry.js';

// Telemetry of the circuits below a node (merged histograms, not averaged percentiles).
const retxCell = (t, dir) => (t ? retxDir(t.retransmits, dir, null, null, { compact: true }) : h('span', { class: 'muted' }, '—'));

function breadcrumb(path, node) {
  const items = [h('a', { href: '#/tree' }, 'Network')];
  (path ?? []).forEach((name, i) => {
    const last = i === path.length - 1 && node;
    items.push(h('span', { class: 'sep' }, '›'),
      last ? h('span', { class: 'current' }, name) : h('a', { href: nodeHref(name) }, name));
  });
  return h('nav', { class: 'breadcrumb', testid: 'breadcrumb' }, items);
}

const util = (f) => bar(f, `${Math.round((f ?? 0) * 100)}%`);

function childrenTable(nodes) {
  return table({
    testid: 'tree-children',
    rows: nodes,
    empty: 'No child nodes.',
    cls: 'clickable',
    rowAttrs: (n) => ({ 'data-href': nodeHref(n.name) }),
    columns: [
      { label: 'Node', cell: (n) => h('a', { href: nodeHref(n.name) }, n.name) },
      { label: 'Type', cell: (n) => n.type ?? '' },
      { label: 'Down (Mbps)', cls: 'num', cell: (n) => fmtMbps(n.download_mbps) },
      { label: 'Up (Mbps)', cls: 'num', cell: (n) => fmtMbps(n.upload_mbps) },
      { label: 'Down now', cls: 'num', cell: (n) => fmtBps(n.down_bps) },
      { label: 'Up now', cls: 'num', cell: (n) => fmtBps(n.up_bps) },
      { label: 'Down use', cls: 'util', cell: (n) => util(n.utilization_down) },
      { label: 'Up use', cls: 'util', cell: (n) => util(n.utilization_up) },
      { label: 'Children', cls: 'num', cell: (n) => fmtCount(n.children) },
      { label: 'Circuits', cls: 'num', cell: (n) => fmtCount(n.circuits) },
      { label: 'Internet RTT p50 / p90', cls: 'num rtt-internet', cell: (n) => rttCell(n.telemetry?.rtt?.internet) },
      { label: 'Subscriber RTT p50 / p90', cls: 'num rtt-subscriber', cell: (n) => rttCell(n.telemetry?.rtt?.subscriber) },
      { label: 'Retx ↓', cls: 'num', cell: (n) => retxCell(n.telemetry, 'down') },
      { label: 'Retx ↑', cls: 'num', cell: (n) => retxCell(n.telemetry, 'up') },
    ],
  });
}

function nodeSummary(n) {
  return h('div', { class: 'node-summary' },
    h('div', null, h('span', { class: 'muted' }, 'Type '), n.type ?? '—'),
    h('div', null, h('span', { class: 'muted' }, 'Configured '), `${fmtMbps(n.download_mbps)} / ${fmtMbps(n.upload_mbps)} Mbps`),
    h('div', null, h('span', { class: 'muted' }, 'Now ↓ '), fmtBps(n.down_bps), ' ', util(n.utilization_down)),
    h('div', null, h('span', { class: 'muted' }, 'Now ↑ '), fmtBps(n.up_bps), ' ', util(n.utilization_up)),
    h('div', null, h('span', { class: 'muted' }, 'Circuits below '), fmtCount(n.circuits)),
    nodeTelemetry(n.telemetry));
}

function nodeTelemetry(t) {
  if (!t) return h('div', { class: 'muted', testid: 'tree-node-telemetry' }, 'No RTT or retransmits from the circuits below in the last 5 minutes');
  return h('div', { class: 'node-telemetry', testid: 'tree-node-telemetry' },
    h('div', null, h('span', { class: 'muted' }, 'Internet RTT '), rttSide(t.rtt?.internet, 'tree-node-rtt-internet')),
    h('div', null, h('span', { class: 'muted' }, 'Subscriber RTT '), rttSide(t.rtt?.subscriber, 'tree-node-rtt-subscriber')),
    h('div', null, h('span', { class: 'muted' }, 'Retransmits ↓ '), retxDir(t.retransmits, 'down', null, 'tree-node-retx-down'),
      h('span', { class: 'muted' }, ' ↑ '), retxDir(t.retransmits, 'up', null, 'tree-node-retx-up')),
    h('div', null, h('span', { class: 'muted' }, 'Active flows '), fmtCount(t.flows),
      h('span', { class: 'muted' }, ` (${fmtCount(t.circuits_measured)} circuits measured)`)));
}

export function mount(root, { param }) {
  const name = param || null;
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const page = h('div', { class: 'page', testid: 'page-tree' }, body);
  root.append(page);
  let data = null;
  let error = null;
  let built = false;

  // Rows are patched in place, so one delegated click handler follows their data-href.
  page.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-href]');
    if (tr && !e.target.closest('a')) location.hash = tr.dataset.href;
  });

  const render = () => {
    if (!data) {
      if (error) body.replaceChildren(h('h1', null, name ?? 'Network'), errorBox(error));
      return;
    }
    const n = data.node;
    const shown = data.circuits?.length ?? 0;
    const total = data.circuits_total ?? shown;
    const fresh = h('div', null,
      breadcrumb(data.path, n),
      h('div', { class: 'page-head' }, h('h1', null, n ? n.name : 'Network')),
      n ? card(null, nodeSummary(n)) : null,
      card(n ? 'Child nodes' : 'Top-level nodes', childrenTable(data.children ?? [])),
      card(n ? 'Circuits attached here' : 'Circuits without a parent node',
        h('p', { class: 'muted', testid: 'tree-circuits-count' },
          `${fmtCount(shown)} of ${fmtCount(total)} circuits`,
          shown < total && n ? [' · ', h('a', { href: `#/circuits?q=${encodeURIComponent(n.name)}` }, 'search them all')] : null),
        circuitTable(data.circuits ?? [], 'tree-circuits')),
      error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (!built) { body.replaceChildren(...fresh.childNodes); built = true; } else patch(body, fresh);
  };

  const load = async () => {
    try {
      data = await get(`/api/tree${qs({ node: name })}`);
      error = null;
    } catch (e) {
      error = e;
    }
    render();
  };
  const stop = poll(load, 5000);
  return { destroy: stop, rerender: render };
}
