// Circuits: server-side search and paging of /api/circuits (never all 100k at once).
// The query, page and page size live in the hash (#/circuits?q=..&page=..) so reloads keep them.

import { h, patch, errorBox } from '../dom.js';
import { get, post, poll, qs } from '../api.js';
import { fmtCount } from '../format.js';
import { circuitTable, circuitHref } from '../circuit-table.js';
import { circuitForm } from '../circuit-form.js';

const PAGE_SIZES = [25, 50, 100, 200, 500];

export function mount(root, { query }, ctx) {
  const state = {
    q: query.get('q') ?? '',
    page: Math.max(1, Number(query.get('page')) || 1),
    per_page: PAGE_SIZES.includes(Number(query.get('per_page'))) ? Number(query.get('per_page')) : 50,
  };
  let data = null;
  let error = null;
  let seq = 0;
  let controller = null;
  let debounce = null;

  const search = h('input', { type: 'search', testid: 'circuit-search', value: state.q, class: 'search',
    placeholder: 'Search id, name, node, device, MAC or IP…', 'aria-label': 'Search circuits' });
  const perPage = h('select', { 'aria-label': 'Circuits per page', testid: 'per-page' },
    PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === state.per_page }, `${n} per page`)));
  const prev = h('button', { type: 'button', testid: 'page-prev', onclick: () => go(state.page - 1) }, '‹ Prev');
  const next = h('button', { type: 'button', testid: 'page-next', onclick: () => go(state.page + 1) }, 'Next ›');
  const pageInfo = h('span', { class: 'page-info', testid: 'page-info' });
  const total = h('span', { class: 'total', testid: 'circuits-total' });
  const formSlot = h('div');
  const tableSlot = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  const add = ctx.isAdmin
    ? h('button', { type: 'button', class: 'primary', testid: 'circuit-add', onclick: () => openForm() }, 'Add circuit')
    : null;

  const page = h('div', { class: 'page', testid: 'page-circuits' },
    h('div', { class: 'page-head' }, h('h1', null, 'Circuits'), total, h('span', { class: 'grow' }), add),
    formSlot,
    h('div', { class: 'toolbar' }, search, perPage, h('span', { class: 'grow' }), prev, pageInfo, next),
    tableSlot);
  root.append(page);

  const pages = () => Math.max(1, Math.ceil((data?.total ?? 0) / state.per_page));

  function keepInHash() {
    const hash = `#/circuits${qs({ q: state.q, page: state.page > 1 ? state.page : null,
      per_page: state.per_page !== 50 ? state.per_page : null })}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }

  function render() {
    if (data) {
      total.textContent = `${data.total} circuit${data.total === 1 ? '' : 's'}${state.q ? ' found' : ''}`;
      total.dataset.total = String(data.total);
      pageInfo.textContent = `page ${fmtCount(state.page)} of ${fmtCount(pages())}`;
      prev.disabled = state.page <= 1;
      next.disabled = state.page >= pages();
      const fresh = h('div', null, circuitTable(data.circuits ?? [], 'circuits-table'),
        error ? errorBox({ message: `Refresh failed: ${error.message}` }) : null);
      if (tableSlot.querySelector('[data-testid="circuits-table"]')) patch(tableSlot, fresh);
      else tableSlot.replaceChildren(...fresh.childNodes);
    } else if (error) {
      tableSlot.replaceChildren(errorBox(error));
    }
  }

  async function load() {
    const mine = ++seq;
    controller?.abort();
    controller = new AbortController();
    try {
      const d = await get(`/api/circuits${qs({ q: state.q, page: state.page, per_page: state.per_page })}`,
        { signal: controller.signal });
      if (mine !== seq) return;
      data = d;
      error = null;
      // Past the end (e.g. after a search narrowed the list): go to the last page.
      if (state.page > pages() && data.total > 0) { state.page = pages(); keepInHash(); return load(); }
    } catch (e) {
      if (e.name === 'AbortError' || mine !== seq) return;
      error = e;
    }
    render();
  }

  function go(p) {
    state.page = Math.min(Math.max(1, p), pages());
    keepInHash();
    load();
  }

  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = search.value.trim();
      state.page = 1;
      keepInHash();
      load();
    }, 250);
  });
  perPage.addEventListener('change', () => {
    state.per_page = Number(perPage.value);
    state.page = 1;
    keepInHash();
    load();
  });

  function openForm() {
    formSlot.replaceChildren(circuitForm({
      isNew: true,
      onCancel: () => formSlot.replaceChildren(),
      onSubmit: async (edit) => {
        const created = await post('/api/circuits', edit);
        location.hash = circuitHref(created?.circuit_id ?? edit.circuit_id);
      },
    }));
    formSlot.querySelector('input')?.focus();
  }

  // The first load, then a refresh of the live rates every 5 s (not while typing).
  let lastInput = 0;
  const stop = poll(() => (Date.now() - lastInput > 2000 ? load() : null), 5000);
  search.addEventListener('input', () => { lastInput = Date.now(); });

  return {
    destroy() { stop(); clearTimeout(debounce); controller?.abort(); },
    rerender: () => { tableSlot.replaceChildren(); render(); },
  };
}
