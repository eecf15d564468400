// Showing flow telemetry: RTT per side (never averaged together), retransmits with their
// significance gate, QoO, and flow endpoints under privacy mode. Used by the circuit page, the
// dashboard and the tree.

import { h } from './dom.js';
import { isPrivate, MASK } from './privacy.js';

/** 21.34 → "21.3 ms", 0.42 → "0.42 ms", null → "—". */
export function fmtRtt(ms) {
  if (ms == null || !Number.isFinite(Number(ms))) return '—';
  const v = Number(ms);
  const digits = v < 1 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ms`;
}

/** Axis labels: "20 ms". */
export const fmtRttAxis = (ms) => `${Number(ms.toFixed(ms < 10 ? 1 : 0))} ms`;

/** Retransmits per 100 TCP packets: "0.42 %". */
export function fmtRetxPct(p) {
  if (p == null || !Number.isFinite(Number(p))) return '—';
  const v = Number(p);
  return `${v.toFixed(v < 10 ? 2 : 1)} %`;
}

/**
 * One side's RTT as "p50 21.3 ms · p90 24.0 ms" (`side`: an RttSideView), with the sample
 * count in the title; "no samples" without any.
 */
export function rttSide(side, testid) {
  if (!side || side.p50_ms == null) {
    return h('span', { class: 'muted', testid, dataset: { samples: '0' },
      title: 'No RTT sample in the last 10 s (TCP flows with timestamps give them)' }, 'no samples');
  }
  return h('span', { testid, dataset: { samples: String(side.samples ?? 0), p50: String(side.p50_ms), p90: String(side.p90_ms) },
    title: `${side.samples} samples in the last 10 s; 5 min: p50 ${fmtRtt(side.p50_5m_ms)}, p90 ${fmtRtt(side.p90_5m_ms)} (${side.samples_5m ?? 0} samples)` },
  h('span', { class: 'muted' }, 'p50 '), fmtRtt(side.p50_ms),
  h('span', { class: 'muted' }, ' · p90 '), fmtRtt(side.p90_ms));
}

/** "21.3 / 24.0" for a table cell (p50 / p90), or "—". */
export function rttCell(side) {
  if (!side || side.p50_ms == null) return h('span', { class: 'muted' }, '—');
  return h('span', { title: `p50 / p90 over ${side.samples} samples, last 10 s` },
    `${fmtRtt(side.p50_ms).replace(' ms', '')} / ${fmtRtt(side.p90_ms)}`);
}

/**
 * One direction of retransmits (`r`: a RetransmitView, `dir`: 'down' | 'up', `gate`: the
 * {min_packets, min_retransmits} gate). Below the gate the figure is greyed and says why.
 */
export function retxDir(r, dir, gate, testid, { compact = false } = {}) {
  const pct = r?.[dir] ?? 0;
  const packets = r?.[`${dir}_packets`] ?? 0;
  const significant = Boolean(r?.[`significant_${dir}`]);
  const minPackets = gate?.min_packets ?? 100;
  const minRetx = gate?.min_retransmits ?? 2;
  const why = packets < minPackets
    ? `too few packets (${packets} < ${minPackets})`
    : `fewer than ${minRetx} retransmits`;
  return h('span', {
    testid,
    class: significant ? 'retx significant' : 'retx insignificant',
    dataset: { significant: String(significant), packets: String(packets) },
    title: significant
      ? `${fmtRetxPct(pct)} of ${packets} TCP packets in the last 10 s`
      : `Not significant: ${why} in the last 10 s (the gate: ${minPackets} TCP packets and ${minRetx} retransmits)`,
  }, fmtRetxPct(pct), significant || compact ? null
    : h('span', { class: 'gate-note' }, ` · ${packets < minPackets ? 'too few packets' : 'below the gate'}`));
}

/** The QoO score, 0-100, with the per-side scores, or why there is none. */
export function qooText(q, testid) {
  if (!q) return h('span', { testid, class: 'muted' }, '—');
  if (q.excluded) return h('span', { testid, class: 'muted', dataset: { state: 'excluded' }, title: 'The operator excluded this circuit from QoO ([flows] qoo_exclude_circuits)' }, 'excluded');
  if (q.score == null) return h('span', { testid, class: 'muted', dataset: { state: 'none' }, title: 'QoO needs at least 5 RTT samples on a side over 5 minutes' }, 'not enough samples');
  const cls = q.score >= 80 ? 'ok-text' : q.score >= 50 ? 'warn-text' : 'error-text';
  return h('span', { testid, dataset: { state: 'scored', score: String(q.score) },
    title: `Quality of Outcome (draft-ietf-ippm-qoo), profile ${q.profile}: the lower of the sides` },
  h('span', { class: cls }, String(q.score)),
  h('span', { class: 'muted' }, ` (internet ${q.internet ?? '—'}, subscriber ${q.subscriber ?? '—'})`));
}

/**
 * A flow endpoint "ip:port" / "[v6]:port": shown as is, or in privacy mode with the address
 * masked and the port kept ("•••••:443").
 */
export function endpoint(text) {
  if (text == null || text === '') return '';
  if (!isPrivate()) return String(text);
  const m = String(text).match(/:(\d+)$/);
  return m ? `${MASK}:${m[1]}` : MASK;
}
