// Flow Globe: the remote ends of the last 15 minutes' flows at their country's centroid on an
// orthographic globe (canvas, projection in geo.js), sized by bytes and coloured by median
// RTT; drag to rotate, wheel to zoom; the list by country beside it (/api/geo/countries).

import { h, patch, table, card, errorBox } from '../dom.js';
import { get, poll } from '../api.js';
import { fmtBytes, fmtCount } from '../format.js';
import { pii } from '../privacy.js';
import { world, orthographic, fitCanvas, rttColor, legend, RTT_LEGEND, attribution } from '../geo.js';

const HEIGHT = 520;

export function mount(root) {
  const canvas = h('canvas', { testid: 'globe-canvas', class: 'map-canvas', 'data-keep': true });
  const listSlot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const status = h('p', { class: 'muted', testid: 'globe-status' });
  const page = h('div', { class: 'page', testid: 'page-globe' },
    h('div', { class: 'page-head' }, h('h1', null, 'Flow Globe'),
      h('span', { class: 'muted' }, 'Drag to turn, wheel to zoom.')),
    h('div', { class: 'map-layout' },
      h('div', { class: 'map-box' }, canvas, legend(RTT_LEGEND, 'globe-legend'), status),
      h('div', { class: 'map-side' }, card('By country (15 min)', listSlot))),
    attribution('flow-globe'));
  root.append(page);

  const view = { lon0: 10, lat0: 25, zoom: 1 };
  let outlines = [];
  let countries = [];
  let error = null;
  let points = []; // drawn points, for hover titles and tests: {x, y, r, c}
  let frame = 0;

  const draw = () => {
    frame = 0;
    const { ctx, w, h: ht } = fitCanvas(canvas, HEIGHT);
    const r = (Math.min(w, ht) / 2 - 8) * view.zoom;
    const proj = orthographic({ lon0: view.lon0, lat0: view.lat0, r, cx: w / 2, cy: ht / 2 });
    ctx.clearRect(0, 0, w, ht);
    ctx.beginPath();
    ctx.arc(w / 2, ht / 2, r, 0, 2 * Math.PI);
    ctx.fillStyle = '#eaf2fb';
    ctx.fill();
    ctx.strokeStyle = '#b9cbe0';
    ctx.stroke();
    ctx.save();
    ctx.clip();
    // Graticule every 30°.
    ctx.strokeStyle = '#d6e2f0';
    ctx.lineWidth = 0.6;
    for (let lon = -180; lon < 180; lon += 30) line(ctx, proj, (t) => [lon, -90 + t * 180]);
    for (let lat = -60; lat <= 60; lat += 30) line(ctx, proj, (t) => [-180 + t * 360, lat]);
    // Countries.
    ctx.fillStyle = '#f7f7f2';
    ctx.strokeStyle = '#a3abb6';
    ctx.lineWidth = 0.5;
    for (const c of outlines) for (const ring of c.rings) polygon(ctx, proj, ring);
    // Points: area by bytes.
    const max = Math.max(1, ...countries.map((c) => c.bytes_down + c.bytes_up));
    points = [];
    for (const c of countries) {
      if (!c.centroid) continue;
      const [x, y, vis] = proj(c.centroid[0], c.centroid[1]);
      if (!vis) continue;
      const pr = 4 + 22 * Math.sqrt((c.bytes_down + c.bytes_up) / max);
      ctx.beginPath();
      ctx.arc(x, y, pr, 0, 2 * Math.PI);
      ctx.fillStyle = rttColor(c.rtt_median_ms);
      ctx.globalAlpha = 0.75;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 1.5;
      ctx.stroke();
      points.push({ x, y, r: pr, c });
    }
    ctx.restore();
    // What is drawn, for the page's tests and screen readers.
    canvas.dataset.points = points.map((p) => p.c.country).join(',');
    canvas.setAttribute('aria-label', `Globe with ${points.length} countries: ${canvas.dataset.points}`);
    status.textContent = `${fmtCount(countries.length)} countries, ${fmtCount(points.length)} on this side of the globe`;
  };
  const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };

  // Rotate by drag, zoom by wheel.
  let drag = null;
  canvas.addEventListener('pointerdown', (e) => {
    drag = { x: e.clientX, y: e.clientY, lon0: view.lon0, lat0: view.lat0 };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag) {
      const b = canvas.getBoundingClientRect();
      const hit = points.find((p) => Math.hypot(p.x - (e.clientX - b.left), p.y - (e.clientY - b.top)) <= p.r);
      canvas.title = hit ? `${hit.c.name ?? hit.c.country}: ${fmtBytes(hit.c.bytes_down + hit.c.bytes_up)}, ${fmtCount(hit.c.active_flows)} flows, RTT ${hit.c.rtt_median_ms == null ? '—' : `${Math.round(hit.c.rtt_median_ms)} ms`}` : '';
      return;
    }
    const k = 0.4 / view.zoom;
    view.lon0 = drag.lon0 - (e.clientX - drag.x) * k;
    view.lat0 = Math.max(-89, Math.min(89, drag.lat0 + (e.clientY - drag.y) * k));
    redraw();
  });
  canvas.addEventListener('pointerup', () => { drag = null; });
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    view.zoom = Math.max(0.6, Math.min(8, view.zoom * (e.deltaY < 0 ? 1.15 : 1 / 1.15)));
    redraw();
  }, { passive: false });
  const onResize = () => redraw();
  window.addEventListener('resize', onResize);

  const renderList = () => {
    if (error && !countries.length) { listSlot.replaceChildren(errorBox(error)); return; }
    const fresh = h('div', null, table({
      testid: 'globe-countries',
      rows: countries,
      empty: 'No flows with a known country in the last 15 minutes.',
      cls: 'clickable',
      rowAttrs: (c) => ({ 'data-country': c.country ?? '' }),
      columns: [
        { label: 'Country', cell: (c) => (c.country ? `${c.name ?? c.country} (${c.country})` : 'Unknown') },
        { label: 'Bytes', cls: 'num', cell: (c) => fmtBytes(c.bytes_down + c.bytes_up) },
        { label: 'Flows', cls: 'num', cell: (c) => fmtCount(c.active_flows) },
        { label: 'RTT', cls: 'num', cell: (c) => h('span', { class: 'rtt' }, h('span', { class: 'dot', style: { background: rttColor(c.rtt_median_ms) } }), c.rtt_median_ms == null ? '—' : `${Math.round(c.rtt_median_ms)} ms`) },
        { label: 'Most affected', cell: (c) => (c.top_circuits?.[0] ? pii(c.top_circuits[0].name ?? c.top_circuits[0].circuit_id) : '—') },
      ],
    }), error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (listSlot.querySelector('table')) patch(listSlot, fresh); else listSlot.replaceChildren(...fresh.childNodes);
  };
  // A click on a row turns the globe to that country.
  listSlot.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-country]');
    const c = countries.find((x) => x.country === tr?.dataset.country);
    if (c?.centroid) { view.lon0 = c.centroid[0]; view.lat0 = c.centroid[1]; redraw(); }
  });

  world().then((w) => { outlines = w; redraw(); }).catch((e) => { error = e; renderList(); });
  const stop = poll(async () => {
    try {
      const d = await get('/api/geo/countries');
      countries = d.countries ?? [];
      error = null;
    } catch (e) { error = e; }
    renderList();
    redraw();
  }, 5000);
  return {
    destroy: () => { stop(); window.removeEventListener('resize', onResize); if (frame) cancelAnimationFrame(frame); },
    rerender: () => { renderList(); redraw(); },
  };
}

/** A projected line (t from 0 to 1), broken where it goes behind the globe. */
function line(ctx, proj, at) {
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i <= 90; i++) {
    const [lon, lat] = at(i / 90);
    const [x, y, vis] = proj(lon, lat);
    if (!vis) { pen = false; continue; }
    if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    pen = true;
  }
  ctx.stroke();
}

/**
 * A country ring: filled when all of it is on the visible side; near the edge of the globe
 * only its visible stretches are outlined (hidden points would fold back onto the disk).
 */
function polygon(ctx, proj, ring) {
  const pts = [];
  let all = true;
  let any = false;
  for (let i = 0; i < ring.length; i += 2) {
    const p = proj(ring[i], ring[i + 1]);
    pts.push(p);
    all &&= p[2];
    any ||= p[2];
  }
  if (!any) return;
  ctx.beginPath();
  if (all) {
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.fill();
  } else {
    let pen = false;
    for (const [x, y, vis] of pts) {
      if (!vis) { pen = false; continue; }
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    }
  }
  ctx.stroke();
}
