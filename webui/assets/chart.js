// A small canvas line chart for rates over a sliding time window (own code, no library).
// Points are objects with a time key (Unix seconds) and one numeric key per series.

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
   * windowSecs: how much history is kept and shown.
   */
  constructor({ series, timeKey = 't_unix', windowSecs = 300, height = 220, testid, format = fmtBps }) {
    this.series = series;
    this.timeKey = timeKey;
    this.windowSecs = windowSecs;
    this.height = height;
    this.format = format;
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
    const top = niceCeil(Math.max(max * 1.05, 1000));
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
      g.fillText(fmtBpsShort(v), PAD.left - 6, yy);
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
        if (seg.length > 1) {
          if (si === 0) {
            g.beginPath();
            g.moveTo(seg[0][0], y(0));
            for (const [px, py] of seg) g.lineTo(px, py);
            g.lineTo(seg[seg.length - 1][0], y(0));
            g.closePath();
            g.globalAlpha = 0.12; g.fillStyle = s.color; g.fill(); g.globalAlpha = 1;
          }
          g.beginPath();
          seg.forEach(([px, py], i) => (i ? g.lineTo(px, py) : g.moveTo(px, py)));
          g.stroke();
        }
        seg = [];
      };
      for (const p of this.points) {
        const t = p[tk];
        if (prevT != null && t - prevT > GAP_SECS) flush();
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
