// Small DOM helpers. Everything is built with createElement/textContent (never innerHTML), so
// text from the server cannot inject markup, and no inline style attribute is ever written
// (the page runs under `Content-Security-Policy: default-src 'self'`; CSSOM writes are allowed).

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'readOnly', 'open', 'selected', 'type']);

/** h('a', {href: '#/', class: 'x', testid: 'nav', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'testid') el.dataset.testid = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function mountInto(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * Makes `target`'s subtree look like `source`'s, reusing the nodes already there: used for
 * views refreshed every second, so links under the pointer are not replaced mid-click.
 * Listeners are not copied: patched regions use plain links or delegated handlers.
 * An element with `data-keep` on both sides is left alone (e.g. a chart's canvas).
 */
export function patch(target, source) {
  const oldKids = [...target.childNodes];
  const newKids = [...source.childNodes];
  newKids.forEach((n, i) => {
    const o = oldKids[i];
    if (!o) target.appendChild(n);
    else if (o.nodeType !== n.nodeType || o.nodeName !== n.nodeName) target.replaceChild(n, o);
    else if (n.nodeType === Node.TEXT_NODE) { if (o.data !== n.data) o.data = n.data; }
    else if (n.nodeType === Node.ELEMENT_NODE && !o.hasAttribute('data-keep')) { syncAttrs(o, n); patch(o, n); }
  });
  for (let i = newKids.length; i < oldKids.length; i++) oldKids[i].remove();
}

function syncAttrs(o, n) {
  for (const a of [...o.attributes]) {
    if (a.name !== 'style' && !n.hasAttribute(a.name)) o.removeAttribute(a.name);
  }
  for (const a of [...n.attributes]) {
    if (a.name === 'style') continue;
    if (o.getAttribute(a.name) !== a.value) o.setAttribute(a.name, a.value);
  }
  if (o.style.cssText !== n.style.cssText) o.style.cssText = n.style.cssText;
}

/**
 * A table: columns are {label, cls?, cell(row) → text | Node}. `rowAttrs(row)` may add
 * attributes to each <tr> (e.g. data-href for a delegated click).
 */
export function table({ columns, rows, testid, empty = 'Nothing to show.', rowAttrs, cls = '' }) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.cls }, c.label))));
  const body = h('tbody');
  if (!rows.length) {
    body.append(h('tr', { class: 'empty' }, h('td', { colspan: columns.length }, empty)));
  }
  for (const r of rows) {
    body.append(h('tr', rowAttrs ? rowAttrs(r) : null,
      columns.map((c) => h('td', { class: c.cls }, c.cell(r)))));
  }
  return h('table', { class: `grid ${cls}`, testid }, head, body);
}

/** A horizontal bar for a 0..1+ fraction; over 0.8 is amber, over 1 red. */
export function bar(fraction, label) {
  const f = Number.isFinite(fraction) ? Math.max(0, fraction) : 0;
  const level = f > 1 ? 'over' : f > 0.8 ? 'high' : '';
  const fill = h('span', { class: `bar-fill ${level}`, style: { width: `${Math.min(f, 1) * 100}%` } });
  return h('span', { class: 'bar', title: label ?? `${Math.round(f * 100)}%` }, fill,
    h('span', { class: 'bar-label' }, label ?? `${Math.round(f * 100)}%`));
}

/** An error box; `problems` become a list. Returns null when there is nothing to show. */
export function errorBox(err, testid) {
  if (!err) return null;
  const problems = err.problems ?? [];
  return h('div', { class: 'error-box', testid, role: 'alert' },
    h('div', { class: 'error-title' }, err.message ?? String(err)),
    problems.length ? h('ul', null, problems.map((p) => h('li', null, p))) : null);
}

/** A titled panel. */
export function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', null, title) : null, ...body);
}
