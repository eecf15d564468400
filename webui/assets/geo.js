// Shared by the geo pages: the bundled world outlines (fetched once from lqosd), an
// orthographic projection (the Flow Globe) and Web Mercator (the Site Map), both written here
// (no library), RTT colours, and the dataset attribution the DB-IP licence requires on pages
// that show ASN results. Nothing is ever requested from any host but lqosd.

import { h } from './dom.js';
import { get } from './api.js';

const RAD = Math.PI / 180;

let worldPromise = null;
/** The country outlines: [{code, name, rings: [[lon, lat, ...]]}] (cached for the session). */
export function world() {
  worldPromise ??= get('/api/geo/world').then((w) => w.countries ?? []).catch((e) => {
    worldPromise = null;
    throw e;
  });
  return worldPromise;
}

let aboutPromise = null;
/** /api/about, cached for the session. */
export function about() {
  aboutPromise ??= get('/api/about').catch((e) => {
    aboutPromise = null;
    throw e;
  });
  return aboutPromise;
}

/**
 * Orthographic projection centred on (lon0, lat0), radius r, centre (cx, cy).
 * project(lon, lat) → [x, y, visible].
 */
export function orthographic({ lon0, lat0, r, cx, cy }) {
  const l0 = lon0 * RAD;
  const p0 = lat0 * RAD;
  const sinP0 = Math.sin(p0);
  const cosP0 = Math.cos(p0);
  return (lon, lat) => {
    const l = lon * RAD - l0;
    const p = lat * RAD;
    const cosP = Math.cos(p);
    const x = cosP * Math.sin(l);
    const y = cosP0 * Math.sin(p) - sinP0 * cosP * Math.cos(l);
    const visible = sinP0 * Math.sin(p) + cosP0 * cosP * Math.cos(l) >= 0;
    return [cx + r * x, cy - r * y, visible];
  };
}

/** Web Mercator: lon/lat → world pixels at `scale` (256 × 2^zoom). */
export function mercator(lon, lat, scale) {
  const clamped = Math.max(-85.05, Math.min(85.05, lat));
  const x = ((lon + 180) / 360) * scale;
  const s = Math.sin(clamped * RAD);
  const y = (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale;
  return [x, y];
}

/** The inverse of `mercator`. */
export function unmercator(x, y, scale) {
  const lon = (x / scale) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / scale;
  const lat = Math.atan(Math.sinh(n)) / RAD;
  return [lon, lat];
}

/** RTT (ms) → colour: green under 30 ms, amber to 100 ms, red beyond, grey unknown. */
export function rttColor(ms) {
  if (ms == null || !Number.isFinite(ms)) return '#98a2b3';
  if (ms < 30) return '#2f9e44';
  if (ms < 60) return '#94c11f';
  if (ms < 100) return '#f59f00';
  if (ms < 200) return '#e8590c';
  return '#c92a2a';
}

/** Utilisation (0..1+) → colour. */
export function utilColor(f) {
  if (f == null || !Number.isFinite(f)) return '#98a2b3';
  if (f < 0.5) return '#2f9e44';
  if (f < 0.8) return '#f59f00';
  if (f < 1) return '#e8590c';
  return '#c92a2a';
}

/** A legend: [[colour, label], ...]. */
export function legend(items, testid) {
  return h('div', { class: 'legend', testid }, items.map(([c, label]) =>
    h('span', { class: 'legend-item' }, h('span', { class: 'swatch', style: { background: c } }), label)));
}

export const RTT_LEGEND = [['#2f9e44', '< 30 ms'], ['#94c11f', '< 60 ms'], ['#f59f00', '< 100 ms'],
  ['#e8590c', '< 200 ms'], ['#c92a2a', '≥ 200 ms'], ['#98a2b3', 'no RTT']];

/** A canvas sized to its box and the screen's pixel ratio; returns {canvas, ctx, w, h}. */
export function fitCanvas(canvas, heightPx) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(200, canvas.parentElement?.clientWidth || 600);
  const hgt = heightPx;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(hgt * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(hgt * ratio);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${hgt}px`;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, w, h: hgt };
}

/**
 * The manifest's `attribution_html` as DOM nodes: its `<a href='https://…'>text</a>` become
 * links, any other markup is dropped, the rest stays text (never parsed as HTML).
 */
export function attributionNodes(html) {
  const out = [];
  const re = /<a href='([^']+)'>([^<]*)<\/a>/g;
  let last = 0;
  const text = (t) => t.replace(/<[^>]*>/g, '');
  for (let m = re.exec(html ?? ''); m; m = re.exec(html)) {
    out.push(text(html.slice(last, m.index)));
    out.push(/^https:\/\//.test(m[1])
      ? h('a', { href: m[1], target: '_blank', rel: 'noopener noreferrer' }, m[2]) : m[2]);
    last = re.lastIndex;
  }
  out.push(text((html ?? '').slice(last)));
  return out.filter((x) => x !== '');
}

/**
 * The attribution line the datasets' licences ask for on `pageId` (e.g. the DB-IP link on
 * the ASN and globe pages). Filled in when /api/about answers; empty if nothing is required.
 */
export function attribution(pageId) {
  const el = h('p', { class: 'attribution muted', testid: 'attribution' });
  about().then((a) => {
    const sets = a.datasets?.datasets ?? [];
    const needed = sets.filter((d) => (d.pages_requiring_link ?? []).includes(pageId));
    if (!needed.length) return;
    el.append(...needed.flatMap((d, i) => [i ? ' · ' : null, ...attributionNodes(d.attribution_html)]).filter(Boolean),
      ' · ', h('a', { href: '#/about' }, 'datasets and licences'));
  }).catch(() => {
    el.append('Dataset attributions: ', h('a', { href: '#/about' }, 'About'));
  });
  return el;
}
