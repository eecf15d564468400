// The geo pages in the browser (registered by webui.test.mjs, on its demo, before the UISP
// import replaces the example network): ASN Analysis finds an ASN by name, the Flow Globe
// shows a point for a country the demo talks to, the Site Map shows the example's located
// sites, About lists the datasets, the DB-IP link is where its licence wants it, privacy mode
// masks names, and no page asks any host but lqosd for anything.
import assert from 'node:assert/strict';

// The demo's remote server talks from addresses of these test-dataset ASNs/countries
// (scripts/demo.sh, etc/geo-test/).
const DEMO_ASN = { asn: 64501, name: 'Exemple Vidéo CDN, SAS', search: 'vidéo cdn', country: 'FR' };
const SITES = ['Hilltop Tower', 'Riverside', 'Downtown POP', 'Lakeview'];
const PAGES = ['#/', '#/tree', '#/circuits', '#/circuit/1001', '#/unknown', '#/scheduler', '#/issues',
  '#/config', '#/integrations', '#/asns', `#/asns/${DEMO_ASN.asn}`, '#/globe', '#/sitemap', '#/about'];

/**
 * h: {test, URL, ART, admin: () => the admin's page, newPage, login, ADMIN, tid, shot, eventually}
 */
export function registerGeoTests(h) {
  const { test, URL, tid, shot, eventually } = h;

  test('ASN Analysis lists the demo\'s ASNs and finds one by name', async () => {
    const page = h.admin();
    await page.goto(`${URL}/#/asns`);
    await tid(page, 'page-asns').waitFor();
    await eventually(async () => {
      const text = await tid(page, 'asn-table').innerText();
      return text.includes(`AS${DEMO_ASN.asn}`) && text.includes(DEMO_ASN.name);
    }, `AS${DEMO_ASN.asn} has traffic`, 40000);
    // Every sort order renders rows.
    for (const sort of ['flows', 'rtt', 'retransmits', 'bytes']) {
      await tid(page, `asn-sort-${sort}`).click();
      await tid(page, 'asn-table').waitFor();
    }
    assert.match(await tid(page, 'attribution').innerText(), /IP Geolocation by DB-IP/);
    assert.equal(await tid(page, 'attribution').locator('a[href="https://db-ip.com"]').count(), 1);
    await shot(page, '30-asns');
    await tid(page, 'asn-search').fill(DEMO_ASN.search);
    await tid(page, 'asn-search').press('Enter');
    await tid(page, 'asn-search-results').waitFor();
    const row = tid(page, 'asn-search-results').locator('tbody tr').first();
    assert.match(await row.innerText(), new RegExp(`AS${DEMO_ASN.asn}[\\s\\S]*${DEMO_ASN.name}`));
    await shot(page, '31-asn-search');
    await row.getByRole('link', { name: `AS${DEMO_ASN.asn}` }).click();
    await tid(page, 'page-asn').waitFor();
    await eventually(async () => (await tid(page, 'asn-title').innerText()).includes(DEMO_ASN.name), 'the ASN page');
    await eventually(async () => (await tid(page, 'asn-circuits').locator('tbody tr:not(.empty)').count()) > 0,
      'the circuits talking to it', 20000);
    assert.equal(await tid(page, 'asn-trend').locator('.trend-col').count(), 15, '15 minutes of trend');
    assert.ok(await tid(page, 'asn-flows').locator('tbody tr:not(.empty)').count() > 0, 'its flows');
    await shot(page, '32-asn-detail');
    // Privacy mode masks the circuits' names and the flows' addresses.
    await tid(page, 'privacy-toggle').check();
    await eventually(async () => !/100\.64\./.test(await tid(page, 'asn-flows').innerText()), 'addresses masked');
    assert.match(await tid(page, 'asn-circuits').innerText(), /•••••/);
    await tid(page, 'privacy-toggle').uncheck();
  });

  test('the Flow Globe shows a point for a country the demo talks to, and the list by country', async () => {
    const page = h.admin();
    await page.goto(`${URL}/#/globe`);
    await tid(page, 'page-globe').waitFor();
    await eventually(async () => (await tid(page, 'globe-canvas').getAttribute('data-points') ?? '').split(',').includes(DEMO_ASN.country),
      `a point for ${DEMO_ASN.country}`, 30000);
    assert.match(await tid(page, 'globe-countries').innerText(), /France \(FR\)/);
    // Some pixels of the globe are drawn (outlines and points).
    const drawn = await tid(page, 'globe-canvas').evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let coloured = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && !(d[i] > 240 && d[i + 1] > 240 && d[i + 2] > 240)) coloured++;
      return coloured;
    });
    assert.ok(drawn > 1000, `${drawn} coloured pixels`);
    // Drag turns it, the wheel zooms (no error, still drawn).
    const box = await tid(page, 'globe-canvas').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 300, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.mouse.wheel(0, -300);
    assert.match(await tid(page, 'attribution').innerText(), /IP Geolocation by DB-IP/);
    await shot(page, '33-globe');
  });

  test('the Site Map shows the example\'s sites with coordinates, and masks them in privacy mode', async () => {
    const page = h.admin();
    await page.goto(`${URL}/#/sitemap`);
    await tid(page, 'page-sitemap').waitFor();
    await eventually(async () => {
      const text = await tid(page, 'sitemap-sites').innerText();
      return SITES.every((s) => text.includes(s));
    }, 'the located sites are listed');
    // Sites and their APs (which inherit the site's position) are on the canvas.
    const nodes = Number(await tid(page, 'sitemap-canvas').getAttribute('data-nodes'));
    assert.ok(nodes >= SITES.length, `${nodes} nodes drawn`);
    await tid(page, 'sitemap-colour-rtt').click();
    await shot(page, '34-sitemap');
    await tid(page, 'privacy-toggle').check();
    await eventually(async () => !(await tid(page, 'sitemap-sites').innerText()).includes('Hilltop'), 'names masked');
    await tid(page, 'privacy-toggle').uncheck();
  });

  test('About lists every bundled dataset with its licence and attribution', async () => {
    const page = h.admin();
    await page.goto(`${URL}/#/about`);
    await tid(page, 'about-datasets').waitFor();
    const text = await tid(page, 'about-datasets').innerText();
    for (const p of ['@ip-location-db/asn', '@ip-location-db/asn-country', 'world-atlas', 'i18n-iso-countries']) {
      assert.ok(text.includes(p), `${p} listed`);
    }
    assert.match(text, /CC-BY-4\.0/);
    const dbip = tid(page, 'attribution-asn').locator('a[href="https://db-ip.com"]');
    assert.equal(await dbip.innerText(), 'IP Geolocation by DB-IP');
    await shot(page, '35-about');
  });

  test('no page asks any host but lqosd for anything', async () => {
    const page = await h.newPage();
    const origin = new globalThis.URL(URL).origin;
    const foreign = [];
    let requests = 0;
    page.on('request', (r) => {
      requests++;
      const u = r.url();
      if (!u.startsWith('data:') && new globalThis.URL(u).origin !== origin) foreign.push(u);
    });
    await h.login(page, h.ADMIN);
    for (const p of PAGES) {
      await page.goto(`${URL}/${p}`);
      await page.waitForTimeout(1500);
    }
    assert.ok(requests > PAGES.length, `${requests} requests seen`);
    assert.deepEqual(foreign, []);
    await page.context().close();
  });
}
