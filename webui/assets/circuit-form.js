// The form for adding or editing a circuit (CircuitEdit in docs/webui.md).

import { h, errorBox } from './dom.js';

const RATES = [
  ['download_min_mbps', 'Download min (Mbps)'],
  ['download_max_mbps', 'Download max (Mbps)'],
  ['upload_min_mbps', 'Upload min (Mbps)'],
  ['upload_max_mbps', 'Upload max (Mbps)'],
];
const DEVICE_FIELDS = [
  ['device_id', 'Device ID'], ['name', 'Name'], ['mac', 'MAC'],
  ['ipv4', 'IPv4 (comma-separated)'], ['ipv6', 'IPv6 (comma-separated)'], ['comment', 'Comment'],
];
const SQM_CHOICES = ['cake', 'cake diffserv4', 'fq_codel', 'none', 'fq_codel/cake'];

/** CircuitDetail → CircuitEdit (addresses split by family). */
export function toEdit(d) {
  const v4 = (ips) => (ips ?? []).filter((ip) => !ip.includes(':')).join(', ');
  const v6 = (ips) => (ips ?? []).filter((ip) => ip.includes(':')).join(', ');
  return {
    circuit_id: d.circuit_id,
    name: d.name ?? '',
    parent_node: d.parent_node ?? '',
    download_min_mbps: d.download_min_mbps,
    upload_min_mbps: d.upload_min_mbps,
    download_max_mbps: d.download_max_mbps,
    upload_max_mbps: d.upload_max_mbps,
    sqm: d.sqm ?? '',
    devices: (d.devices ?? []).map((x) => ({
      device_id: x.device_id ?? '', name: x.name ?? '', mac: x.mac ?? '',
      ipv4: v4(x.ips), ipv6: v6(x.ips), comment: x.comment ?? '',
    })),
  };
}

const emptyDevice = () => Object.fromEntries(DEVICE_FIELDS.map(([k]) => [k, '']));

/**
 * initial: a CircuitEdit (or null for a new circuit). onSubmit(edit) may throw an ApiError,
 * shown with its problems in the form.
 */
export function circuitForm({ initial, isNew, onSubmit, onCancel }) {
  const start = initial ?? { circuit_id: '', name: '', parent_node: '', sqm: '', devices: [emptyDevice()] };
  const input = (key, value, attrs = {}) => h('input', { name: key, testid: `edit-${key}`, value: value ?? '', ...attrs });
  const inputs = {
    circuit_id: input('circuit_id', start.circuit_id, { readOnly: !isNew, class: isNew ? '' : 'readonly' }),
    name: input('name', start.name),
    parent_node: input('parent_node', start.parent_node, { placeholder: 'empty: no parent (generated parent node)' }),
    sqm: input('sqm', start.sqm, { list: 'sqm-choices', placeholder: 'empty: default_sqm' }),
  };
  for (const [key] of RATES) {
    inputs[key] = input(key, start[key], { type: 'number', step: 'any', min: '0', class: 'num' });
  }

  const deviceBody = h('tbody');
  const addDeviceRow = (dev) => {
    const cells = DEVICE_FIELDS.map(([key, label]) => h('td', null,
      h('input', { name: key, testid: `device-${key}`, value: dev[key] ?? '', 'aria-label': label })));
    const tr = h('tr', { class: 'device-row' }, cells,
      h('td', null, h('button', { type: 'button', class: 'small', testid: 'device-remove',
        onclick: () => tr.remove() }, 'Remove')));
    deviceBody.append(tr);
  };
  (start.devices ?? []).forEach(addDeviceRow);

  const errorSlot = h('div');
  const showError = (err) => {
    errorSlot.replaceChildren();
    const box = errorBox(err, 'edit-error');
    if (box) errorSlot.append(box);
    box?.scrollIntoView({ block: 'nearest' });
  };

  const collect = () => {
    const problems = [];
    const edit = {
      circuit_id: inputs.circuit_id.value.trim(),
      name: inputs.name.value.trim(),
      parent_node: inputs.parent_node.value.trim(),
    };
    for (const [key, label] of RATES) {
      const raw = inputs[key].value.trim();
      const n = Number(raw);
      if (raw === '' || !Number.isFinite(n)) problems.push(`${label}: a number is needed.`);
      edit[key] = n;
    }
    edit.sqm = inputs.sqm.value.trim();
    edit.devices = [...deviceBody.querySelectorAll('tr')].map((tr) => Object.fromEntries(
      DEVICE_FIELDS.map(([key]) => [key, tr.querySelector(`input[name="${key}"]`).value.trim()])));
    if (!edit.circuit_id) problems.push('Circuit ID: needed.');
    return { edit, problems };
  };

  const save = h('button', { type: 'submit', class: 'primary', testid: 'submit' }, isNew ? 'Add circuit' : 'Save');
  const form = h('form', { class: 'card edit-form', testid: 'edit-form', novalidate: true },
    h('h2', null, isNew ? 'Add a circuit' : `Edit circuit ${start.circuit_id}`),
    h('div', { class: 'form-grid' },
      label('Circuit ID', inputs.circuit_id), label('Circuit name', inputs.name),
      label('Parent node', inputs.parent_node), label('SQM', inputs.sqm),
      RATES.map(([key, text]) => label(text, inputs[key]))),
    h('datalist', { id: 'sqm-choices' }, SQM_CHOICES.map((v) => h('option', { value: v }))),
    h('h3', null, 'Devices'),
    h('table', { class: 'grid devices-edit' },
      h('thead', null, h('tr', null, DEVICE_FIELDS.map(([, text]) => h('th', null, text)), h('th'))),
      deviceBody),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'small', testid: 'device-add', onclick: () => addDeviceRow(emptyDevice()) }, 'Add device')),
    errorSlot,
    h('div', { class: 'row actions' }, save,
      h('button', { type: 'button', testid: 'edit-cancel', onclick: onCancel }, 'Cancel')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const { edit, problems } = collect();
    if (problems.length) {
      showError({ message: 'Please fix these fields:', problems });
      return;
    }
    errorSlot.replaceChildren();
    save.disabled = true;
    try {
      await onSubmit(edit);
    } catch (err) {
      showError(err);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function label(text, control) {
  return h('label', { class: 'field' }, h('span', null, text), control);
}
