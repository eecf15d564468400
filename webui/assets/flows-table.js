// The flows table (a circuit's live flows from /api/circuits/{id}/flows). Its columns are a
// list, so pages or later features add theirs (e.g. ASN and country) with
// `flowColumns.splice(...)` or by passing their own list to `flowsTable`.

import { h, table } from './dom.js';
import { fmtBps, fmtBytes, fmtCount } from './format.js';
import { endpoint, fmtRtt } from './telemetry.js';

/** Columns: {key, label, cls?, cell(flow)}; `key` names a column for those who insert theirs. */
export const flowColumns = [
  { key: 'remote', label: 'Remote', cls: 'mono', cell: (f) => endpoint(f.remote) },
  { key: 'local', label: 'Local', cls: 'mono muted', cell: (f) => endpoint(f.local) },
  { key: 'proto', label: 'Protocol', cell: (f) => f.proto },
  { key: 'rate_down', label: '↓ Rate', cls: 'num', cell: (f) => fmtBps(f.rate_down_bps) },
  { key: 'rate_up', label: '↑ Rate', cls: 'num', cell: (f) => fmtBps(f.rate_up_bps) },
  { key: 'bytes_down', label: '↓ Bytes', cls: 'num', cell: (f) => fmtBytes(f.bytes_down) },
  { key: 'bytes_up', label: '↑ Bytes', cls: 'num', cell: (f) => fmtBytes(f.bytes_up) },
  { key: 'rtt', label: 'RTT', cls: 'num', cell: (f) => h('span', {
    title: `The last sample of the flow's main direction. Subscriber side ${fmtRtt(f.rtt_subscriber_ms)}, internet side ${fmtRtt(f.rtt_internet_ms)}`,
  }, fmtRtt(f.rtt_ms)) },
  { key: 'retransmits', label: 'Retransmits ↓ / ↑', cls: 'num',
    cell: (f) => `${fmtCount(f.retransmits_down)} / ${fmtCount(f.retransmits_up)}` },
];

/** The index of the column named `key` (for inserting columns next to it), or -1. */
export const columnIndex = (key, columns = flowColumns) => columns.findIndex((c) => c.key === key);

export function flowsTable(flows, { testid = 'flows-table', columns = flowColumns } = {}) {
  return table({
    testid,
    columns,
    rows: flows ?? [],
    empty: 'No active flows.',
  });
}
