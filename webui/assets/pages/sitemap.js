// Site Map: network.json nodes with latitude/longitude (APs at their site's position) on a
// Web Mercator map of the bundled country outlines, coloured by utilisation or RTT and sized
// by throughput; nodes closer than a few pixels are drawn as one cluster with a count (zoom
// in to split them). Drag to pan, wheel to zoom. With `[geo] tile_url` set, the operator's
// own street tiles are drawn underneath; otherwise nothing but lqosd is ever asked.

import { h, patch, table, card, errorBox } from '../dom.js';
import { get, poll } from '../api.js';
import { fmtBps, fmtCount } from '../format.js';
import { pii, isPrivate, MASK } from '../privacy.js';
import { world, mercator, unmercator, fitCanvas, rttColor, utilColor, legend, RTT_LEGEND } from '../geo.js';

const HEIGHT = 520;
const CLUSTER_PX = 22;
const UTIL_LEGEND = [['#2f9e44', '< 50 %'], ['#f59f00', '< 80 %'], ['#e8590c', '< 100 %'], ['#c92a2a', '≥ 100 %']];

export function mount(root) {
  const canvas = h('canvas', { testid: 'sitemap-canvas', class: 'map-canvas', 'data-keep': true });
  let colourBy = 'util';
  const legendSlot = h('div');
  const modes = h('div', { class: 'tabs', testid: 'sitemap-colour' });
  const status = h('p', { class: 'muted', testid: 'sitemap-status' });
  const listSlot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const page = h('div', { class: 'page', testid: 'page-sitemap' },
    h('div', { class: 'page-head' }, h('h1', null, 'Site Map'), h('span', { class: 'grow' }), modes),
    h('div', { class: 'map-layout' },
      h('div', { class: 'map-box' }, canvas, legendSlot, status),
      h('div', { class: 'map-side' }, card('Sites on the map', listSlot))));
  root.append(page);

  let data = null; let error = null; let outlines = [];
  const view = { lon: 0, lat: 20, zoom: 1.3 };
  const tiles = new Map(); // "z/x/y" → Image (only with a tile_url)
  let fitted = false;
  let frame = 0;
  let drawn = []; // {x, y, r, nodes}

  const scaleOf = () => 256 * 2 ** view.zoom;
  const toScreen = (lon, lat, w, ht) => {
    const s = scaleOf();
    const [cx, cy] = mercator(view.lon, view.lat, s);
    const [x, y] = mercator(lon, lat, s);
    return [x - cx + w / 2, y - cy + ht / 2];
  };

  const fit = (w, ht) => {
    const nodes = data?.nodes ?? [];
    if (!nodes.length) return;
    const lats = nodes.map((n) => n.lat); const lons = nodes.map((n) => n.lon);
    const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
    view.lat = (minLat + maxLat) / 2;
    view.lon = (minLon + maxLon) / 2;
    // The zoom that fits the spread (at most street level, at least the world).
    const spanX = Math.max(maxLon - minLon, 0.02) / 360;
    const spanY = Math.max(maxLat - minLat, 0.02) / 170;
    view.zoom = Math.max(1, Math.min(14, Math.log2(Math.min(w / (256 * spanX), ht / (256 * spanY)) * 0.6)));
    fitted = true;
  };

  const tileImage = (z, x, y) => {
    const key = `${z}/${x}/${y}`;
    let img = tiles.get(key);
    if (!img) {
      img = new Image();
      img.onload = () => redraw();
      img.src = data.tile_url.replace('{z}', z).replace('{x}', x).replace('{y}', y);
      tiles.set(key, img);
      if (tiles.size > 400) tiles.delete(tiles.keys().next().value);
    }
    return img.complete && img.naturalWidth ? img : null;
  };

  const draw = () => {
    frame = 0;
    const { ctx, w, h: ht } = fitCanvas(canvas, HEIGHT);
    if (!fitted && data) fit(w, ht);
    ctx.fillStyle = '#eaf2fb';
    ctx.fillRect(0, 0, w, ht);
    if (data?.tile_url) {
      const z = Math.max(0, Math.min(19, Math.round(view.zoom)));
      const s = scaleOf(); const ts = s / 2 ** z; const n = 2 ** z;
      const [cx, cy] = mercator(view.lon, view.lat, s);
      const x0 = Math.floor((cx - w / 2) / ts); const y0 = Math.floor((cy - ht / 2) / ts);
      for (let tx = x0; tx * ts < cx + w / 2; tx++) {
        for (let ty = Math.max(0, y0); ty * ts < cy + ht / 2 && ty < n; ty++) {
          const img = tileImage(z, ((tx % n) + n) % n, ty);
          if (img) ctx.drawImage(img, tx * ts - cx + w / 2, ty * ts - cy + ht / 2, ts, ts);
        }
      }
    } else {
      ctx.fillStyle = '#f7f7f2';
      ctx.strokeStyle = '#a3abb6';
      ctx.lineWidth = 0.6;
      for (const c of outlines) {
        for (const ring of c.rings) {
          ctx.beginPath();
          for (let i = 0; i < ring.length; i += 2) {
            const [x, y] = toScreen(ring[i], ring[i + 1], w, ht);
            if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
          }
          ctx.closePath();
          ctx.fill();
          ctx.stroke();
        }
      }
    }
    // Cluster the nodes on screen: greedy, busiest first.
    const nodes = [...(data?.nodes ?? [])].sort((a, b) => (b.down_bps + b.up_bps) - (a.down_bps + a.up_bps));
    const clusters = [];
    for (const n of nodes) {
      const [x, y] = toScreen(n.lon, n.lat, w, ht);
      if (x < -40 || y < -40 || x > w + 40 || y > ht + 40) continue;
      const hit = clusters.find((c) => Math.hypot(c.x - x, c.y - y) < CLUSTER_PX);
      if (hit) hit.nodes.push(n); else clusters.push({ x, y, nodes: [n] });
    }
    const max = Math.max(1, ...nodes.map((n) => n.down_bps + n.up_bps));
    drawn = [];
    for (const c of clusters) {
      const bps = c.nodes.reduce((s, n) => s + n.down_bps + n.up_bps, 0);
      const r = 6 + 14 * Math.sqrt(Math.min(1, bps / max));
      const worst = colourBy === 'rtt'
        ? c.nodes.reduce((m, n) => Math.max(m, n.rtt_internet_ms ?? -1), -1)
        : c.nodes.reduce((m, n) => Math.max(m, n.utilization ?? 0), 0);
      ctx.beginPath();
      ctx.arc(c.x, c.y, r, 0, 2 * Math.PI);
      ctx.fillStyle = colourBy === 'rtt' ? rttColor(worst < 0 ? null : worst) : utilColor(worst);
      ctx.fill();
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.fillStyle = '#1f2937';
      ctx.font = '12px system-ui, sans-serif';
      if (c.nodes.length > 1) {
        ctx.fillStyle = '#fff';
        ctx.textAlign = 'center';
        ctx.fillText(String(c.nodes.length), c.x, c.y + 4);
      } else {
        ctx.textAlign = 'left';
        ctx.fillText(isPrivate() ? MASK : c.nodes[0].name, c.x + r + 3, c.y + 4);
      }
      drawn.push({ x: c.x, y: c.y, r, nodes: c.nodes });
    }
    canvas.dataset.clusters = String(drawn.length);
    canvas.dataset.nodes = String(drawn.reduce((s, c) => s + c.nodes.length, 0));
    status.textContent = data ? `${fmtCount(data.located)} of ${fmtCount(data.nodes_total)} nodes have a position; ${fmtCount(drawn.length)} marks at this zoom`
      + (data.tile_url ? ' · street tiles from the configured tile server' : ' · country outlines: Natural Earth') : '';
  };
  const redraw = () => { if (!frame) frame = requestAnimationFrame(draw); };

  let drag = null;
  canvas.addEventListener('pointerdown', (e) => {
    const s = scaleOf();
    drag = { x: e.clientX, y: e.clientY, c: mercator(view.lon, view.lat, s) };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag) {
      const b = canvas.getBoundingClientRect();
      const hit = drawn.find((c) => Math.hypot(c.x - (e.clientX - b.left), c.y - (e.clientY - b.top)) <= c.r);
      canvas.title = hit ? hit.nodes.slice(0, 8).map((n) => `${pii(n.name)}: ${fmtBps(n.down_bps)} ↓ ${Math.round((n.utilization ?? 0) * 100)} %`).join('\n') : '';
      return;
    }
    const s = scaleOf();
    [view.lon, view.lat] = unmercator(drag.c[0] - (e.clientX - drag.x), drag.c[1] - (e.clientY - drag.y), s);
    redraw();
  });
  canvas.addEventListener('pointerup', () => { drag = null; });
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    view.zoom = Math.max(0.5, Math.min(18, view.zoom + (e.deltaY < 0 ? 0.5 : -0.5)));
    redraw();
  }, { passive: false });
  // A click on a cluster zooms into it.
  canvas.addEventListener('dblclick', (e) => {
    const b = canvas.getBoundingClientRect();
    const hit = drawn.find((c) => Math.hypot(c.x - (e.clientX - b.left), c.y - (e.clientY - b.top)) <= c.r);
    if (!hit) return;
    view.lat = hit.nodes[0].lat; view.lon = hit.nodes[0].lon; view.zoom = Math.min(18, view.zoom + 2);
    redraw();
  });
  const onResize = () => redraw();
  window.addEventListener('resize', onResize);

  const renderModes = () => {
    modes.replaceChildren(...[['util', 'Utilisation'], ['rtt', 'RTT']].map(([k, label]) => h('button', {
      type: 'button', class: `tab ${k === colourBy ? 'active' : ''}`, testid: `sitemap-colour-${k}`,
      onclick: () => { colourBy = k; renderModes(); redraw(); },
    }, label)));
    legendSlot.replaceChildren(legend(colourBy === 'rtt' ? RTT_LEGEND : UTIL_LEGEND, 'sitemap-legend'));
  };

  const renderList = () => {
    if (!data) { if (error) listSlot.replaceChildren(errorBox(error)); return; }
    const rows = data.nodes.filter((n) => !n.inherited);
    const fresh = h('div', null, table({
      testid: 'sitemap-sites', rows,
      empty: 'No node in network.json has latitude/longitude (docs/inputs.md).',
      columns: [
        { label: 'Node', cell: (n) => h('a', { href: `#/tree/${encodeURIComponent(n.name)}` }, pii(n.name)) },
        { label: 'Type', cell: (n) => n.type ?? '' },
        { label: 'Down now', cls: 'num', cell: (n) => fmtBps(n.down_bps) },
        { label: 'Use', cls: 'num', cell: (n) => `${Math.round((n.utilization ?? 0) * 100)} %` },
        { label: 'RTT', cls: 'num', cell: (n) => (n.rtt_internet_ms == null ? '—' : `${Math.round(n.rtt_internet_ms)} ms`) },
        { label: 'Circuits', cls: 'num', cell: (n) => fmtCount(n.circuits) },
      ],
    }), error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
    if (listSlot.querySelector('table')) patch(listSlot, fresh); else listSlot.replaceChildren(...fresh.childNodes);
  };

  renderModes();
  world().then((w) => { outlines = w; redraw(); }).catch(() => {});
  const stop = poll(async () => {
    try { data = await get('/api/sitemap'); error = null; } catch (e) { error = e; }
    renderList();
    redraw();
  }, 5000);
  return {
    destroy: () => { stop(); window.removeEventListener('resize', onResize); if (frame) cancelAnimationFrame(frame); },
    rerender: () => { renderList(); redraw(); },
  };
}
