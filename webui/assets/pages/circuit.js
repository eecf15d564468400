// One circuit: plan, devices, a live chart (/api/live?circuit=ID, event `circuit`), and for
// admins Edit (PUT) and Delete.

import { h, mountInto, table, card, errorBox } from '../dom.js';
import { get, put, del, live } from '../api.js';
import { fmtBps, fmtMbps, fmtPct } from '../format.js';
import { pii, piiList, isPrivate } from '../privacy.js';
import { rateChart } from '../chart.js';
import { nodeHref } from '../circuit-table.js';
import { circuitForm, toEdit } from '../circuit-form.js';
import { circuitTelemetry } from '../circuit-telemetry.js';

function devicesTable(devices) {
  return table({
    testid: 'circuit-devices',
    rows: devices,
    empty: 'No devices.',
    columns: [
      { label: 'Device', cell: (d) => pii(d.name) },
      { label: 'Device ID', cls: 'mono', cell: (d) => d.device_id },
      { label: 'MAC', cls: 'mono', cell: (d) => pii(d.mac) },
      { label: 'IPs', cls: 'mono', cell: (d) => piiList(d.ips, 20) },
      { label: 'Comment', cell: (d) => pii(d.comment) },
    ],
  });
}

const stat = (label, value, testid) =>
  h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value', testid }, value));

export function mount(root, { param: id }, ctx) {
  const chart = rateChart('circuit-chart');
  const telemetry = circuitTelemetry(id, () => ({ down: detail?.download_max_mbps, up: detail?.upload_max_mbps }));
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const page = h('div', { class: 'page', testid: 'page-circuit' }, body);
  root.append(page);
  let detail = null;
  let now = null; // the latest live sample
  let editing = false;
  let actionError = null;
  const liveDown = h('span');
  const liveUp = h('span');

  const showLive = () => {
    if (!detail) return;
    const d = now ?? { down_bps: detail.down_bps, up_bps: detail.up_bps };
    liveDown.textContent = `${fmtBps(d.down_bps)} (${fmtPct(d.down_bps / (detail.download_max_mbps * 1e6))})`;
    liveUp.textContent = `${fmtBps(d.up_bps)} (${fmtPct(d.up_bps / (detail.upload_max_mbps * 1e6))})`;
  };

  const render = () => {
    if (!detail) return;
    const c = detail;
    const adminButtons = ctx.isAdmin && !editing ? [
      h('button', { type: 'button', testid: 'circuit-edit', disabled: isPrivate(),
        title: isPrivate() ? 'Turn privacy mode off to edit (the form shows names and addresses)' : null,
        onclick: () => { editing = true; render(); } }, 'Edit'),
      h('button', { type: 'button', class: 'danger', testid: 'circuit-delete', onclick: remove }, 'Delete'),
    ] : null;
    const form = editing ? circuitForm({
      initial: toEdit(c),
      isNew: false,
      onCancel: () => { editing = false; render(); },
      onSubmit: async (edit) => {
        await put(`/api/circuits/${encodeURIComponent(c.circuit_id)}`, edit);
        editing = false;
        await load();
      },
    }) : null;
    mountInto(body,
      h('nav', { class: 'breadcrumb' }, h('a', { href: '#/circuits' }, 'Circuits'), h('span', { class: 'sep' }, '›'),
        h('span', { class: 'current mono' }, c.circuit_id)),
      h('div', { class: 'page-head' },
        h('h1', { testid: 'circuit-name' }, pii(c.name) || '(no name)'),
        h('span', { class: 'muted mono', testid: 'circuit-id' }, c.circuit_id),
        h('span', { class: 'grow' }), adminButtons),
      errorBox(actionError),
      form,
      h('div', { class: 'stats' },
        stat('Parent node', c.parent_node ? h('a', { href: nodeHref(c.parent_node) }, c.parent_node) : '— (none)', 'circuit-parent'),
        stat('Download min / max', `${fmtMbps(c.download_min_mbps)} / ${fmtMbps(c.download_max_mbps)} Mbps`, 'circuit-plan-down'),
        stat('Upload min / max', `${fmtMbps(c.upload_min_mbps)} / ${fmtMbps(c.upload_max_mbps)} Mbps`, 'circuit-plan-up'),
        stat('SQM', c.sqm || 'default', 'circuit-sqm'),
        stat('Download now', liveDown, 'circuit-down'),
        stat('Upload now', liveUp, 'circuit-up')),
      card('Throughput, last 5 minutes', chart.el),
      telemetry.el,
      card('Devices', devicesTable(c.devices ?? [])));
    showLive();
  };

  async function load() {
    try {
      detail = await get(`/api/circuits/${encodeURIComponent(id)}`);
      actionError = null;
      if (chart.lastTime() == null) chart.setPoints(detail.history ?? []);
      render();
    } catch (e) {
      if (!detail) {
        body.replaceChildren(h('h1', null, 'Circuit ', h('span', { class: 'mono' }, id)),
          errorBox(e.status === 404 ? { message: `There is no circuit with id “${id}”.` } : e),
          h('p', null, h('a', { href: '#/circuits' }, 'All circuits')));
      } else throw e;
    }
  }

  async function remove() {
    if (!confirm(`Delete circuit ${detail.circuit_id} and its ${detail.devices?.length ?? 0} device(s) from ShapedDevices.csv?`)) return;
    try {
      await del(`/api/circuits/${encodeURIComponent(detail.circuit_id)}`);
      location.hash = '#/circuits';
    } catch (e) {
      actionError = e;
      render();
    }
  }

  load();
  const close = live({ circuit: id }, {
    circuit: (ev) => {
      if (ev.circuit_id !== id) return;
      chart.push({ t_unix: ev.t_unix, down_bps: ev.down_bps, up_bps: ev.up_bps });
      now = ev;
      showLive();
    },
  });

  return {
    destroy() { close(); chart.destroy(); telemetry.destroy(); },
    rerender() { editing = false; render(); telemetry.rerender(); },
  };
}
