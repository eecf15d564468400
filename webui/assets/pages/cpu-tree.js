// CPU Tree: each CPU queue of the live plan with its top-level nodes (/api/cpu/tree), and
// their subtrees on demand (/api/cpu/tree?node=NAME): child nodes, then the circuits attached
// (listed only when asked: a node may hold thousands). Live rates refresh every 5 s in place.

import { h, patch, bar, card, errorBox } from '../dom.js';
import { get, poll, qs } from '../api.js';
import { fmtBps, fmtMbps, fmtCount } from '../format.js';
import { pii } from '../privacy.js';
import { circuitHref, nodeHref } from '../circuit-table.js';

const queueName = (q) => `Queue ${q.queue + 1}`;

/** "CPU 0 · download subs 1: · upload inet 1:" */
export function queueWhere(q) {
  const side = (label, x) => (x ? `${label} ${x.interface} ${x.major.toString(16)}: on CPU ${x.cpu}` : null);
  return [side('download', q.download), side('upload', q.upload)].filter(Boolean).join(' · ');
}

const util = (bps, mbps) => {
  const f = mbps > 0 ? bps / (mbps * 1e6) : 0;
  return bar(f, `${Math.round(f * 100)}%`);
};

const COLUMNS = ['Node', 'Child nodes', 'Circuits', 'Planned ↓ / ↑ Mbps (ceil)', 'Down now', 'Up now', 'Down use'];

function nodeRow(n, depth, open, loading) {
  const expandable = n.children > 0 || n.circuits > 0;
  const toggle = expandable
    ? h('button', { type: 'button', class: 'link-button tree-toggle', dataset: { toggle: n.name },
      'aria-expanded': open ? 'true' : 'false', title: open ? 'Collapse' : 'Expand' }, open ? '▾' : '▸')
    : h('span', { class: 'tree-toggle muted' }, '·');
  const label = n.generated
    ? h('span', { title: 'Generated parent node: the circuits without a parent node on this queue' }, n.name, ' ', h('span', { class: 'muted' }, '(generated)'))
    : h('a', { href: nodeHref(n.name), title: 'Open in the network tree' }, n.name);
  const via = (n.virtual_parents ?? []).length
    ? h('span', { class: 'muted', title: 'virtual node(s) of network.json: no class of their own' }, `${n.virtual_parents.join(' › ')} › `) : null;
  return h('tr', { class: `depth-${Math.min(depth, 6)}`, dataset: { node: n.name, depth: String(depth) }, testid: depth === 0 ? 'cpu-top-node' : 'cpu-child-node' },
    h('td', { class: 'tree-name', style: { paddingLeft: `${6 + depth * 18}px` } }, toggle, ' ', via, label, loading ? h('span', { class: 'muted' }, ' loading…') : null),
    h('td', { class: 'num' }, fmtCount(n.children)),
    h('td', { class: 'num', title: `${fmtCount(n.circuits)} attached right here` }, fmtCount(n.subtree_circuits)),
    h('td', { class: 'num' }, `${fmtMbps(n.plan_down_ceil_mbps)} / ${fmtMbps(n.plan_up_ceil_mbps)}`),
    h('td', { class: 'num' }, fmtBps(n.down_bps)),
    h('td', { class: 'num' }, fmtBps(n.up_bps)),
    h('td', { class: 'util' }, util(n.down_bps, n.plan_down_ceil_mbps)));
}

function circuitsRow(detail, depth, shown) {
  const total = detail.circuits_total;
  const name = detail.node.name;
  if (!total) return null;
  return h('tr', { class: 'tree-circuits', dataset: { circuitsOf: name } },
    h('td', { colspan: COLUMNS.length, style: { paddingLeft: `${6 + depth * 18}px` } },
      h('button', { type: 'button', class: 'link-button', dataset: { circuits: name }, testid: 'cpu-circuits-toggle' },
        shown ? `Hide the ${fmtCount(total)} circuit(s) attached here` : `${fmtCount(total)} circuit(s) attached here: show`),
      shown && total > detail.circuits.length
        ? h('span', { class: 'muted' }, ` (the first ${fmtCount(detail.circuits.length)}; `,
          h('a', { href: `#/circuits?q=${encodeURIComponent(name)}` }, 'search them all'), ')') : null));
}

function circuitRow(c, depth) {
  return h('tr', { class: 'tree-circuit', testid: 'cpu-circuit' },
    h('td', { style: { paddingLeft: `${24 + depth * 18}px` } },
      h('a', { href: circuitHref(c.circuit_id) }, pii(c.name) || c.circuit_id), ' ',
      h('span', { class: 'muted mono' }, c.circuit_id)),
    h('td', null, ''), h('td', null, ''),
    h('td', { class: 'num' }, `${fmtMbps(c.download_max_mbps)} / ${fmtMbps(c.upload_max_mbps)}`),
    h('td', { class: 'num' }, fmtBps(c.down_bps)),
    h('td', { class: 'num' }, fmtBps(c.up_bps)),
    h('td', { class: 'util' }, util(c.down_bps, c.download_max_mbps)));
}

export function mount(root) {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const summary = h('span', { class: 'total', testid: 'cpu-tree-summary' });
  const page = h('div', { class: 'page', testid: 'page-cpu-tree' },
    h('div', { class: 'page-head' }, h('h1', null, 'CPU Tree'), summary, h('span', { class: 'grow' }),
      h('a', { href: '#/cpu-weights' }, 'CPU Weights ›')),
    h('p', { class: 'muted' }, 'Each CPU queue of the live plan with the top-level nodes bound to it and their subtrees. ',
      'A circuit\'s download and upload classes sit on the same queue (its download HTB on the interface facing the subscribers, ',
      'its upload HTB on the one facing the Internet; on a single interface, upload runs on the upper half of the CPUs). ',
      'Live rates: the sum of the circuits\' traffic under each node.'),
    body);
  root.append(page);
  let data = null;
  let error = null;
  let built = false;
  const open = new Set();          // nodes expanded
  const showCircuits = new Set();  // nodes whose circuits are listed
  const details = new Map();       // node -> its /api/cpu/tree?node= answer
  const loading = new Set();

  const rowsOf = (n, depth, out) => {
    const isOpen = open.has(n.name);
    out.push(nodeRow(n, depth, isOpen, loading.has(n.name)));
    const d = isOpen ? details.get(n.name) : null;
    if (!d) return;
    for (const child of d.children ?? []) rowsOf(child, depth + 1, out);
    const shown = showCircuits.has(n.name);
    const cr = circuitsRow(d, depth + 1, shown);
    if (cr) out.push(cr);
    if (shown) for (const c of d.circuits ?? []) out.push(circuitRow(c, depth + 1));
  };

  const render = () => {
    if (!data) {
      if (error) body.replaceChildren(errorBox(error));
      return;
    }
    summary.textContent = `${fmtCount(data.queues.length)} queues · ${fmtCount(data.queues.reduce((a, q) => a + q.nodes.length, 0))} top-level nodes · ${fmtCount(data.circuits_total)} circuits`
      + (data.generation ? ` · plan generation ${data.generation}` : '');
    const cards = data.queues.map((q) => {
      const rows = [];
      for (const n of q.nodes) rowsOf(n, 0, rows);
      return h('section', { class: 'card cpu-queue', testid: 'cpu-queue', dataset: { queue: String(q.queue) } },
        h('div', { class: 'card-head' }, h('h2', null, queueName(q)),
          h('span', { class: 'muted' }, queueWhere(q)), h('span', { class: 'grow' }),
          h('span', { testid: 'cpu-queue-rate' }, `↓ ${fmtBps(q.down_bps)} · ↑ ${fmtBps(q.up_bps)} · ${fmtCount(q.circuits)} circuits`)),
        h('table', { class: 'grid cpu-tree', testid: 'cpu-queue-nodes' },
          h('thead', null, h('tr', null, COLUMNS.map((c, i) => h('th', { class: i ? 'num' : null }, c)))),
          h('tbody', null, rows.length ? rows
            : h('tr', { class: 'empty' }, h('td', { colspan: COLUMNS.length }, 'No node on this queue.')))));
    });
    const fresh = h('div', null,
      data.queues.length ? cards : card(null, h('p', { class: 'muted', testid: 'cpu-tree-empty' }, 'No plan is live yet: lqos-scheduler has not applied one.')),
      error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (!built) { body.replaceChildren(...fresh.childNodes); built = true; } else patch(body, fresh);
  };

  const loadNode = async (name) => {
    try {
      details.set(name, await get(`/api/cpu/tree${qs({ node: name })}`));
    } catch (e) {
      // The node left the plan: fold it.
      if (e.status === 404) { open.delete(name); details.delete(name); } else error = e;
    }
  };

  page.addEventListener('click', async (e) => {
    const t = e.target.closest('[data-toggle]');
    const c = e.target.closest('[data-circuits]');
    if (t) {
      const name = t.dataset.toggle;
      if (open.has(name)) { open.delete(name); render(); return; }
      open.add(name);
      loading.add(name);
      render();
      await loadNode(name);
      loading.delete(name);
      render();
    } else if (c) {
      const name = c.dataset.circuits;
      if (showCircuits.has(name)) showCircuits.delete(name); else showCircuits.add(name);
      render();
    }
  });

  const stop = poll(async () => {
    try {
      data = await get('/api/cpu/tree');
      error = null;
      await Promise.all([...open].map(loadNode));
    } catch (e) {
      error = e;
    }
    render();
  }, 5000);
  return { destroy: stop, rerender: render };
}
