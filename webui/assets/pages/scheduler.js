// Scheduler: lqos-scheduler's last report, its recent runs, and (admins) "Refresh now".

import { h, patch, table, card, errorBox } from '../dom.js';
import { get, post, poll } from '../api.js';
import { fmtWhen, fmtMs, fmtSecs, fmtCount } from '../format.js';
import { scrub } from '../privacy.js';

const dl = (pairs) => h('dl', { class: 'kv' }, pairs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));

function progress(percent) {
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  const fill = h('span', { class: 'bar-fill', style: { width: `${p}%` } });
  return h('span', { class: 'progress', role: 'progressbar', 'aria-valuenow': String(p),
    'aria-valuemin': '0', 'aria-valuemax': '100', testid: 'scheduler-progress' },
  h('span', { class: 'bar' }, fill), h('span', { class: 'bar-label' }, `${p}%`));
}

function report(d) {
  const r = d.report;
  if (!r) {
    return h('p', { class: 'warn-text' }, 'No report from lqos-scheduler yet. Is the lqos_scheduler service running?');
  }
  const stale = d.report_age_secs > 60;
  return h('div', null,
    stale ? h('p', { class: 'warn-text' }, `The last report is ${fmtSecs(d.report_age_secs)} old: lqos-scheduler may have stopped.`) : null,
    dl([
      ['Phase', h('span', { class: `phase phase-${(r.phase ?? '').replace(/\W+/g, '-')}` }, r.phase || '—')],
      ['Step', r.step || '—'],
      ['Progress', progress(r.percent)],
      ['Last success', fmtWhen(r.last_success_unix)],
      ['Last duration', fmtMs(r.last_duration_ms)],
      ['Next run', fmtWhen(r.next_run_unix)],
      ['Consecutive failures', h('span', { class: r.consecutive_failures ? 'error-text' : '' }, fmtCount(r.consecutive_failures ?? 0))],
      ['Report age', d.report_age_secs == null ? '—' : fmtSecs(d.report_age_secs)],
    ]),
    h('h3', null, 'Last error'),
    r.last_error ? h('pre', { class: 'error-pre', testid: 'scheduler-last-error' }, scrub(r.last_error)) : h('p', { class: 'muted' }, 'None.'));
}

// A fleet box (docs/fleet.md): the leader, the latest publication, and every box's share,
// applied fence, lag and health, as this box's scheduler last saw them in etcd. While etcd
// is unreachable, all but this box are as last seen (and say so).
function fleet(f) {
  if (!f) return null;
  const v = f.status;
  const fence = f.applied_fence ? `token ${f.applied_fence.token}, generation ${f.applied_fence.generation}` : 'none yet';
  const val = (testid, ...content) => h('span', { testid }, ...content);
  if (!v) {
    return card('Fleet', h('div', { testid: 'fleet' }, h('p', { class: 'warn-text' }, 'No fleet status yet: is lqos-scheduler running?'),
      dl([['This box', val('fleet-name', f.name)], ['Applied here (lqosd)', val('fleet-applied', fence)]])));
  }
  const ok = v.etcd === 'ok';
  const etcd = ok ? h('span', { class: 'ok-text', testid: 'fleet-etcd' }, 'ok')
    : h('span', { class: 'error-text', testid: 'fleet-etcd' }, `unreachable (${v.etcd}): shaping stays on the last applied plan`);
  const m = v.manifest;
  const stale = !ok && v.seen_unix_ms
    ? h('p', { class: 'warn-text', testid: 'fleet-stale' }, `The leader, the publication and the other boxes are as last seen in etcd, ${fmtWhen(Math.floor(v.seen_unix_ms / 1000))}.`)
    : null;
  return card('Fleet', h('div', { testid: 'fleet' },
    dl([
      ['This box', val('fleet-name', f.name)],
      ['Its share', val('fleet-share', f.standby_of ? `standby of ${f.standby_of}` : (f.share ?? []).join(', '))],
      ['etcd', etcd],
      ['Leader', v.leader ? val('fleet-leader', `${v.leader.name} (token ${v.leader.token})`)
        : h('span', { class: 'error-text', testid: 'fleet-leader' }, 'none: nothing is published')],
      ['Latest publication', val('fleet-publication', m ? `token ${m.token}, generation ${m.generation} by ${m.publisher} (${fmtCount(m.compressed)} bytes)` : '—')],
      ['Applied here (lqosd)', val('fleet-applied', fence)],
      ['Seen', fmtWhen(Math.floor((v.updated_unix_ms ?? 0) / 1000))],
    ]),
    stale,
    table({
      testid: 'fleet-boxes',
      rows: v.boxes.map((b, i) => ({ ...b, lag: f.lags?.[i] })),
      rowAttrs: (b) => ({ testid: `fleet-box-${b.name}` }),
      empty: 'No box reports.',
      columns: [
        { label: 'Box', cell: (b) => b.leader ? `${b.name} (leader)` : b.name },
        { label: 'Share', cls: 'wrap', cell: (b) => (b.standby_of ? `standby of ${b.standby_of}: ` : '') + (b.share ?? []).join(', ') },
        { label: 'Token', cls: 'num', cell: (b) => b.applied_token ?? '—' },
        { label: 'Generation', cls: 'num', cell: (b) => b.applied_generation ?? '—' },
        { label: 'Lag', cls: 'num', cell: (b) => b.lag ?? '—' },
        { label: 'Health', cell: (b) => h('span', { class: b.health === 'ok' ? 'ok-text' : 'error-text' }, b.health) },
      ],
    })));
}

function runs(list) {
  return table({
    testid: 'scheduler-runs',
    rows: list,
    empty: 'No runs yet.',
    columns: [
      { label: 'Finished', cell: (r) => fmtWhen(r.finished_unix) },
      { label: 'Result', cell: (r) => h('span', { class: r.ok ? 'ok-text' : 'error-text' }, r.ok ? 'ok' : 'failed') },
      { label: 'Duration', cls: 'num', cell: (r) => fmtMs(r.duration_ms) },
      { label: 'Error', cls: 'wrap', cell: (r) => scrub(r.error ?? '') },
    ],
  });
}

// Each CRM integration on its own interval: last run, result, counts, next run, and the
// share of the last hour it spent running (as LibreNMS's poller page shows).
function integrations(list) {
  return table({
    testid: 'scheduler-integrations',
    rows: list,
    empty: 'No CRM integration is enabled.',
    columns: [
      { label: 'Integration', cell: (i) => i.name },
      { label: 'Last run', cell: (i) => fmtWhen(i.last_run_unix) },
      { label: 'Duration', cls: 'num', cell: (i) => fmtMs(i.last_duration_ms) },
      { label: 'Result', cls: 'wrap', cell: (i) => h('span', { class: i.ok ? 'ok-text' : 'error-text' }, i.ok ? 'ok' : scrub(i.result ?? '')) },
      { label: 'Imported', cls: 'num', cell: (i) => fmtCount(i.imported ?? 0) },
      { label: 'Skipped', cls: 'num', cell: (i) => fmtCount(i.skipped ?? 0) },
      { label: 'Next run', cell: (i) => fmtWhen(i.next_run_unix) },
      { label: 'Busy (last hour)', cls: 'num', cell: (i) => `${((i.busy_ms_last_hour ?? 0) / 36000).toFixed(2)}%` },
    ],
  });
}

export function mount(root, _params, ctx) {
  const slot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const message = h('div', { class: 'notice', testid: 'scheduler-message', hidden: true, role: 'status' });
  const refresh = ctx.isAdmin ? h('button', { type: 'button', class: 'primary', testid: 'scheduler-refresh', onclick: async () => {
    refresh.disabled = true;
    try {
      const answer = await post('/api/scheduler/refresh');
      message.textContent = answer?.message ?? 'Refresh requested.';
      message.className = 'notice';
    } catch (e) {
      message.textContent = e.message;
      message.className = 'notice error-box';
    } finally {
      message.hidden = false;
      refresh.disabled = false;
      load();
    }
  } }, 'Refresh now') : null;
  const page = h('div', { class: 'page', testid: 'page-scheduler' },
    h('div', { class: 'page-head' }, h('h1', null, 'Scheduler'), h('span', { class: 'grow' }), refresh),
    message, slot);
  root.append(page);
  let data = null;
  let error = null;

  const render = () => {
    if (!data) { if (error) slot.replaceChildren(errorBox(error)); return; }
    const fresh = h('div', null,
      data.refresh_requested ? h('p', { class: 'notice' }, 'A refresh has been requested and is about to start.') : null,
      card('Status', h('div', { testid: 'scheduler-report' }, report(data))),
      fleet(data.fleet),
      card('Integrations', integrations(data.report?.integrations ?? [])),
      card('Recent runs', runs(data.runs ?? [])),
      error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (slot.querySelector('dl, .warn-text')) patch(slot, fresh); else slot.replaceChildren(...fresh.childNodes);
  };

  async function load() {
    try {
      data = await get('/api/scheduler');
      error = null;
    } catch (e) { error = e; }
    render();
  }
  const stop = poll(load, 2000);
  return { destroy: stop, rerender: render };
}
