// The Scheduler page's Fleet card in a real headless Chromium, on a fleet box whose
// lqos-scheduler runs in fleet mode against a real 3-member etcd (docs/fleet.md). The bed
// (tests/e2e/examples/fleet-webui-bed.rs: etcd in a namespace, boxes a and b, each with lqosd
// and the scheduler service; b's WebUI forwarded to loopback) is started here and told what
// to break; it says what the page must show, from the boxes' journals and lqosd's fence.
// It removes everything when its stdin closes, so it goes with this process whatever happens.
//
//   LQOS_BIN_DIR=$PWD/target/debug node --test webui/tests/fleet.test.mjs   (root; built first)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BIN = process.env.LQOS_BIN_DIR;
if (!BIN) throw new Error('set LQOS_BIN_DIR to the built binaries (target/debug), or run scripts/browser-test.sh');
const ART = process.env.LQOS_ARTIFACTS ?? fileURLToPath(new URL('../../target/browser-tests/', import.meta.url));
mkdirSync(ART, { recursive: true });
const BED_LOG = `${ART}/fleet-bed.log`;
/** How long the card may take to say that etcd is unreachable after quorum is lost. */
const UNREACHABLE_WITHIN_MS = 15000;

let browser;
let bed;
let bedExit;
const events = [];
const waiting = [];
let ready; // the bed's "ready" event: what the page must show
let page;
const consoleErrors = [];

function bedLog() {
  try { return readFileSync(BED_LOG, 'utf8').split('\n').slice(-40).join('\n'); } catch { return ''; }
}

/** The bed's next event named `name` (its "error" events and its exit fail the wait). */
function nextEvent(name, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${name}" from the bed within ${ms} ms; its log:\n${bedLog()}`)), ms);
    const take = (e) => {
      if (e.event === name) { clearTimeout(timer); resolve(e); return true; }
      if (e.event === 'error' || e.event === 'exit') {
        clearTimeout(timer);
        reject(new Error(`the bed failed: ${e.message ?? `exited (${e.code})`}; its log:\n${bedLog()}`));
        return true;
      }
      return false;
    };
    const i = events.findIndex(take);
    if (i >= 0) { events.splice(i, 1); return; }
    waiting.push(take);
  });
}

function deliver(e) {
  const i = waiting.findIndex((take) => take(e));
  if (i >= 0) waiting.splice(i, 1); else events.push(e);
}

const T0 = Date.now();
const at = (what) => console.log(`fleet: ${what} at ${Date.now() - T0} ms`);

before(async () => {
  const log = openSync(BED_LOG, 'w');
  bed = spawn(`${BIN}/examples/fleet-webui-bed`, [], {
    env: { ...process.env, LQOS_BIN_DIR: BIN },
    stdio: ['pipe', 'pipe', log],
  });
  bedExit = new Promise((resolve) => bed.on('exit', (code, signal) => {
    deliver({ event: 'exit', code: code ?? signal });
    resolve();
  }));
  createInterface({ input: bed.stdout }).on('line', (line) => {
    try { deliver(JSON.parse(line)); } catch { /* not an event */ }
  });
  // Last resort: the bed also goes when its stdin closes, i.e. when this process is gone.
  process.on('exit', () => bed.exitCode == null && bed.kill('SIGTERM'));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  at('chromium up');
  ready = await nextEvent('ready', 120000);
  at('the fleet bed ready');
});

after(async () => {
  at('tests done');
  await browser?.close();
  if (bed && bed.exitCode == null && bed.signalCode == null) {
    bed.stdin.end(); // the bed removes etcd, lqosd, the schedulers and the namespaces
    const gone = await Promise.race([bedExit.then(() => true), new Promise((r) => setTimeout(() => r(false), 30000).unref())]);
    if (!gone) { bed.kill('SIGTERM'); await bedExit; }
  }
  at('the fleet bed removed');
});

const tid = (id) => page.getByTestId(id);
const text = async (id) => (await tid(id).textContent({ timeout: 2000 }).catch(() => null))?.trim() ?? null;
const row = (name) => tid(`fleet-box-${name}`).locator('td').allInnerTexts().catch(() => null);
const shot = (name) => page.screenshot({ path: `${ART}/${name}.png`, fullPage: true });

/** Polls `probe` until it returns true (or fails after `ms`, showing what `seen` returned). */
async function eventually(probe, what, seen, ms = 15000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what}; the card shows: ${JSON.stringify(await seen())}`);
}

async function card() {
  const ids = ['fleet-name', 'fleet-share', 'fleet-etcd', 'fleet-leader', 'fleet-publication', 'fleet-applied'];
  const out = {};
  for (const id of ids) out[id] = await text(id);
  out.a = await row('a');
  out.b = await row('b');
  return out;
}

test('the fleet card shows this box, its share, the leader, the applied fence, etcd ok and each box\'s lag and health', async () => {
  const { token, generation } = ready;
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(ready.url);
  await tid('login-form').waitFor();
  await tid('username').fill(ready.username);
  await tid('password').fill(ready.password);
  await tid('submit').click();
  await tid('page-dashboard').waitFor();
  await page.goto(`${ready.url}/#/scheduler`);
  await tid('page-scheduler').waitFor();
  await tid('fleet').waitFor();
  const expected = {
    'fleet-name': 'b',
    'fleet-share': ready.share.join(', '),
    'fleet-etcd': 'ok',
    'fleet-leader': `a (token ${token})`,
    'fleet-applied': `token ${token}, generation ${generation}`,
    a: ['a (leader)', 'SiteA', `${token}`, `${generation}`, '0', 'ok'],
    b: ['b', ready.share.join(', '), `${token}`, `${generation}`, '0', 'ok'],
  };
  const matches = async () => {
    const c = await card();
    return Object.entries(expected).every(([k, v]) => JSON.stringify(c[k]) === JSON.stringify(v))
      && (c['fleet-publication'] ?? '').startsWith(`token ${token}, generation ${generation} by a (`);
  };
  await eventually(matches, `the card shows ${JSON.stringify(expected)}`, card);
  await shot('fleet-01-ok');
});

test('a box whose lqosd is down falls behind: the card shows its lag and health', async () => {
  bed.stdin.write('lag\n');
  const lag = await nextEvent('lag', 60000);
  assert.ok(lag.generation > ready.generation, 'a newer publication');
  const behind = lag.generation - lag.a_generation;
  assert.ok(behind >= 1, 'box a is behind');
  const probe = async () => {
    const [a, b] = [await row('a'), await row('b')];
    return JSON.stringify(b) === JSON.stringify(['b', ready.share.join(', '), `${lag.token}`, `${lag.generation}`, '0', 'ok'])
      && JSON.stringify(a?.slice(0, 5)) === JSON.stringify(['a (leader)', 'SiteA', `${lag.a_token}`, `${lag.a_generation}`, `${behind}`])
      && /^apply failed/.test(a?.[5] ?? '')
      && await text('fleet-applied') === `token ${lag.token}, generation ${lag.generation}`
      && (await text('fleet-publication') ?? '').startsWith(`token ${lag.token}, generation ${lag.generation} by a`);
  };
  await eventually(probe, `box a ${behind} generation(s) behind with a failed apply, box b up to date at ${lag.generation}`, card);
  // And it stays so while a's lqosd is down (its scheduler retries every few seconds; a retry
  // must not show "ok" in between).
  for (const until = Date.now() + 6000; Date.now() < until;) {
    const a = await row('a');
    assert.match(a?.[5] ?? '', /^apply failed/, `box a's health while its lqosd is down: ${JSON.stringify(a)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  await shot('fleet-02-lag');
});

test('when etcd loses quorum the card says etcd is unreachable, within a bounded time', async (t) => {
  const before = await card();
  bed.stdin.write('quorum-loss\n');
  await nextEvent('quorum-loss', 10000);
  const lost = Date.now();
  await eventually(async () => /^unreachable \(.+\): shaping stays on the last applied plan$/.test(await text('fleet-etcd') ?? ''),
    `etcd shown unreachable within ${UNREACHABLE_WITHIN_MS} ms of losing quorum`, card, UNREACHABLE_WITHIN_MS);
  t.diagnostic(`etcd shown unreachable ${Date.now() - lost} ms after quorum was lost`);
  // The rest is as last seen, and says so; this box's own row says what is wrong now.
  await eventually(async () => /as last seen in etcd/.test(await text('fleet-stale') ?? '')
    && /^etcd/.test((await row('b'))?.[5] ?? ''), 'the card marks the fleet as last seen, and box b\'s health names etcd', card);
  const now = await card();
  assert.equal(now['fleet-leader'], before['fleet-leader'], 'the leader as last seen');
  assert.equal(now['fleet-applied'], before['fleet-applied'], 'shaping stays on the last applied plan');
  assert.deepEqual(now.a, before.a, "box a's row as last seen");
  assert.deepEqual(now.b.slice(0, 5), before.b.slice(0, 5), "box b's fence and lag unchanged");
  await shot('fleet-03-quorum-lost');
  assert.deepEqual(consoleErrors.filter((e) => !/status of 4\d\d/.test(e)), [], 'no JavaScript errors');
});
