// How long the WebUI's pages take to become usable in headless Chromium: from navigation to
// the first rows of the circuits table (and to the dashboard's live figures, and to a search's
// answer). Used by lqosd's `webui` bench: node page-timing.mjs BASE_URL USER PASSWORD
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
const f = (v) => `${median(v).toFixed(0)} ms (min ${Math.min(...v).toFixed(0)}, max ${Math.max(...v).toFixed(0)})`;
console.log(`| page, median of ${RUNS} fresh loads | usable after |`);
console.log('|---|---:|');
console.log(`| circuits page (navigation to first rows) | ${f(circuits)} |`);
console.log(`| circuits search (typing to new rows, incl. 250 ms debounce) | ${f(search)} |`);
console.log(`| dashboard (navigation to live figures) | ${f(dashboard)} |`);
await browser.close();
