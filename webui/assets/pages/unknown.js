// Unknown IPs: addresses with traffic that belong to no circuit (/api/unknown), busiest first.

import { h, patch, table, errorBox } from '../dom.js';
import { get, poll } from '../api.js';
import { fmtBps, fmtBytes, fmtCount, fmtWhen } from '../format.js';
import { pii } from '../privacy.js';

const SHOWN = 1000; // the table shows the busiest 1000; the CSV has them all

export function mount(root) {
  const slot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const summary = h('span', { class: 'total', testid: 'unknown-total' });
  const page = h('div', { class: 'page', testid: 'page-unknown' },
    h('div', { class: 'page-head' }, h('h1', null, 'Unknown IPs'), summary, h('span', { class: 'grow' }),
      h('a', { class: 'button', href: '/api/unknown.csv', download: 'unknown.csv', testid: 'unknown-csv' }, 'Download CSV')),
    h('p', { class: 'muted' }, 'Addresses seen with traffic that are in no circuit: they pass unshaped. Add them to ShapedDevices.csv, or check ignore_subnets / allow_subnets.'),
    slot);
  root.append(page);
  let hosts = null;
  let error = null;

  const render = () => {
    if (!hosts) { if (error) slot.replaceChildren(errorBox(error)); return; }
    summary.textContent = hosts.length > SHOWN
      ? `busiest ${fmtCount(SHOWN)} of ${fmtCount(hosts.length)}` : `${fmtCount(hosts.length)} addresses`;
    const fresh = h('div', null, table({
      testid: 'unknown-table',
      rows: hosts.slice(0, SHOWN),
      empty: 'No unknown addresses: every address with traffic belongs to a circuit.',
      columns: [
        { label: 'Address', cls: 'mono', cell: (x) => pii(x.ip) },
        { label: 'Down now', cls: 'num', cell: (x) => fmtBps(x.down_bps) },
        { label: 'Up now', cls: 'num', cell: (x) => fmtBps(x.up_bps) },
        { label: 'Bytes down', cls: 'num', cell: (x) => fmtBytes(x.bytes_down) },
        { label: 'Bytes up', cls: 'num', cell: (x) => fmtBytes(x.bytes_up) },
        { label: 'Last seen', cell: (x) => fmtWhen(x.last_seen_unix) },
      ],
    }), error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (slot.querySelector('table')) patch(slot, fresh); else slot.replaceChildren(...fresh.childNodes);
  };

  const stop = poll(async () => {
    try {
      hosts = (await get('/api/unknown')).hosts ?? [];
      error = null;
    } catch (e) { error = e; }
    render();
  }, 5000);
  return { destroy: stop, rerender: render };
}
