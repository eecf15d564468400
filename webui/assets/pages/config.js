// Configuration: the three input files as read-only text. Only the first 200 KB is read
// (ShapedDevices.csv can be many megabytes); a link opens the full text.

import { h, errorBox } from '../dom.js';
import { getTextHead } from '../api.js';
import { fmtBytes } from '../format.js';
import { isPrivate } from '../privacy.js';

const LIMIT = 200 * 1000;
const FILES = [
  ['lqos.conf', 'config-lqos-conf', false],
  ['network.json', 'config-network-json', false],
  ['ShapedDevices.csv', 'config-shaped-devices', true], // subscriber names and addresses
];

function section(file, testid, personal, controller) {
  const url = `/api/config/${file}`;
  const pre = h('pre', { class: 'file', testid, tabindex: '0' }, 'Loading…');
  const note = h('p', { class: 'muted note' });
  const hidden = personal && isPrivate();
  const sec = h('section', { class: 'card', id: `file-${testid}` },
    h('div', { class: 'card-head' }, h('h2', null, file), h('span', { class: 'grow' }),
      hidden ? null : h('a', { href: url, target: '_blank', rel: 'noopener' }, 'Open the full text')),
    note, pre);
  if (hidden) {
    pre.textContent = '(hidden in privacy mode: this file holds subscriber names and addresses)';
    return sec;
  }
  getTextHead(url, LIMIT, { signal: controller.signal }).then(({ text, truncated, size }) => {
    pre.textContent = text || '(empty)';
    if (truncated) {
      note.replaceChildren(`Showing the first ${fmtBytes(LIMIT)}${size ? ` of ${fmtBytes(size)}` : ''}. `,
        h('a', { href: url, target: '_blank', rel: 'noopener' }, 'Open the full text'), '.');
    }
  }, (e) => {
    if (e.name === 'AbortError') return;
    pre.replaceWith(errorBox(e, testid));
  });
  return sec;
}

export function mount(root) {
  let controller = null;
  const page = h('div', { class: 'page', testid: 'page-config' });
  root.append(page);
  const render = () => {
    controller?.abort();
    controller = new AbortController();
    const jump = h('nav', { class: 'tabs' }, FILES.map(([file, testid]) => h('button', {
      type: 'button', class: 'tab', onclick: () => document.getElementById(`file-${testid}`)?.scrollIntoView({ behavior: 'smooth' }),
    }, file)));
    page.replaceChildren(
      h('div', { class: 'page-head' }, h('h1', null, 'Configuration'), jump),
      h('p', { class: 'muted' }, 'Read-only. Edit circuits on their pages; the files are on the shaper in lqos_directory.'),
      ...FILES.map(([file, testid, personal]) => section(file, testid, personal, controller)));
  };
  render();
  return { destroy: () => controller?.abort(), rerender: render };
}
