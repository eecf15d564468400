// The WebUI in a real headless Chromium against lqosd on the demo topology (started by
// scripts/browser-test.sh): traffic flows through the shaper while these tests look at it.
// The tests run in order: the first creates the first admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { registerGeoTests } from './geo-pages.mjs';

const URL = process.env.LQOS_URL;
const DEMO = process.env.LQOS_DEMO_DIR;
const BIN = process.env.LQOS_BIN_DIR;
const ART = process.env.LQOS_ARTIFACTS;
if (!URL || !DEMO || !BIN || !ART) {
  throw new Error('run through scripts/browser-test.sh (LQOS_URL, LQOS_DEMO_DIR, LQOS_BIN_DIR, LQOS_ARTIFACTS)');
}
const ADMIN = { username: 'ops', password: 'first admin pw' };
const VIEWER = { username: 'viewer', password: 'read only pw' };

let browser;
const consoleErrors = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  // The tests provoke 401, 403 and 422 answers on purpose: the browser logs those loads.
  const expected = /Failed to load resource: the server responded with a status of 4\d\d/;
  page.on('console', (m) => {
    if (m.type() === 'error' && !expected.test(m.text())) consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

const tid = (page, id) => page.getByTestId(id);
const shot = (page, name) => page.screenshot({ path: `${ART}/${name}.png`, fullPage: true });

async function login(page, who) {
  await page.goto(URL);
  await tid(page, 'login-form').waitFor();
  await tid(page, 'username').fill(who.username);
  await tid(page, 'password').fill(who.password);
  await tid(page, 'submit').click();
  await tid(page, 'page-dashboard').waitFor();
}

/** Polls `probe` until it returns a truthy value (or fails after `ms`). */
async function eventually(probe, what, ms = 20000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what} (last seen: ${JSON.stringify(last)})${admin ? `; message: ${await admin.getByTestId('integration-message').innerText().catch(() => '')}` : ''}`);
}

let admin; // the admin's page, logged in by the first test

test('first run: the page asks for the setup token and the first admin, and logs them in', async () => {
  const tokenFile = `${DEMO}/state/webui-setup-token`;
  assert.ok(existsSync(tokenFile), `lqosd wrote the setup token to ${tokenFile}`);
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600, 'only root may read the token');
  const token = readFileSync(tokenFile, 'utf8').trim();
  admin = await newPage();
  await admin.goto(URL);
  await tid(admin, 'setup-form').waitFor();
  assert.match(await tid(admin, 'setup-token-hint').innerText(), /webui-setup-token/,
    'the hint says where the token is');
  await shot(admin, '01-first-run');
  await tid(admin, 'username').fill(ADMIN.username);
  await tid(admin, 'password').fill(ADMIN.password);
  await tid(admin, 'password-confirm').fill(ADMIN.password);
  // A wrong token is refused, and nothing is created.
  await tid(admin, 'setup-token').fill('0123456789abcdef0123456789abcdef');
  await tid(admin, 'submit').click();
  await tid(admin, 'login-error').waitFor();
  assert.match(await tid(admin, 'login-error').innerText(), /wrong setup token/);
  await shot(admin, '01-first-run-wrong-token');
  assert.equal(execFileSync(`${BIN}/lqosd`, ['--config', `${DEMO}/lqos.conf`, 'user', 'list']).toString(), '');
  await tid(admin, 'setup-token').fill(token);
  await tid(admin, 'submit').click();
  await tid(admin, 'page-dashboard').waitFor();
  assert.ok(!existsSync(tokenFile), 'the token is used up');
  assert.match(await tid(admin, 'user-menu').innerText(), /ops/);
  assert.equal(await tid(admin, 'node-name').innerText(), 'shaper-1', "lqos.conf's node_name");
});

test('login refuses a wrong password and accepts the right one', async () => {
  const page = await newPage();
  await page.goto(URL);
  await tid(page, 'login-form').waitFor();
  await tid(page, 'username').fill(ADMIN.username);
  await tid(page, 'password').fill('not the password');
  await tid(page, 'submit').click();
  await tid(page, 'login-error').waitFor();
  assert.match(await tid(page, 'login-error').innerText(), /wrong user name or password/);
  await shot(page, '02-login-error');
  await tid(page, 'password').fill(ADMIN.password);
  await tid(page, 'submit').click();
  await tid(page, 'page-dashboard').waitFor();
  await page.context().close();
});

test('the dashboard shows live, non-zero throughput while traffic flows', async () => {
  await admin.goto(`${URL}/#/`);
  await tid(admin, 'page-dashboard').waitFor();
  const first = await eventually(async () => {
    const bps = Number(await tid(admin, 'total-down').getAttribute('data-bps'));
    // scripts/browser-test.sh caps the demo's flows (LQOS_DEMO_MAX_RATE): ~38 Mbit/s down.
    return bps > 20e6 ? bps : 0;
  }, 'download throughput above 20 Mbit/s');
  // Live: the figure changes from one second to the next.
  await eventually(async () => Number(await tid(admin, 'total-down').getAttribute('data-bps')) !== first,
    'the download figure updates');
  assert.ok(Number(await tid(admin, 'total-up').getAttribute('data-bps')) > 1e6);
  assert.match(await tid(admin, 'total-down').innerText(), /bit\/s/);
  await eventually(async () => /Johansson|Garcia|Tanaka|O'Brien|Hernandez|Lakeview/.test(
    await tid(admin, 'top-circuits-down').innerText()), 'busy circuits in the top list');
  assert.match(await tid(admin, 'top-hosts-down').innerText(), /100\.64\./);
  assert.match(await tid(admin, 'queue-load').innerText(), /0/);
  assert.match(await tid(admin, 'counts').innerText(), /36/);
  assert.match(await tid(admin, 'scheduler-status').innerText(), /idle|refreshing|waiting/i);
  await eventually(async () => Number(await tid(admin, 'throughput-chart').getAttribute('data-points')) >= 5,
    'the chart holds the last seconds');
  await admin.reload();
  await tid(admin, 'page-dashboard').waitFor();
  await eventually(async () => Number(await tid(admin, 'throughput-chart').getAttribute('data-points')) >= 5,
    'a fresh page starts from the history');
  await shot(admin, '03-dashboard');
});

test('the network tree drills down to the circuits of an access point', async () => {
  await tid(admin, 'nav-tree').click();
  await tid(admin, 'page-tree').waitFor();
  await eventually(async () => (await tid(admin, 'tree-children').innerText()).includes('North Region'),
    'top-level nodes');
  await shot(admin, '04-tree');
  for (const node of ['North Region', 'Hilltop Tower', 'Hilltop AP North']) {
    await tid(admin, 'tree-children').getByText(node, { exact: true }).click();
    await eventually(async () => (await tid(admin, 'breadcrumb').innerText()).includes(node), `breadcrumb ${node}`);
  }
  await eventually(async () => (await tid(admin, 'tree-circuits').innerText()).includes('Garcia, Maria'),
    'the AP lists its circuits');
  await shot(admin, '05-tree-ap');
});

/**
 * The plan's top-level nodes of network.json: its top-level nodes, a virtual one's children
 * (virtual in the file, or made so by a set_node_virtual of lqos_overrides.json).
 */
function planTops(net, virtual, path = [], out = []) {
  for (const [name, n] of Object.entries(net)) {
    if (n.virtual || virtual.has(name)) planTops(n.children ?? {}, virtual, [...path, name], out);
    else out.push({ name, via: path });
  }
  return out;
}

test('CPU Tree lists every top-level node of network.json under its queue, with live rates', async () => {
  const overrides = JSON.parse(readFileSync(`${DEMO}/lqos_overrides.json`, 'utf8'));
  const virtual = new Set((overrides.network_adjustments ?? [])
    .filter((a) => a.type === 'set_node_virtual' && a.virtual).map((a) => a.node_name));
  const tops = planTops(JSON.parse(readFileSync(`${DEMO}/network.json`, 'utf8')), virtual);
  assert.ok(tops.length >= 4, `the demo's top-level nodes: ${JSON.stringify(tops)}`);
  await tid(admin, 'nav-cpu-tree').click();
  await tid(admin, 'page-cpu-tree').waitFor();
  const api = await admin.evaluate(async () => (await fetch('/api/cpu/tree')).json());
  assert.ok(api.queues.length >= 1, 'queues in the live plan');
  const listed = api.queues.flatMap((q) => q.nodes.filter((n) => !n.generated).map((n) => ({ ...n, queue: q.queue })));
  assert.deepEqual(listed.map((n) => n.name).sort(), tops.map((t) => t.name).sort(),
    'the API lists each top-level node once');
  await eventually(async () => (await tid(admin, 'cpu-queue').count()) === api.queues.length, 'a card per queue');
  for (const t of tops) {
    const { queue } = listed.find((n) => n.name === t.name);
    const inQueue = admin.locator(`[data-testid="cpu-queue"][data-queue="${queue}"] tr[data-node="${t.name}"]`);
    await eventually(async () => (await inQueue.count()) === 1, `${t.name} under queue ${queue + 1}`);
    assert.equal(await admin.locator(`tr[data-node="${t.name}"]`).count(), 1, `${t.name} under one queue only`);
    if (t.via.length) assert.match(await inQueue.innerText(), new RegExp(t.via.join(' › ')), `${t.name} shown under its virtual parent`);
  }
  const generated = api.queues.flatMap((q) => q.nodes.filter((n) => n.generated));
  assert.equal(await tid(admin, 'cpu-top-node').count(), tops.length + generated.length, 'no other top-level rows');
  await eventually(async () => /Mbit\/s/.test((await tid(admin, 'cpu-queue-rate').allInnerTexts()).join(' ')),
    'a queue carries live traffic');
  await shot(admin, '05b-cpu-tree');
  // Expanding: Hilltop Tower's APs, then the circuits of one AP (listed only when asked).
  await admin.locator('tr[data-node="Hilltop Tower"] [data-toggle]').click();
  await eventually(async () => (await admin.locator('tr[data-node="Hilltop AP North"]').count()) === 1, 'Hilltop Tower expanded');
  await admin.locator('tr[data-node="Hilltop AP North"] [data-toggle]').click();
  await admin.locator('[data-circuits="Hilltop AP North"]').click();
  await eventually(async () => (await tid(admin, 'cpu-circuit').allInnerTexts()).join(' ').includes('Garcia, Maria'),
    'the AP lists its circuits');
  await shot(admin, '05c-cpu-tree-expanded');
  // Privacy: circuit names go, node names and the structure stay.
  await tid(admin, 'privacy-toggle').click();
  await eventually(async () => !(await tid(admin, 'page-cpu-tree').innerText()).includes('Garcia'), 'names hidden');
  assert.ok(!(await admin.content()).includes('Garcia'), 'not in the DOM either');
  assert.match(await tid(admin, 'page-cpu-tree').innerText(), /Hilltop AP North/);
  await shot(admin, '05d-cpu-tree-privacy');
  await tid(admin, 'privacy-toggle').click();
});

test('CPU Weights shows a row per queue with its figures and what a rebalance would move', async () => {
  await tid(admin, 'nav-cpu-weights').click();
  await tid(admin, 'page-cpu-weights').waitFor();
  const api = await admin.evaluate(async () => (await fetch('/api/cpu/weights')).json());
  assert.ok(api.queues.length >= 1);
  assert.equal(api.queues.reduce((a, q) => a + q.circuits, 0), 36, 'every circuit on some queue');
  assert.equal(api.preview.available, true, `the scheduler's preview: ${api.preview.reason}`);
  assert.equal(api.preview.status, 'current', `a preview of the live plan: ${api.preview.reason}`);
  await eventually(async () => (await tid(admin, 'cpu-weight-row').count()) === api.queues.length, 'a row per queue');
  const head = await tid(admin, 'cpu-weights-table').locator('thead th').allInnerTexts();
  for (let i = 0; i < api.queues.length; i++) {
    const cells = await tid(admin, 'cpu-weight-row').nth(i).locator('td').allInnerTexts();
    for (const col of ['Queue', 'Top-level nodes', 'Circuits', 'Planned ↓ Mbps', 'Planned ↑ Mbps', 'Binning weight', 'After rebalance', 'Down now', 'Up now']) {
      const text = cells[head.indexOf(col)];
      assert.ok(text && text.trim() && text.trim() !== '—', `queue ${i + 1}, ${col}: ${JSON.stringify(text)}`);
    }
    assert.ok(Number(cells[head.indexOf('Planned ↓ Mbps')]) > 0, `queue ${i + 1} has planned Mbps`);
  }
  assert.match(await tid(admin, 'cpu-preview-summary').innerText(),
    new RegExp(`would move (nothing|${api.preview.moves_total} of ${api.preview.entries})`));
  assert.equal(await tid(admin, 'cpu-preview').getAttribute('data-status'), 'current');
  await shot(admin, '05e-cpu-weights');
});

test('circuit search runs on the server and leads to the circuit page', async () => {
  await tid(admin, 'nav-circuits').click();
  await tid(admin, 'page-circuits').waitFor();
  await eventually(async () => /36/.test(await tid(admin, 'circuits-total').innerText()), 'all 36 circuits counted');
  const searched = admin.waitForResponse((r) => r.url().includes('/api/circuits?') && r.url().includes('q=Garcia'));
  await tid(admin, 'circuit-search').fill('Garcia');
  await searched;
  await eventually(async () => {
    const rows = await tid(admin, 'circuits-table').locator('tbody tr').count();
    return rows === 1 && (await tid(admin, 'circuits-total').innerText()).match(/\b1\b/);
  }, 'one match');
  await shot(admin, '06-circuits-search');
  await tid(admin, 'circuits-table').getByText('Garcia, Maria').click();
  await tid(admin, 'page-circuit').waitFor();
  assert.match(await tid(admin, 'circuit-name').innerText(), /Garcia, Maria/);
  assert.match(await tid(admin, 'circuit-devices').innerText(), /100\.64\.1\.10/);
  await eventually(async () => Number(await tid(admin, 'circuit-chart').getAttribute('data-points')) >= 3,
    'the circuit chart fills live');
  await eventually(async () => /Mbit\/s/.test(await tid(admin, 'page-circuit').innerText()), 'live rates');
  await shot(admin, '07-circuit');
});

test('privacy mode hides names and addresses, and is remembered', async () => {
  await admin.goto(`${URL}/#/circuit/1001`);
  await tid(admin, 'circuit-name').waitFor();
  assert.match(await admin.locator('body').innerText(), /Garcia/);
  await tid(admin, 'privacy-toggle').click();
  await eventually(async () => !(await admin.locator('body').innerText()).includes('Garcia'), 'name hidden');
  let text = await admin.locator('body').innerText();
  assert.ok(!text.includes('100.64.1.10'), 'addresses hidden');
  assert.ok(!text.includes('74:83:c2'), 'MACs hidden');
  assert.ok(!(await admin.content()).includes('Garcia'), 'not in the DOM either');
  await shot(admin, '08-privacy-circuit');
  await admin.reload();
  await tid(admin, 'page-circuit').waitFor();
  await tid(admin, 'circuit-devices').waitFor();
  text = await admin.locator('body').innerText();
  assert.ok(!text.includes('Garcia'), 'still on after a reload');
  await tid(admin, 'nav-dashboard').click();
  await tid(admin, 'page-dashboard').waitFor();
  await eventually(async () => (await tid(admin, 'top-hosts-down').innerText()).length > 0, 'dashboard rendered');
  assert.ok(!(await admin.locator('body').innerText()).match(/Garcia|Johansson|100\.64\.1\./), 'dashboard redacted');
  await shot(admin, '09-privacy-dashboard');
  await tid(admin, 'privacy-toggle').click();
  await admin.goto(`${URL}/#/circuit/1001`);
  await eventually(async () => (await admin.locator('body').innerText()).includes('Garcia'), 'shown again');
});

test('the circuit page shows RTT per side, retransmits, QoO, queue statistics and the flows', async () => {
  // 1001 (Garcia) has an iperf3 flow each way; its CPE is 3 ms (one way) beyond the
  // subscribers' host, the far end 15 ms beyond the Internet side.
  await admin.goto(`${URL}/#/circuit/1001`);
  await tid(admin, 'circuit-telemetry-section').waitFor();
  const side = async (id) => {
    const el = tid(admin, id);
    if (!(await el.count())) return null;
    const samples = Number(await el.getAttribute('data-samples'));
    const p50 = Number(await el.getAttribute('data-p50'));
    return samples > 0 && p50 > 0 ? { samples, p50, p90: Number(await el.getAttribute('data-p90')), text: await el.innerText() } : null;
  };
  const internet = await eventually(() => side('circuit-rtt-internet'), 'internet RTT figures', 30000);
  const subscriber = await eventually(() => side('circuit-rtt-subscriber'), 'subscriber RTT figures', 30000);
  for (const s of [internet, subscriber]) {
    assert.match(s.text, /p50 \d+(\.\d+)? ms · p90 \d+(\.\d+)? ms/);
    assert.ok(s.p90 >= s.p50, JSON.stringify(s));
  }
  assert.ok(internet.p50 >= 20, `the internet side has a 30 ms round trip: ${internet.p50} ms`);
  assert.ok(subscriber.p50 >= 5, `the subscriber side has a 6 ms round trip: ${subscriber.p50} ms`);
  // Retransmits: a figure per direction, with the gate's verdict.
  for (const dir of ['down', 'up']) {
    const r = tid(admin, `circuit-retx-${dir}`);
    assert.match(await r.innerText(), /\d+\.\d+ %/);
    assert.match(String(await r.getAttribute('data-significant')), /^(true|false)$/);
  }
  await eventually(async () => (await tid(admin, 'circuit-qoo').getAttribute('data-state')) === 'scored', 'a QoO score');
  assert.match(await tid(admin, 'circuit-qoo').innerText(), /^\d+ \(internet/);
  // The flows table: the iperf3 connections (control and data), TCP, with rates and bytes.
  await eventually(async () => (await tid(admin, 'circuit-flows').locator('tbody tr:not(.empty)').count()) >= 2,
    'at least two flows listed');
  const flows = await tid(admin, 'circuit-flows').innerText();
  assert.match(flows, /tcp/);
  assert.match(flows, /\d+\.\d+\.\d+\.\d+:\d+/);
  assert.match(flows, /[kMG]bit\/s/);
  assert.match(await tid(admin, 'circuit-flows-total').innerText(), /of \d+ active/);
  // Queue statistics: the leaf, counters, and per-second charts while the page is open.
  assert.match(await tid(admin, 'circuit-queue-down').innerText(), /pfifo/);
  assert.match(await tid(admin, 'circuit-queue-down').innerText(), /Drops\s+[\d,]+/);
  await eventually(async () => Number(await tid(admin, 'circuit-queue-backlog-chart').getAttribute('data-points')) >= 3,
    'queue history points');
  await eventually(async () => Number(await tid(admin, 'circuit-rtt-chart').getAttribute('data-points')) >= 3,
    'RTT points over time');
  await shot(admin, '21-circuit-telemetry');
  // Privacy mode masks the flows' addresses (ports stay).
  await tid(admin, 'privacy-toggle').click();
  await eventually(async () => !/\d+\.\d+\.\d+\.\d+/.test(await tid(admin, 'circuit-flows').innerText()), 'addresses masked');
  assert.match(await tid(admin, 'circuit-flows').innerText(), /•••••:\d+/);
  await shot(admin, '22-circuit-telemetry-private');
  await tid(admin, 'privacy-toggle').click();
});

test('the dashboard shows the RTT histogram, the worst circuits and the flow counts', async () => {
  await admin.goto(`${URL}/#/`);
  await tid(admin, 'dashboard-telemetry').waitFor();
  await eventually(async () => Number(await tid(admin, 'rtt-histogram').getAttribute('data-total')) > 0,
    'RTT samples in the histogram');
  await eventually(async () => /Garcia|Johansson|Tanaka|O'Brien|Hernandez|Lakeview|Chen|Nguyen|Smith|Patel/.test(
    await tid(admin, 'worst-rtt-internet').innerText()), 'circuits in the worst internet RTT list');
  assert.match(await tid(admin, 'worst-rtt-internet').innerText(), /\d+(\.\d+)? ms/);
  await eventually(async () => /\d+(\.\d+)? ms/.test(await tid(admin, 'worst-rtt-subscriber').innerText()),
    'the worst subscriber RTT list');
  await tid(admin, 'worst-retransmits').waitFor();
  assert.ok(Number((await tid(admin, 'flows-tracked').innerText()).replace(/,/g, '')) >= 8, 'the demo\'s flows are tracked');
  const counts = await tid(admin, 'flow-counts').innerText();
  assert.match(counts, /Kernel flow table\s+[\d,]+ \/ [\d,]+/);
  assert.match(counts, /Insert failures \(table full\)\s+\d/);
  assert.match(await tid(admin, 'queue-drops-down').innerText(), /^[\d,]+/);
  await shot(admin, '23-dashboard-telemetry');
});

test('the tree shows each node\'s RTT and retransmits, merged over its circuits', async () => {
  await admin.goto(`${URL}/#/tree`);
  await tid(admin, 'tree-children').waitFor();
  await eventually(async () => {
    const row = tid(admin, 'tree-children').locator('tr', { hasText: 'North Region' });
    return /\d+(\.\d+)? \/ \d+(\.\d+)? ms/.test(await row.locator('td.rtt-internet').innerText());
  }, 'North Region has an internet RTT');
  await shot(admin, '24-tree-telemetry');
  await admin.goto(`${URL}/#/tree/${encodeURIComponent('Hilltop AP North')}`);
  await eventually(async () => Number(await tid(admin, 'tree-node-rtt-internet').getAttribute('data-samples')) > 0
    && Number(await tid(admin, 'tree-node-rtt-subscriber').getAttribute('data-samples')) > 0,
  'the AP\'s RTT on both sides');
  assert.match(await tid(admin, 'tree-node-telemetry').innerText(), /Retransmits ↓ \d+\.\d+ %/);
  await shot(admin, '25-tree-node-telemetry');
});

test('unknown IPs list traffic from addresses in no circuit, exportable as CSV', async () => {
  await tid(admin, 'nav-unknown').click();
  await tid(admin, 'page-unknown').waitFor();
  await eventually(async () => (await tid(admin, 'unknown-table').innerText()).includes('100.64.99.7'),
    'the demo\'s unknown address');
  await shot(admin, '10-unknown');
  const href = await tid(admin, 'unknown-csv').getAttribute('href');
  const csv = await admin.evaluate(async (h) => (await fetch(h)).text(), href);
  assert.match(csv.split('\n')[0], /^ip,down_bps,up_bps/);
  assert.match(csv, /100\.64\.99\.7,/);
});

test('an urgent issue is shown and acknowledged', async () => {
  // A broken network.json makes the scheduler's refresh fail: it keeps the last good plan
  // and raises an urgent issue.
  const path = `${DEMO}/network.json`;
  const good = readFileSync(path, 'utf8');
  writeFileSync(path, good.replace('"North Region": {', '"North Region": {,'));
  try {
    await admin.goto(`${URL}/#/issues`);
    await tid(admin, 'page-issues').waitFor();
    await eventually(async () => {
      await admin.reload();
      await tid(admin, 'issues-table').waitFor();
      return (await tid(admin, 'issue-ack').count()) > 0;
    }, 'an unacknowledged issue', 40000);
    assert.match(await tid(admin, 'issues-table').innerText(), /network\.json/);
    assert.match(await tid(admin, 'issues-badge').innerText(), /[1-9]/);
    await shot(admin, '11-issues');
    const acks = await tid(admin, 'issue-ack').count();
    await tid(admin, 'issue-ack').first().click();
    await eventually(async () => (await tid(admin, 'issue-ack').count()) === acks - 1, 'acknowledged');
    await shot(admin, '12-issue-acknowledged');
    // The scheduler page has the failure too, with the last lines of the refresh's output.
    await tid(admin, 'nav-scheduler').click();
    await tid(admin, 'page-scheduler').waitFor();
    await eventually(async () => (await tid(admin, 'scheduler-last-error').count()) > 0
      && /network\.json/.test(await tid(admin, 'scheduler-last-error').innerText()), 'the last error');
    assert.ok((await tid(admin, 'scheduler-last-error').innerText()).split('\n').length > 1, 'with its output');
    await shot(admin, '13-scheduler-failed');
  } finally {
    writeFileSync(path, good);
  }
});

test('the scheduler page shows its runs, and an admin can ask for a refresh', async () => {
  await tid(admin, 'nav-scheduler').click();
  await tid(admin, 'page-scheduler').waitFor();
  await eventually(async () => /idle|refreshing/i.test(await tid(admin, 'page-scheduler').innerText()), 'phase');
  await tid(admin, 'scheduler-refresh').click();
  await eventually(async () => /refresh requested/i.test(await tid(admin, 'scheduler-message').innerText()),
    'the request is confirmed');
  await shot(admin, '14-scheduler');
});

test('the configuration page shows the three files', async () => {
  await tid(admin, 'nav-config').click();
  await tid(admin, 'page-config').waitFor();
  await eventually(async () => (await tid(admin, 'page-config').innerText()).includes('to_internet'), 'lqos.conf');
  await shot(admin, '15-config');
  const page = await admin.evaluate(async () => {
    const r = await Promise.all(['network.json', 'ShapedDevices.csv'].map((f) => fetch(`/api/config/${f}`)));
    return Promise.all(r.map((x) => x.text()));
  });
  assert.match(page[0], /Hilltop Tower/);
  assert.match(page[1], /Garcia, Maria/);
});

test('an admin edits a circuit: bad values are refused with the reason, good ones are written', async () => {
  await admin.goto(`${URL}/#/circuit/1004`);
  await tid(admin, 'circuit-edit').click();
  const form = tid(admin, 'edit-form');
  await form.waitFor();
  await tid(admin, 'edit-download_min_mbps').fill('99');
  await form.locator('[type="submit"]').click();
  await tid(admin, 'edit-error').waitFor();
  assert.match(await tid(admin, 'edit-error').innerText(), /ShapedDevices\.csv/);
  await shot(admin, '16-edit-refused');
  await tid(admin, 'edit-download_min_mbps').fill('5');
  await tid(admin, 'edit-name').fill('Johansson, Erik (edited)');
  await form.locator('[type="submit"]').click();
  await eventually(async () => (await tid(admin, 'circuit-name').innerText()).includes('(edited)'), 'saved');
  assert.match(readFileSync(`${DEMO}/ShapedDevices.csv`, 'utf8'), /1004,"Johansson, Erik \(edited\)",/);
});

test('a read-only user sees the pages but cannot change anything', async () => {
  execFileSync(`${BIN}/lqosd`, ['--config', `${DEMO}/lqos.conf`, 'user', 'add', VIEWER.username, '--role', 'read-only'],
    { input: `${VIEWER.password}\n` });
  const page = await newPage();
  await login(page, VIEWER);
  await page.goto(`${URL}/#/circuit/1001`);
  await tid(page, 'circuit-name').waitFor();
  assert.equal(await tid(page, 'circuit-edit').count(), 0, 'no edit button');
  assert.equal(await tid(page, 'circuit-delete').count(), 0, 'no delete button');
  await page.goto(`${URL}/#/circuits`);
  await tid(page, 'circuits-table').waitFor();
  assert.equal(await tid(page, 'circuit-add').count(), 0, 'no add button');
  await page.goto(`${URL}/#/scheduler`);
  await tid(page, 'page-scheduler').waitFor();
  assert.equal(await tid(page, 'scheduler-refresh').count(), 0, 'no refresh button');
  await page.goto(`${URL}/#/issues`);
  await tid(page, 'issues-table').waitFor();
  assert.equal(await tid(page, 'issue-ack').count(), 0, 'no acknowledge button');
  await shot(page, '17-read-only');
  // The server refuses too, even with the session's CSRF token.
  const status = await page.evaluate(async () => {
    const s = await (await fetch('/api/session')).json();
    const r = await fetch('/api/circuits/1001', {
      method: 'DELETE', headers: { 'X-CSRF-Token': s.csrf },
    });
    return [r.status, (await r.json()).error];
  });
  assert.deepEqual(status, [403, 'read-only users cannot change anything']);
  await page.context().close();
});

// ASN Analysis, Flow Globe, Site Map, About (before the UISP import replaces the network).
registerGeoTests({ test, URL, ART, ADMIN, admin: () => admin, newPage, login, tid, shot, eventually });

test('an admin sets up UISP: test connection against its test API, save, import; its circuits appear', async () => {
  // The UISP test API of lqos-integrations' testkit, on the management link the shaper
  // (and so lqos-scheduler) reaches.
  const api = spawn(`${BIN}/examples/crm-test-api`, ['uisp', '10.123.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise((resolve, reject) => {
      api.stdout.once('data', (d) => resolve(String(d).trim()));
      api.once('exit', (code) => reject(new Error(`crm-test-api exited (${code})`)));
    });
    await admin.goto(`${URL}/#/integrations/uisp`);
    await tid(admin, 'integration-form-uisp').waitFor();
    assert.match(await tid(admin, 'integration-secret-token').innerText(), /not set/);
    await tid(admin, 'integration-enabled').check();
    await tid(admin, 'integration-field-url').fill(url);
    await tid(admin, 'integration-field-token').fill('uisp-test-token');
    await tid(admin, 'integration-field-strategy').selectOption('full');
    await tid(admin, 'integration-save').click();
    let said = '';
    await eventually(async () => /saved/i.test(said = await tid(admin, 'integration-message').innerText()), 'saved');
    assert.doesNotMatch(said, /error|invalid/i);
    assert.match(await tid(admin, 'integration-secret-token').innerText(), /^\s*set$/, 'shown as set, never shown');
    const conf = readFileSync(`${DEMO}/lqos.conf`, 'utf8');
    assert.match(conf, /\[uisp_integration\]\nenable_uisp = true/);
    assert.match(conf, /# How often, in minutes/, 'comments kept');
    const html = await admin.content();
    assert.ok(!html.includes('uisp-test-token'), 'the secret is never sent back');
    await tid(admin, 'integration-test').click();
    await eventually(async () => /ShapedDevices\.csv: \d+ circuits/.test(await tid(admin, 'integration-test-output').innerText()),
      'the test shows what would be imported', 60000);
    assert.match(await tid(admin, 'integration-test-output').innerText(), /uisp skipped site c08: no device with an IP/);
    await shot(admin, '18-integration-uisp');
    await tid(admin, 'integration-import').click();
    await eventually(async () => /import requested/i.test(await tid(admin, 'integration-message').innerText()), 'import requested');
    await eventually(async () => /uisp:site:c01/.test(readFileSync(`${DEMO}/ShapedDevices.csv`, 'utf8')), 'imported', 60000);
    await admin.goto(`${URL}/#/circuits`);
    await tid(admin, 'circuits-table').waitFor();
    await eventually(async () => {
      await admin.reload();
      await tid(admin, 'circuits-table').waitFor();
      return /Chidi Okafor/.test(await tid(admin, 'circuits-table').innerText());
    }, 'the imported circuits are listed', 60000);
    await shot(admin, '19-circuits-imported');
    // The scheduler page shows the integration's own status.
    await admin.goto(`${URL}/#/scheduler`);
    await tid(admin, 'scheduler-integrations').waitFor();
    await eventually(async () => /uisp[\s\S]*ok[\s\S]*22/.test(await tid(admin, 'scheduler-integrations').innerText()),
      'uisp: ok, 22 imported', 30000);
    await shot(admin, '20-scheduler-integrations');
  } finally {
    api.kill();
  }
});

test('no page logged a JavaScript error', () => {
  assert.deepEqual(consoleErrors, []);
});
