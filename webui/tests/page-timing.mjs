// How long the WebUI's pages take to become usable in headless Chromium: from navigation to
// the first rows of the circuits table (and to the dashboard's live figures, a search's
// answer, and the first content of the CPU, ASN, globe and site map pages). Used by lqosd's `webui` bench: node page-timing.mjs BASE_URL USER PASSWORD
import { chromium } from 'playwright-core';

const [base, username, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: node page-timing.mjs BASE_URL USER PASSWORD');
  process.exit(2);
}
const RUNS = 5;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ baseURL: base, viewport: { width: 1400, height: 900 } });
const login = await context.request.post('/api/login', { data: { username, password } });
if (!login.ok()) throw new Error(`login: ${login.status()} ${await login.text()}`);

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function timeUntil(hash, ready) {
  const page = await context.newPage();
  const t0 = performance.now();
  await page.goto(`${base}/${hash}`);
  await ready(page);
  const ms = performance.now() - t0;
  return { page, ms };
}

const circuits = [];
const search = [];
const dashboard = [];
for (let i = 0; i < RUNS; i++) {
  const { page, ms } = await timeUntil('#/circuits', (p) =>
    p.getByTestId('circuits-table').locator('tbody tr').first().waitFor());
  circuits.push(ms);
  const total = await page.getByTestId('circuits-total').innerText();
  const t0 = performance.now();
  const answered = page.waitForResponse((r) => r.url().includes('q=Hill'));
  await page.getByTestId('circuit-search').fill('Hill');
  await answered;
  await page.waitForFunction(() => !document.querySelector('[data-testid="circuits-total"]')?.textContent.includes('100,000'));
  search.push(performance.now() - t0);
  if (i === 0) console.log(`circuits page shows: ${total.replace(/\s+/g, ' ')}`);
  await page.close();
  const d = await timeUntil('#/', (p) => p.waitForFunction(
    () => Number(document.querySelector('[data-testid="total-down"]')?.dataset.bps) > 0));
  dashboard.push(d.ms);
  await d.page.close();
}
// The pages of the traffic-maps issue (ASN Analysis, Flow Globe, Site Map, CPU Tree, CPU
// Weights): navigation to their first content (rows, points drawn).
const ready = (sel) => (p) => p.locator(sel).first().waitFor();
// ASN Analysis and the globe need flows to remote ASNs: LQOS_TIMING_GEO=1 (the bench's
// LQOS_BENCH_GEO=1 fixture).
const geo = process.env.LQOS_TIMING_GEO === '1';
const pages = [
  ['CPU Tree (first top-level node)', '#/cpu-tree', ready('[data-testid="cpu-top-node"]')],
  ['CPU Weights (first queue row)', '#/cpu-weights', ready('[data-testid="cpu-weights-table"] tbody tr')],
  ...(geo ? [
    ['ASN Analysis (first ASN row)', '#/asns', ready('[data-testid="asn-table"] tbody tr:not(.empty)')],
    ['Flow Globe (points drawn)', '#/globe', (p) => p.waitForFunction(
      () => (document.querySelector('[data-testid="globe-canvas"]')?.dataset.points ?? '') !== '')],
  ] : []),
  ['Site Map (sites drawn)', '#/sitemap', (p) => p.waitForFunction(
    () => Number(document.querySelector('[data-testid="sitemap-canvas"]')?.dataset.nodes) > 0)],
];
const more = [];
for (const [label, hash, isReady] of pages) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const { page, ms } = await timeUntil(hash, isReady);
    times.push(ms);
    await page.close();
  }
  more.push([label, times]);
}
const f = (v) => `${median(v).toFixed(0)} ms (min ${Math.min(...v).toFixed(0)}, max ${Math.max(...v).toFixed(0)})`;
console.log(`| page, median of ${RUNS} fresh loads | usable after |`);
console.log('|---|---:|');
console.log(`| circuits page (navigation to first rows) | ${f(circuits)} |`);
console.log(`| circuits search (typing to new rows, incl. 250 ms debounce) | ${f(search)} |`);
console.log(`| dashboard (navigation to live figures) | ${f(dashboard)} |`);
for (const [label, times] of more) console.log(`| ${label} | ${f(times)} |`);
await browser.close();
