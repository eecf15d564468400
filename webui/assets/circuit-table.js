// The CircuitRow table used by the Circuits page and the network tree.

import { h, table } from './dom.js';
import { fmtBps, fmtPlan } from './format.js';
import { pii, piiList } from './privacy.js';

export const circuitHref = (id) => `#/circuit/${encodeURIComponent(id)}`;
export const nodeHref = (name) => `#/tree/${encodeURIComponent(name)}`;

/** Live rate, with the plan maximum's share as a tooltip. */
function rate(bps, maxMbps) {
  const share = maxMbps > 0 ? Math.round((bps / (maxMbps * 1e6)) * 100) : null;
  return h('span', { title: share == null ? null : `${share}% of plan` }, fmtBps(bps));
}

export function circuitTable(rows, testid) {
  return table({
    testid,
    rows,
    empty: 'No circuits.',
    columns: [
      { label: 'Circuit', cell: (c) => h('a', { href: circuitHref(c.circuit_id) }, pii(c.name) || '(no name)') },
      { label: 'ID', cls: 'mono', cell: (c) => h('a', { href: circuitHref(c.circuit_id) }, c.circuit_id) },
      { label: 'Parent node', cell: (c) => (c.parent_node ? h('a', { href: nodeHref(c.parent_node) }, c.parent_node) : h('span', { class: 'muted' }, '—')) },
      { label: 'Devices', cls: 'num', cell: (c) => String(c.devices ?? '') },
      { label: 'IPs', cls: 'mono ips', cell: (c) => piiList(c.ips, 2) },
      { label: 'Down min / max', cls: 'num', cell: (c) => fmtPlan(c.download_min_mbps, c.download_max_mbps) },
      { label: 'Up min / max', cls: 'num', cell: (c) => fmtPlan(c.upload_min_mbps, c.upload_max_mbps) },
      { label: 'Down now', cls: 'num', cell: (c) => rate(c.down_bps, c.download_max_mbps) },
      { label: 'Up now', cls: 'num', cell: (c) => rate(c.up_bps, c.upload_max_mbps) },
    ],
  });
}
