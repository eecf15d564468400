// Integrations (admins): each CRM's lqos.conf table as a form. Secrets are write-only (shown
// as set / not set; leave the field empty to keep them). "Test connection" runs
// `lqos-scheduler integration test NAME` with the saved settings; "Import now" asks the
// scheduler to run every integration at once.

import { h, errorBox } from '../dom.js';
import { get, put, post } from '../api.js';

function field(k) {
  const id = `integration-field-${k.key}`;
  const common = { id, name: k.key, testid: id };
  let input;
  switch (k.kind === null || typeof k.kind !== 'object' ? k.kind : 'choice') {
    case 'bool':
      input = h('input', { ...common, type: 'checkbox', checked: k.value ?? (k.default === 'true') });
      break;
    case 'secret':
      input = h('input', { ...common, type: 'password', autocomplete: 'new-password',
        placeholder: k.set ? 'set (leave empty to keep)' : 'not set' });
      break;
    case 'list':
      input = h('textarea', { ...common, rows: 3, placeholder: 'one per line' }, (k.value ?? []).join('\n'));
      break;
    case 'choice': {
      const options = k.kind.choice;
      input = h('select', common, h('option', { value: '' }, `(default: ${k.default || 'none'})`),
        options.map((o) => h('option', { value: o, selected: k.value === o }, o)));
      break;
    }
    default:
      input = h('input', { ...common, type: 'text', value: k.value == null ? '' : String(k.value),
        placeholder: k.default ? `default: ${k.default}` : '' });
  }
  const status = k.kind === 'secret'
    ? h('span', { class: k.set ? 'ok-text' : 'muted', testid: `integration-secret-${k.key}` }, k.set ? ' set' : ' not set')
    : null;
  return h('div', { class: 'field' },
    h('label', { for: id }, h('code', null, k.key), status),
    input,
    h('small', { class: 'muted' }, k.help, k.default ? ` (default ${k.default})` : ''));
}

function values(form, spec) {
  const out = {};
  for (const k of spec.keys) {
    const el = form.querySelector(`[name="${k.key}"]`);
    if (!el) continue;
    if (k.kind === 'bool') out[k.key] = el.checked;
    else if (k.kind === 'secret') { if (el.value !== '') out[k.key] = el.value; }
    else if (k.kind === 'list') out[k.key] = el.value.split('\n').map((s) => s.trim()).filter(Boolean);
    else out[k.key] = el.value.trim() === '' ? null : el.value.trim();
  }
  return out;
}

function editor(spec, onSaved) {
  const message = h('div', { class: 'notice', testid: 'integration-message', hidden: true, role: 'status' });
  const output = h('pre', { class: 'file', testid: 'integration-test-output', hidden: true });
  const enabled = h('input', { type: 'checkbox', id: 'integration-enabled', testid: 'integration-enabled', checked: spec.enabled });
  const form = h('form', { class: 'integration-form', testid: `integration-form-${spec.name}` },
    h('div', { class: 'field' }, h('label', { for: 'integration-enabled' }, enabled, ` Enabled ([${spec.table}] ${spec.name === 'splynx' ? 'enable_splynx' : `enable_${spec.name}`})`)),
    spec.keys.map(field));
  const show = (text, error) => {
    message.hidden = false;
    message.className = error ? 'notice error-box' : 'notice';
    message.replaceChildren(...(Array.isArray(text) ? text : [text]));
  };
  const busy = async (button, f) => {
    button.disabled = true;
    try { await f(); } catch (e) { show([errorBox(e)], true); } finally { button.disabled = false; }
  };
  const save = h('button', { type: 'submit', class: 'primary', testid: 'integration-save' }, 'Save');
  const test = h('button', { type: 'button', testid: 'integration-test' }, 'Test connection');
  const importNow = h('button', { type: 'button', testid: 'integration-import' }, 'Import now');
  form.append(h('div', { class: 'actions' }, save, test, importNow));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      const answer = await put(`/api/integrations/${spec.name}`, { enabled: enabled.checked, values: values(form, spec) });
      show([answer.message, ...(answer.warnings ?? []).map((w) => h('div', { class: 'muted' }, w))]);
      onSaved(answer.integration);
      for (const k of answer.integration?.keys ?? []) {
        if (k.kind !== 'secret') continue;
        const status = form.querySelector(`[data-testid="integration-secret-${k.key}"]`);
        if (status) { status.textContent = k.set ? ' set' : ' not set'; status.className = k.set ? 'ok-text' : 'muted'; }
        const input = form.querySelector(`[name="${k.key}"]`);
        if (input) { input.value = ''; input.placeholder = k.set ? 'set (leave empty to keep)' : 'not set'; }
      }
    });
  });
  test.addEventListener('click', () => busy(test, async () => {
    show('Testing with the saved settings…');
    const answer = await post(`/api/integrations/${spec.name}/test`);
    output.hidden = false;
    output.textContent = answer.output;
    show(answer.ok ? 'The connection works: see what would be imported below.' : 'The test failed: see why below.', !answer.ok);
  }));
  importNow.addEventListener('click', () => busy(importNow, async () => {
    const answer = await post(`/api/integrations/${spec.name}/import`);
    show(answer.message);
  }));
  return h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', null, spec.title), h('span', { class: 'grow' })),
    form, message, output);
}

export function mount(root, params, ctx) {
  const page = h('div', { class: 'page', testid: 'page-integrations' });
  root.append(page);
  if (!ctx.isAdmin) {
    page.append(h('p', { class: 'warn-text' }, 'Only admins see and change the integrations.'));
    return { destroy: () => {} };
  }
  let list = null;
  let chosen = params?.param || 'uisp';
  const render = () => {
    if (!list) return;
    const spec = list.find((i) => i.name === chosen) ?? list[0];
    const tabs = h('nav', { class: 'tabs' }, list.map((i) => h('a', {
      class: `tab${i.name === spec.name ? ' active' : ''}`, href: `#/integrations/${i.name}`, testid: `integration-tab-${i.name}`,
    }, i.title, i.enabled ? ' ●' : '')));
    page.replaceChildren(
      h('div', { class: 'page-head' }, h('h1', null, 'Integrations'), tabs),
      h('p', { class: 'muted' }, 'Saved to lqos.conf (comments kept) after the same checks as the scheduler makes; lqos-scheduler reloads it within seconds.'),
      editor(spec, (fresh) => { list = list.map((i) => (i.name === fresh.name ? fresh : i)); }));
  };
  get('/api/integrations').then((d) => { list = d.integrations; render(); },
    (e) => page.replaceChildren(errorBox(e)));
  return { destroy: () => {}, rerender: render };
}
