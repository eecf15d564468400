// Dashboard: live totals, chart, top circuits and hosts, queue load, counts, scheduler and
// issue summaries. One GET for a fast first paint, then /api/live (event `dashboard`).

import { h, patch, table, bar, card } from '../dom.js';
import { get, live } from '../api.js';
import { fmtBps, fmtCount, fmtPlan, fmtWhen, fmtSecs } from '../format.js';
import { pii, scrub } from '../privacy.js';
import { rateChart } from '../chart.js';
import { circuitHref } from '../circuit-table.js';
import { dashboardTelemetry } from '../dashboard-telemetry.js';

const circuitColumns = [
  { label: 'Circuit', cell: (c) => h('a', { href: circuitHref(c.circuit_id) }, pii(c.name) || c.circuit_id) },
  { label: 'ID', cls: 'mono', cell: (c) => c.circuit_id },
  { label: 'Down', cls: 'num', cell: (c) => fmtBps(c.down_bps) },
  { label: 'Up', cls: 'num', cell: (c) => fmtBps(c.up_bps) },
  { label: 'Plan (Mbps)', cls: 'num muted', cell: (c) => fmtPlan(c.plan_down_mbps, c.plan_up_mbps) },
];

const hostColumns = [
  { label: 'Address', cls: 'mono', cell: (x) => pii(x.ip) },
  { label: 'Circuit', cell: (x) => (x.circuit_id
    ? h('a', { href: circuitHref(x.circuit_id) }, pii(x.circuit_name) || x.circuit_id)
    : h('span', { class: 'muted' }, 'unknown')) },
  { label: 'Down', cls: 'num', cell: (x) => fmtBps(x.down_bps) },
  { label: 'Up', cls: 'num', cell: (x) => fmtBps(x.up_bps) },
];

function figure(testid, label, bps, cls) {
  return h('div', { class: `figure ${cls}` }, h('div', { class: 'figure-label' }, label),
    h('div', { class: 'figure-value', testid, dataset: { bps: String(bps ?? 0) } }, fmtBps(bps)));
}

function queues(list) {
  const max = Math.max(1, ...list.map((q) => Math.max(q.down_bps, q.up_bps)));
  if (!list.length) return h('p', { class: 'muted' }, 'No queues.');
  return h('div', { class: 'queue-rows' }, list.map((q) => h('div', { class: 'queue-row' },
    h('span', { class: 'queue-cpu' }, `CPU ${q.cpu}`),
    h('span', { class: 'queue-bars' },
      h('span', { class: 'qbar down' }, bar(q.down_bps / max, `↓ ${fmtBps(q.down_bps)}`)),
      h('span', { class: 'qbar up' }, bar(q.up_bps / max, `↑ ${fmtBps(q.up_bps)}`))))));
}

const dl = (pairs) => h('dl', { class: 'kv' }, pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));

function counts(d) {
  const c = d.counts ?? {};
  return dl([
    ['Circuits', fmtCount(c.circuits)], ['Devices', fmtCount(c.devices)],
    ['Mapped IPs', fmtCount(c.mapped_ips)], ['Active hosts', fmtCount(c.active_hosts)],
    ['Unknown hosts', h('a', { href: '#/unknown' }, fmtCount(c.unknown_hosts))],
    ['Unknown traffic', `↓ ${fmtBps(d.unknown_down_bps)} ↑ ${fmtBps(d.unknown_up_bps)}`],
  ]);
}

function schedulerStatus(s) {
  if (!s) return h('p', { class: 'warn-text' }, 'No report from lqos-scheduler.');
  const stale = s.age_secs > 60;
  return h('div', null,
    stale ? h('p', { class: 'warn-text' }, `No report for ${fmtSecs(s.age_secs)}: is lqos-scheduler running?`) : null,
    dl([
      ['Phase', h('span', { class: `phase phase-${(s.phase ?? '').replace(/\W+/g, '-')}` }, s.phase || '—')],
      ...(s.step ? [['Step', `${s.step} (${s.percent ?? 0}%)`]] : []),
      ['Last success', fmtWhen(s.last_success_unix)],
      ['Last error', s.last_error ? h('span', { class: 'error-text' }, scrub(s.last_error.split('\n')[0])) : 'none'],
    ]),
    h('a', { href: '#/scheduler' }, 'Scheduler details →'));
}

function issuesSummary(i) {
  const u = i?.unacknowledged ?? 0;
  return h('div', null,
    h('p', { class: u ? 'error-text' : 'ok-text' },
      u ? `${u} unacknowledged` : 'Nothing unacknowledged'),
    dl([['Total', fmtCount(i?.total)], ['Unacknowledged', fmtCount(u)], ['Urgent', fmtCount(i?.urgent)]]),
    h('a', { href: '#/issues' }, 'All issues →'));
}

export function mount(root, _params, ctx) {
  const chart = rateChart('throughput-chart');
  const telemetry = dashboardTelemetry();
  const status = h('span', { class: 'live-state' }, 'connecting…');
  const body = h('div');
  const page = h('div', { class: 'page', testid: 'page-dashboard' },
    h('div', { class: 'page-head' }, h('h1', null, 'Dashboard'), status),
    body);
  root.append(page);
  let data = null;
  let built = false;

  const render = () => {
    if (!data) return;
    const fresh = h('div', null,
      h('div', { class: 'figures' },
        figure('total-down', 'Download', data.down_bps, 'down'),
        figure('total-up', 'Upload', data.up_bps, 'up')),
      h('div', { class: 'chart-slot', 'data-keep': true }),
      telemetry.node(data.telemetry),
      h('div', { class: 'grid-3' },
        card('Counts', h('div', { testid: 'counts' }, counts(data))),
        card('Scheduler', h('div', { testid: 'scheduler-status' }, schedulerStatus(data.scheduler))),
        card('Urgent issues', h('div', { testid: 'issues-summary' }, issuesSummary(data.issues)))),
      h('div', { class: 'grid-2' },
        card('Top circuits by download', table({ columns: circuitColumns, rows: data.top_circuits_down ?? [], testid: 'top-circuits-down', empty: 'No traffic.' })),
        card('Top circuits by upload', table({ columns: circuitColumns, rows: data.top_circuits_up ?? [], testid: 'top-circuits-up', empty: 'No traffic.' })),
        card('Top hosts by download', table({ columns: hostColumns, rows: data.top_hosts_down ?? [], testid: 'top-hosts-down', empty: 'No traffic.' })),
        card('Top hosts by upload', table({ columns: hostColumns, rows: data.top_hosts_up ?? [], testid: 'top-hosts-up', empty: 'No traffic.' }))),
      card('Load per CPU queue', h('div', { testid: 'queue-load' }, queues(data.queues ?? []))));
    if (!built) {
      body.replaceChildren(...fresh.childNodes);
      body.querySelector('.chart-slot').append(card('Throughput, last 5 minutes', chart.el));
      built = true;
    } else {
      patch(body, fresh); // in place; the chart slot (data-keep) is left alone
    }
    telemetry.update(body, data.telemetry);
  };

  const accept = (d) => {
    const hist = d.history ?? [];
    if (hist.length) {
      // The first GET carries the history: keep the live points that are newer.
      const end = hist[hist.length - 1].t_unix;
      chart.setPoints([...hist, ...chart.points.filter((p) => p.t_unix > end)]);
    } else {
      // Live events carry one point each.
      chart.push({ t_unix: d.sampled_unix, down_bps: d.down_bps, up_bps: d.up_bps });
    }
    data = d;
    if (d.issues) ctx.setBadge({ unacknowledged: d.issues.unacknowledged, total: d.issues.total });
    render();
  };

  get('/api/dashboard').then((d) => { if (!data) accept(d); else chart.setPoints([...d.history, ...chart.points]); }).catch((e) => {
    if (!data) body.replaceChildren(h('p', { class: 'muted' },
      e.status === 503 ? 'lqosd has no data yet; waiting for the first sample…' : `Cannot load the dashboard: ${e.message}`));
  });
  const close = live(null, {
    dashboard: accept,
    state: (s) => {
      status.textContent = s === 'open' ? '● live' : s === 'stale' ? 'no update for 5 s' : 'reconnecting…';
      status.className = `live-state ${s}`;
    },
  });

  return {
    destroy() { close(); chart.destroy(); telemetry.destroy(); },
    rerender() { render(); },
  };
}
