// Urgent issues raised by lqosd, lqos-scheduler and integrations; admins acknowledge them.

import { h, mountInto, table, errorBox } from '../dom.js';
import { get, post } from '../api.js';
import { fmtWhen, fmtCount } from '../format.js';
import { isPrivate, scrub } from '../privacy.js';

function context(text) {
  if (!text) return h('span', { class: 'muted' }, '—');
  if (isPrivate()) return h('span', { class: 'muted' }, 'hidden in privacy mode');
  const lines = text.split('\n').length;
  return h('details', null, h('summary', null, `${fmtCount(lines)} line${lines === 1 ? '' : 's'}`),
    h('pre', { class: 'context' }, text));
}

const severityClass = (s) => (String(s).toLowerCase() === 'error' ? 'sev sev-error' : 'sev sev-warning');

export function mount(root, _params, ctx) {
  const slot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const summary = h('span', { class: 'total' });
  const page = h('div', { class: 'page', testid: 'page-issues' },
    h('div', { class: 'page-head' }, h('h1', null, 'Urgent issues'), summary, h('span', { class: 'grow' }),
      h('button', { type: 'button', testid: 'issues-reload', onclick: () => load() }, 'Reload')),
    slot);
  root.append(page);
  let issues = null;
  let error = null;

  async function ack(issue, button) {
    button.disabled = true;
    try {
      await post(`/api/issues/${encodeURIComponent(issue.id)}/ack`);
      error = null;
    } catch (e) {
      error = e;
    }
    await load();
    ctx.refreshBadge();
  }

  const columns = [
    { label: 'Severity', cell: (i) => h('span', { class: severityClass(i.severity) }, String(i.severity).toLowerCase()) },
    { label: 'Source', cell: (i) => i.source },
    { label: 'Code', cls: 'mono', cell: (i) => i.code },
    { label: 'Message', cls: 'wrap', cell: (i) => scrub(i.message) },
    { label: 'Context', cell: (i) => context(i.context) },
    { label: 'Count', cls: 'num', cell: (i) => fmtCount(i.count) },
    { label: 'First seen', cell: (i) => fmtWhen(i.first_seen_unix) },
    { label: 'Last seen', cell: (i) => fmtWhen(i.last_seen_unix) },
    { label: 'Acknowledged', cell: (i) => {
      if (i.acknowledged) return h('span', { class: 'ok-text' }, 'yes');
      if (!ctx.isAdmin) return h('span', { class: 'error-text' }, 'no');
      const b = h('button', { type: 'button', class: 'small', testid: 'issue-ack', dataset: { issueId: String(i.id) } }, 'Acknowledge');
      b.addEventListener('click', () => ack(i, b));
      return b;
    } },
  ];

  const render = () => {
    if (!issues) { if (error) slot.replaceChildren(errorBox(error)); return; }
    const open = issues.filter((i) => !i.acknowledged).length;
    summary.textContent = `${fmtCount(open)} unacknowledged of ${fmtCount(issues.length)}`;
    ctx.setBadge({ unacknowledged: open, total: issues.length });
    mountInto(slot,
      error ? errorBox(error) : null,
      table({ testid: 'issues-table', rows: issues, columns, empty: 'No urgent issues.',
        rowAttrs: (i) => ({ class: i.acknowledged ? 'acked' : 'open' }) }));
  };

  async function load() {
    try {
      issues = (await get('/api/issues')).issues ?? [];
    } catch (e) { error = e; }
    render();
  }
  load();
  return { rerender: render };
}
