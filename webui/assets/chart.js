// Small canvas charts (own code, no library): a line chart for values over a sliding time
// window (points are objects with a time key, Unix seconds, and one numeric key per series; a
// null value is a gap), and a bar chart of a histogram.

import { h } from './dom.js';
import { fmtBps, fmtBpsShort, fmtTime } from './format.js';

const PAD = { left: 58, right: 12, top: 10, bottom: 22 };
const GAP_SECS = 3.5; // a longer pause between points breaks the line

/** 1, 2, 5 × 10^n at or above v. */
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export class LineChart {
  /**
   * series: [{key, label, color}], timeKey: name of the time field,
   * windowSecs: how much history is kept and shown; format: a value for the tooltip,
   * axisFormat: for the y axis, minTop: the least y-axis maximum, gapSecs: a longer pause
   * between points breaks the line, fill: the first series is filled below its line. A series
   * may have `dash` (a canvas line dash, e.g. [4, 3]).
   */
  constructor({ series, timeKey = 't_unix', windowSecs = 300, height = 220, testid, format = fmtBps,
    axisFormat = fmtBpsShort, minTop = 1000, gapSecs = GAP_SECS, fill = true }) {
    this.fill = fill;
    this.series = series;
    this.timeKey = timeKey;
    this.windowSecs = windowSecs;
    this.height = height;
    this.format = format;
    this.axisFormat = axisFormat;
    this.minTop = minTop;
    this.gapSecs = gapSecs;
    this.points = [];
    this.hoverX = null;
    this.canvas = h('canvas', { class: 'chart-canvas', testid, role: 'img',
      'aria-label': series.map((s) => s.label).join(' and ') + ' over time' });
    this.canvas.style.height = `${height}px`;
    const legend = h('div', { class: 'chart-legend' }, series.map((s) => {
      const swatch = h('span', { class: 'swatch' });
      swatch.style.background = s.color;
      return h('span', null, swatch, s.label);
    }));
    this.el = h('div', { class: 'chart' }, legend, this.canvas);
    this.canvas.addEventListener('mousemove', (e) => {
      this.hoverX = e.offsetX;
      this.draw();
    });
    this.canvas.addEventListener('mouseleave', () => { this.hoverX = null; this.draw(); });
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.canvas);
  }

  /** Replaces every point (e.g. from a `history` array, oldest first). */
  setPoints(points) {
    this.points = [...(points ?? [])].sort((a, b) => a[this.timeKey] - b[this.timeKey]);
    this.trim();
    this.draw();
  }

  /** Adds one point; a point with the same time replaces the last one. */
  push(point) {
    const t = point[this.timeKey];
    const last = this.points[this.points.length - 1];
    if (last && t < last[this.timeKey]) return;
    if (last && t === last[this.timeKey]) this.points[this.points.length - 1] = point;
    else this.points.push(point);
    this.trim();
    this.draw();
  }

  lastTime() {
    const last = this.points[this.points.length - 1];
    return last ? last[this.timeKey] : null;
  }

  trim() {
    const end = this.lastTime();
    if (end == null) return;
    const start = end - this.windowSecs;
    let i = 0;
    while (i < this.points.length && this.points[i][this.timeKey] < start) i++;
    if (i) this.points.splice(0, i);
    this.canvas.dataset.points = String(this.points.length);
  }

  destroy() { this.resize.disconnect(); cancelAnimationFrame(this.frame); }

  draw() {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.paint());
  }

  paint() {
    const c = this.canvas;
    const w = c.clientWidth;
    const hgt = this.height;
    if (!w) return;
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.font = '11px system-ui, sans-serif';

    const tk = this.timeKey;
    const end = this.lastTime() ?? Date.now() / 1000;
    const start = end - this.windowSecs;
    let max = 0;
    for (const p of this.points) for (const s of this.series) max = Math.max(max, Number(p[s.key]) || 0);
    const top = niceCeil(Math.max(max * 1.05, this.minTop));
    const plotW = w - PAD.left - PAD.right;
    const plotH = hgt - PAD.top - PAD.bottom;
    const x = (t) => PAD.left + ((t - start) / this.windowSecs) * plotW;
    const y = (v) => PAD.top + plotH - (Math.max(0, v) / top) * plotH;

    // Grid and axes.
    g.strokeStyle = '#e2e6ea';
    g.fillStyle = '#5f6b76';
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(PAD.left, yy); g.lineTo(w - PAD.right, yy); g.stroke();
      g.fillText(this.axisFormat(v), PAD.left - 6, yy);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const step = this.windowSecs >= 240 ? 60 : 30;
    for (let ago = 0; ago <= this.windowSecs; ago += step) {
      const xx = x(end - ago);
      g.fillText(ago === 0 ? 'now' : `-${ago >= 60 ? `${ago / 60} min` : `${ago} s`}`, xx, hgt - PAD.bottom + 6);
    }

    // Lines: the first series gets a light fill.
    this.series.forEach((s, si) => {
      g.strokeStyle = s.color;
      g.lineWidth = 1.6;
      let prevT = null;
      let seg = [];
      const flush = () => {
        if (seg.length === 1) { // a lone point: a dot
          g.fillStyle = s.color;
          g.beginPath(); g.arc(seg[0][0], seg[0][1], 2, 0, 2 * Math.PI); g.fill();
        }
        if (seg.length > 1) {
          if (si === 0 && this.fill !== false) {
            g.beginPath();
            g.moveTo(seg[0][0], y(0));
            for (const [px, py] of seg) g.lineTo(px, py);
            g.lineTo(seg[seg.length - 1][0], y(0));
            g.closePath();
            g.globalAlpha = 0.12; g.fillStyle = s.color; g.fill(); g.globalAlpha = 1;
          }
          g.beginPath();
          seg.forEach(([px, py], i) => (i ? g.lineTo(px, py) : g.moveTo(px, py)));
          g.setLineDash(s.dash ?? []);
          g.stroke();
          g.setLineDash([]);
        }
        seg = [];
      };
      for (const p of this.points) {
        const t = p[tk];
        if (p[s.key] == null) { flush(); prevT = null; continue; }
        if (prevT != null && t - prevT > this.gapSecs) flush();
        seg.push([x(t), y(Number(p[s.key]) || 0)]);
        prevT = t;
      }
      flush();
    });

    if (!this.points.length) {
      g.fillStyle = '#5f6b76';
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText('waiting for data…', PAD.left + plotW / 2, PAD.top + plotH / 2);
    }
    this.paintHover(g, x, y, w);
  }

  paintHover(g, x, y, w) {
    if (this.hoverX == null || !this.points.length) return;
    let best = null;
    let bestD = Infinity;
    for (const p of this.points) {
      const d = Math.abs(x(p[this.timeKey]) - this.hoverX);
      if (d < bestD) { bestD = d; best = p; }
    }
    if (!best || bestD > 30) return;
    const xx = Math.round(x(best[this.timeKey])) + 0.5;
    g.strokeStyle = '#98a2ad';
    g.beginPath(); g.moveTo(xx, PAD.top); g.lineTo(xx, this.height - PAD.bottom); g.stroke();
    const lines = [fmtTime(best[this.timeKey]).slice(11),
      ...this.series.map((s) => `${s.label}: ${this.format(best[s.key])}`)];
    const boxW = Math.max(...lines.map((l) => g.measureText(l).width)) + 12;
    const boxH = lines.length * 15 + 8;
    const bx = xx + 8 + boxW > w ? xx - 8 - boxW : xx + 8;
    g.fillStyle = 'rgba(255,255,255,0.94)';
    g.strokeStyle = '#c5ccd3';
    g.fillRect(bx, PAD.top, boxW, boxH);
    g.strokeRect(bx + 0.5, PAD.top + 0.5, boxW, boxH);
    g.textAlign = 'left';
    g.textBaseline = 'top';
    lines.forEach((l, i) => {
      g.fillStyle = i === 0 ? '#5f6b76' : this.series[i - 1].color;
      g.fillText(l, bx + 6, PAD.top + 5 + i * 15);
    });
    for (const s of this.series) {
      if (best[s.key] == null) continue;
      g.fillStyle = s.color;
      g.beginPath(); g.arc(xx, y(Number(best[s.key]) || 0), 3, 0, 2 * Math.PI); g.fill();
    }
  }
}

export const DOWN_COLOR = '#2563eb';
export const UP_COLOR = '#d9480f';

/** The usual download/upload pair for `{t_unix, down_bps, up_bps}` points. */
export const rateChart = (testid) => new LineChart({
  testid,
  series: [
    { key: 'down_bps', label: 'Download', color: DOWN_COLOR },
    { key: 'up_bps', label: 'Upload', color: UP_COLOR },
  ],
});

/**
 * Bars of one or more histograms over the same buckets, side by side per bucket. `labels`:
 * one per bucket (e.g. upper edges), `series`: [{label, color, counts}], set with `set()`.
 * The canvas carries `data-total` (every count) for tests.
 */
export class HistogramChart {
  constructor({ testid, height = 200, unit = '', ariaLabel = 'histogram' }) {
    this.height = height;
    this.unit = unit;
    this.labels = [];
    this.series = [];
    this.hover = null;
    this.canvas = h('canvas', { class: 'chart-canvas', testid, role: 'img', 'aria-label': ariaLabel });
    this.canvas.style.height = `${height}px`;
    this.legend = h('div', { class: 'chart-legend' });
    this.el = h('div', { class: 'chart' }, this.legend, this.canvas);
    this.canvas.addEventListener('mousemove', (e) => { this.hover = e.offsetX; this.draw(); });
    this.canvas.addEventListener('mouseleave', () => { this.hover = null; this.draw(); });
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.canvas);
  }

  set(labels, series) {
    this.labels = labels;
    this.series = series;
    const total = series.reduce((a, s) => a + s.counts.reduce((x, y) => x + (Number(y) || 0), 0), 0);
    this.canvas.dataset.total = String(total);
    this.legend.replaceChildren(...series.map((s) => {
      const swatch = h('span', { class: 'swatch' });
      swatch.style.background = s.color;
      return h('span', null, swatch, s.label);
    }));
    this.draw();
  }

  destroy() { this.resize.disconnect(); cancelAnimationFrame(this.frame); }

  draw() {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.paint());
  }

  paint() {
    const c = this.canvas;
    const w = c.clientWidth;
    const hgt = this.height;
    if (!w) return;
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    g.font = '11px system-ui, sans-serif';
    const pad = { left: 46, right: 8, top: 10, bottom: 30 };
    const n = this.labels.length;
    const plotW = w - pad.left - pad.right;
    const plotH = hgt - pad.top - pad.bottom;
    let max = 0;
    for (const s of this.series) for (const v of s.counts) max = Math.max(max, Number(v) || 0);
    const top = niceCeil(Math.max(max, 1));
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    g.strokeStyle = '#e2e6ea';
    g.fillStyle = '#5f6b76';
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(pad.left, yy); g.lineTo(w - pad.right, yy); g.stroke();
      g.fillText(Number.isInteger(v) ? String(v) : v.toFixed(1), pad.left - 6, yy);
    }
    if (!n || !max) {
      g.textAlign = 'center';
      g.fillText('no samples in the last 10 s', pad.left + plotW / 2, pad.top + plotH / 2);
      return;
    }
    const slot = plotW / n;
    const barW = Math.max(1, (slot - 2) / Math.max(1, this.series.length));
    this.series.forEach((s, si) => {
      g.fillStyle = s.color;
      s.counts.forEach((v, i) => {
        const val = Number(v) || 0;
        if (!val) return;
        const x0 = pad.left + i * slot + 1 + si * barW;
        g.fillRect(x0, y(val), barW, pad.top + plotH - y(val));
      });
    });
    g.fillStyle = '#5f6b76';
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const every = Math.ceil(n / Math.max(1, Math.floor(plotW / 34)));
    this.labels.forEach((l, i) => {
      if (i % every) return;
      g.fillText(l, pad.left + (i + 0.5) * slot, hgt - pad.bottom + 4);
    });
    g.fillText(this.unit, pad.left + plotW / 2, hgt - pad.bottom + 16);
    if (this.hover != null) {
      const i = Math.floor((this.hover - pad.left) / slot);
      if (i >= 0 && i < n) {
        const lines = [`${this.labels[i]} ${this.unit}`, ...this.series.map((s) => `${s.label}: ${s.counts[i] ?? 0}`)];
        const boxW = Math.max(...lines.map((l) => g.measureText(l).width)) + 12;
        const bx = Math.min(this.hover + 8, w - boxW - 2);
        g.fillStyle = 'rgba(255,255,255,0.94)';
        g.strokeStyle = '#c5ccd3';
        g.fillRect(bx, pad.top, boxW, lines.length * 15 + 8);
        g.strokeRect(bx + 0.5, pad.top + 0.5, boxW, lines.length * 15 + 8);
        g.textAlign = 'left';
        lines.forEach((l, j) => {
          g.fillStyle = j === 0 ? '#5f6b76' : this.series[j - 1].color;
          g.fillText(l, bx + 6, pad.top + 5 + j * 15);
        });
      }
    }
  }
}
