// The circuit page's flow telemetry: RTT per side now and over 5 minutes, retransmits with
// their gate, QoO, queue statistics over time, and the flows table. Polls
// /api/circuits/{id}/telemetry (which keeps the circuit "watched": its queues read every
// second) and /api/circuits/{id}/flows every 2 s.

import { h, mountInto, card } from './dom.js';
import { get, poll, qs } from './api.js';
import { fmtBytes, fmtCount } from './format.js';
import { LineChart, DOWN_COLOR, UP_COLOR } from './chart.js';
import { fmtRtt, fmtRttAxis, rttSide, retxDir, qooText } from './telemetry.js';
import { flowsTable } from './flows-table.js';

export const INTERNET_COLOR = '#7c3aed';
export const SUBSCRIBER_COLOR = '#0f8a5f';
const POLL_MS = 2000;
const WINDOW = 300;

const fmtPerSec = (v) => (v == null ? '—' : `${Number(v) < 10 ? Number(v).toFixed(1) : Math.round(Number(v))}/s`);
const fmtCountAxis = (v) => (v >= 1000 ? `${v / 1000}k` : String(Number(v.toFixed(1))));
const fmtBytesAxis = (v) => fmtBytes(v).replace(/\.0+ /, ' ');

const stat = (label, value) =>
  h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value));

function rttChart() {
  return new LineChart({
    testid: 'circuit-rtt-chart',
    height: 200,
    minTop: 1,
    gapSecs: 25,
    fill: false,
    format: fmtRtt,
    axisFormat: fmtRttAxis,
    series: [
      { key: 'inet_p50', label: 'Internet p50', color: INTERNET_COLOR },
      { key: 'inet_p90', label: 'Internet p90', color: INTERNET_COLOR, dash: [5, 3] },
      { key: 'sub_p50', label: 'Subscriber p50', color: SUBSCRIBER_COLOR },
      { key: 'sub_p90', label: 'Subscriber p90', color: SUBSCRIBER_COLOR, dash: [5, 3] },
    ],
  });
}

const rttPoint = (t, internet, subscriber) => ({
  t_unix: t,
  inet_p50: internet?.p50_ms ?? null,
  inet_p90: internet?.p90_ms ?? null,
  sub_p50: subscriber?.p50_ms ?? null,
  sub_p90: subscriber?.p90_ms ?? null,
});

/** A direction's queue delay: CAKE's own peak delay, else the backlog drained at the plan's rate. */
function delayMs(d, planMbps) {
  if (d.peak_delay_us != null) return d.peak_delay_us / 1000;
  if (!(planMbps > 0)) return null;
  return (d.backlog_bytes * 8) / (planMbps * 1e6) * 1000;
}

function queueDirStats(label, q, testid) {
  if (!q) return null;
  const leaf = q.leaf || 'none';
  const delay = q.peak_delay_us != null
    ? `peak ${fmtRtt(q.peak_delay_us / 1000)}, base ${fmtRtt((q.base_delay_us ?? 0) / 1000)}`
    : h('span', { class: 'muted' }, `not reported by ${leaf}`);
  return h('dl', { class: 'kv', testid },
    h('dt', null, label), h('dd', null, h('span', { class: 'leaf' }, leaf)),
    h('dt', null, 'Sent'), h('dd', null, `${fmtBytes(q.sent_bytes)} (${fmtCount(q.sent_packets)} packets)`),
    h('dt', null, 'Drops'), h('dd', { dataset: { drops: String(q.drops) } }, fmtCount(q.drops)),
    h('dt', null, 'ECN marks'), h('dd', null, q.ecn_marks == null ? h('span', { class: 'muted' }, `none with ${leaf}`) : fmtCount(q.ecn_marks)),
    h('dt', null, 'Backlog'), h('dd', null, `${fmtBytes(q.backlog_bytes)} (${fmtCount(q.qlen)} packets)`),
    h('dt', null, 'Delay'), h('dd', null, delay),
    h('dt', null, 'Overlimits'), h('dd', null, fmtCount(q.overlimits)));
}

/**
 * The telemetry section of circuit `id`. `plan()` returns {down, up} plan maxima in Mbps (for
 * the delay estimate). Returns {el, rerender, destroy}.
 */
export function circuitTelemetry(id, plan) {
  const rtt = rttChart();
  const drops = new LineChart({
    testid: 'circuit-queue-drops-chart', height: 160, minTop: 1, fill: false,
    format: fmtPerSec, axisFormat: fmtCountAxis,
    series: [
      { key: 'down_drops', label: '↓ drops/s', color: DOWN_COLOR },
      { key: 'up_drops', label: '↑ drops/s', color: UP_COLOR },
      { key: 'down_marks', label: '↓ ECN marks/s', color: DOWN_COLOR, dash: [2, 3] },
      { key: 'up_marks', label: '↑ ECN marks/s', color: UP_COLOR, dash: [2, 3] },
    ],
  });
  const backlog = new LineChart({
    testid: 'circuit-queue-backlog-chart', height: 160, minTop: 1000, fill: false,
    format: fmtBytes, axisFormat: fmtBytesAxis,
    series: [
      { key: 'down_backlog', label: '↓ backlog', color: DOWN_COLOR },
      { key: 'up_backlog', label: '↑ backlog', color: UP_COLOR },
    ],
  });
  const delay = new LineChart({
    testid: 'circuit-queue-delay-chart', height: 160, minTop: 1, fill: false,
    format: fmtRtt, axisFormat: fmtRttAxis,
    series: [
      { key: 'down_delay', label: '↓ queue delay', color: DOWN_COLOR },
      { key: 'up_delay', label: '↑ queue delay', color: UP_COLOR },
    ],
  });
  const summary = h('div', { testid: 'circuit-telemetry' }, h('p', { class: 'muted' }, 'Loading telemetry…'));
  const queueStats = h('div', { class: 'grid-2', testid: 'circuit-queue-stats' });
  const delayNote = h('p', { class: 'muted note' });
  const flowsBox = h('div');
  const flowsHead = h('span', { class: 'muted', testid: 'circuit-flows-total' });
  const el = h('div', { testid: 'circuit-telemetry-section' },
    card('Latency, retransmits and quality', summary),
    card('Round-trip time, last 5 minutes (10-s slots, then live)', rtt.el),
    card('Queues', queueStats,
      h('div', { class: 'grid-3' },
        h('div', null, h('h3', null, 'Drops and ECN marks'), drops.el),
        h('div', null, h('h3', null, 'Backlog'), backlog.el),
        h('div', null, h('h3', null, 'Queue delay'), delay.el, delayNote))),
    h('section', { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', null, 'Flows'), flowsHead), flowsBox));

  let t = null; // the last telemetry answer
  let flows = null;
  let error = null;
  let live = []; // RTT points taken while the page is open
  let queueSince = null;

  const renderSummary = () => {
    if (!t) {
      if (error) mountInto(summary, h('p', { class: 'error-text' }, `Telemetry unavailable: ${error.message}`));
      return;
    }
    mountInto(summary,
      t.measured ? null : h('p', { class: 'muted', testid: 'circuit-unmeasured' },
        'No RTT or flow telemetry for this circuit: its addresses are not mapped in the data plane yet.'),
      h('div', { class: 'stats' },
        stat('Internet RTT (last 10 s)', rttSide(t.rtt?.internet, 'circuit-rtt-internet')),
        stat('Subscriber RTT (last 10 s)', rttSide(t.rtt?.subscriber, 'circuit-rtt-subscriber')),
        stat('Retransmits ↓', retxDir(t.retransmits, 'down', t.gate, 'circuit-retx-down')),
        stat('Retransmits ↑', retxDir(t.retransmits, 'up', t.gate, 'circuit-retx-up')),
        stat(`QoO (${t.qoo?.profile ?? '—'})`, qooText(t.qoo, 'circuit-qoo')),
        stat('Active flows', h('span', { testid: 'circuit-flow-count' }, fmtCount(t.flows)))),
      h('p', { class: 'muted note' },
        'Internet RTT: data toward the Internet and the remote end\'s ACK (the path to the server). ',
        'Subscriber RTT: data toward the subscriber and their ACK (this shaper\'s queue and the last mile). ',
        `Retransmit percentages count once a direction has ${t.gate?.min_packets ?? 100} TCP packets and ${t.gate?.min_retransmits ?? 2} retransmits in the last 10 s.`));
    const q = t.queue ?? {};
    mountInto(queueStats, queueDirStats('Download queue', q.down, 'circuit-queue-down'),
      queueDirStats('Upload queue', q.up, 'circuit-queue-up'));
    const cake = q.down?.peak_delay_us != null || q.up?.peak_delay_us != null;
    delayNote.textContent = cake
      ? 'CAKE\'s peak delay per direction.'
      : `Estimated: the backlog drained at the plan's maximum rate (the ${q.down?.leaf || 'leaf'} queue reports no delay of its own).`;
  };

  const renderFlows = () => {
    if (!flows) return;
    flowsHead.textContent = `${fmtCount(flows.flows.length)} of ${fmtCount(flows.total)} active, busiest first`;
    mountInto(flowsBox, flowsTable(flows.flows, { testid: 'circuit-flows' }));
  };

  const addRtt = (answer) => {
    const now = answer.t_unix;
    live.push(rttPoint(now, answer.rtt?.internet, answer.rtt?.subscriber));
    live = live.filter((p) => p.t_unix > now - WINDOW);
    // Complete 10-s slots from the server, then what this page saw since.
    const slots = (answer.rtt_series ?? []).filter((p) => p.t_unix < now - 1)
      .map((p) => rttPoint(p.t_unix, p.internet, p.subscriber));
    const lastSlot = slots.length ? slots[slots.length - 1].t_unix : -Infinity;
    rtt.setPoints([...slots, ...live.filter((p) => p.t_unix > lastSlot)]);
  };

  // The answer's queue points come by column ({t_unix: [...], down: {drops: [...], ...}});
  // a column the leaf qdisc has no figure for is absent.
  const column = (dir, i) => Object.fromEntries(Object.entries(dir ?? {}).map(([k, v]) => [k, v[i]]));
  const queueRows = (series) => (series?.t_unix ?? []).map((t, i) => ({
    t_unix: t, down: column(series.down, i), up: column(series.up, i),
  }));

  const addQueues = (points) => {
    const p = plan();
    for (const x of points) {
      const d = x.down;
      const u = x.up;
      const row = {
        t_unix: x.t_unix,
        down_drops: d.drops, up_drops: u.drops,
        // Left out of a point when the leaf has no such figure.
        down_marks: d.ecn_marks ?? null, up_marks: u.ecn_marks ?? null,
        down_backlog: d.backlog_bytes, up_backlog: u.backlog_bytes,
        down_delay: delayMs(d, p.down), up_delay: delayMs(u, p.up),
      };
      drops.push(row);
      backlog.push(row);
      delay.push(row);
      queueSince = x.t_unix;
    }
  };

  const load = async () => {
    try {
      const [tel, fl] = await Promise.all([
        get(`/api/circuits/${encodeURIComponent(id)}/telemetry${qs({ queue_since: queueSince })}`),
        get(`/api/circuits/${encodeURIComponent(id)}/flows?limit=50`),
      ]);
      t = tel;
      flows = fl;
      error = null;
      addRtt(tel);
      addQueues(queueRows(tel.queue_history));
    } catch (e) {
      error = e;
    }
    renderSummary();
    renderFlows();
  };
  const stop = poll(load, POLL_MS);

  return {
    el,
    rerender() { renderSummary(); renderFlows(); },
    destroy() { stop(); rtt.destroy(); drops.destroy(); backlog.destroy(); delay.destroy(); },
  };
}

