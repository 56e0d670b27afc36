// The portal's three browser flows, in real headless Chromium (playwright-core, Debian's
// /usr/bin/chromium). Run by scripts/test-portal.sh, which starts `gerbang serve --demo` and
// passes PORTAL_URL, GERBANG_ADMIN_PASSWORD and SCREENSHOT_DIR.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = process.env.PORTAL_URL;
const ADMIN_PASSWORD = process.env.GERBANG_ADMIN_PASSWORD;
const SHOTS = process.env.SCREENSHOT_DIR || '.';
assert.ok(BASE, 'PORTAL_URL is required');
assert.ok(ADMIN_PASSWORD, 'GERBANG_ADMIN_PASSWORD is required');

/** Every URL the browser asked for that is not on loopback (each one fails the run). */
const offLoopback = [];
const pageErrors = [];

function isLoopback(raw) {
  let u;
  try { u = new URL(raw); } catch { return false; }
  if (u.protocol === 'data:' || u.protocol === 'blob:') return true;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

async function newPage(browser) {
  const context = await browser.newContext({
    viewport: { width: 1100, height: 900 },
    locale: 'id-ID',
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLoopback(url)) return route.continue();
    offLoopback.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${page.url()}: console: ${m.text()}`); });
  return { context, page };
}

/** Column values of the preview table, by header name. */
async function columnValues(page, name) {
  return page.$$eval('#preview-table', ([table], col) => {
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
    const i = heads.indexOf(col);
    return [...table.querySelectorAll('tbody tr')].map((tr) => tr.children[i].textContent);
  }, name);
}

// (1) search → open a dataset → filter the preview → copy the URL and fetch it.
async function searchAndPreview(browser) {
  const { context, page } = await newPage(browser);
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'id');

  // English is one click away and remembered; back to Indonesian for the rest.
  await page.click('#lang-switch');
  await page.locator('nav a[href="/datasets"]', { hasText: 'Catalog' }).waitFor();
  await page.reload();
  await page.locator('nav a[href="/datasets"]', { hasText: 'Catalog' }).waitFor();
  await page.click('#lang-switch');
  await page.locator('nav a[href="/datasets"]', { hasText: 'Katalog' }).waitFor();
  // The nav is translated at once, the page when its re-render has fetched its data: typing
  // before that went into the old page's box, and the new, empty one was submitted.
  await page.getByRole('heading', { level: 1, name: 'Data terbuka kota, siap dipakai' }).waitFor();

  await page.fill('#home-q', 'jalan');
  await page.press('#home-q', 'Enter');
  await page.waitForURL(/\/datasets\?q=jalan/);
  const link = page.locator('#results a', { hasText: 'Laporan Warga Jalan Rusak dan Banjir' });
  await link.click();
  await page.waitForURL(/\/datasets\/dinas-pu\/laporan-jalan$/);
  await page.locator('#preview-table tbody tr').first().waitFor();

  // JSON-LD for dataset search engines.
  const ld = JSON.parse(await page.locator('script[type="application/ld+json"]').textContent());
  assert.equal(ld['@type'], 'Dataset');
  assert.equal(ld.name, 'Laporan Warga Jalan Rusak dan Banjir');

  // Filter: district = Balikpapan Barat, highest priority first.
  await page.selectOption('#pf-col', 'district');
  await page.selectOption('#pf-op', 'eq');
  await page.fill('#pf-val', 'Balikpapan Barat');
  await page.selectOption('#pf-order', 'priority');
  await page.selectOption('#pf-dir', 'desc');
  await page.click('#apply');
  await page.waitForFunction(() => document.querySelector('#api-url')?.textContent.includes('district=eq.Balikpapan+Barat'));
  await page.waitForFunction(() => {
    const t = document.querySelector('#preview-table');
    if (!t || document.querySelector('#preview-out[aria-busy]')) return false;
    const heads = [...t.querySelectorAll('thead th')].map((th) => th.textContent);
    const i = heads.indexOf('district');
    const rows = [...t.querySelectorAll('tbody tr')];
    return rows.length > 0 && rows.every((tr) => tr.children[i].textContent === 'Balikpapan Barat');
  });
  const districts = await columnValues(page, 'district');
  const priorities = (await columnValues(page, 'priority')).map(Number);
  assert.deepEqual([...priorities].sort((a, b) => b - a), priorities, 'rows are ordered by priority, descending');

  await page.click('#copy-url');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, await page.locator('#api-url').textContent());
  assert.ok(copied.startsWith(`${BASE}/v1/datasets/dinas-pu/laporan-jalan/versions/`), copied);
  assert.match(copied, /order=priority\.desc/);

  const res = await fetch(copied);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.data.length, districts.length, 'the copied URL answers the rows the table shows');
  assert.ok(body.data.every((r) => r.district === 'Balikpapan Barat'));
  assert.deepEqual(body.data.map((r) => r.priority), priorities);
  assert.ok(body.total > 0 && body.total < 1200, `total ${body.total} is the filtered count`);

  // The map draws the points (no tiles: no tile server is configured).
  await page.locator('#map .leaflet-interactive').first().waitFor();
  await page.screenshot({ path: `${SHOTS}/1-dataset-preview.png`, fullPage: true });
  await context.close();
}

// (2) sign up → key shown once → call the API with it → the usage page shows the call.
async function signUpAndUsage(browser) {
  const { context, page } = await newPage(browser);
  await page.goto(`${BASE}/developers`);
  await page.fill('#su-email', `e2e-${Date.now()}@example.org`);
  await page.fill('#su-name', 'Uji Peramban');
  await page.fill('#su-org', 'Komunitas Data Balikpapan');
  await page.click('#signup-form button[type="submit"]');
  const key = (await page.locator('#new-key').textContent()).trim();
  assert.match(key, /^gbk_/);

  const call = await fetch(`${BASE}/v1/datasets/dlh/titik-sampah/versions/latest/records?limit=3`, {
    headers: { 'X-API-Key': key },
  });
  assert.equal(call.status, 200);
  assert.equal((await call.json()).data.length, 3);

  // Usage is flushed about every second; refresh until the call shows (bounded).
  const deadline = Date.now() + 20000;
  let shown = false;
  while (!shown && Date.now() < deadline) {
    await page.click('#refresh-usage');
    await page.waitForFunction(() => !document.querySelector('#usage [aria-busy]'));
    await page.waitForTimeout(250);
    shown = (await page.locator('#usage-table').textContent()).includes('dlh/titik-sampah');
  }
  assert.ok(shown, 'the usage table shows the call to dlh/titik-sampah');
  assert.match(await page.locator('#quota-left').textContent(), /\d/);
  assert.equal(await page.locator('#keys-table tbody tr').count(), 1);
  await page.screenshot({ path: `${SHOTS}/2-developer-usage.png`, fullPage: true });

  // My keys: create a second key (shown once), revoke it, then roll the session's key.
  page.on('dialog', (d) => d.accept());
  await page.fill('#nk-name', 'kedua');
  await page.click('#create-key-form button[type="submit"]');
  await page.locator('#keys-table tbody tr').nth(1).waitFor();
  const second = (await page.locator('#new-key').textContent()).trim();
  assert.match(second, /^gbk_/);
  assert.notEqual(second, key);
  const secondRow = page.locator('#keys-table tbody tr', { hasText: 'kedua' });
  await secondRow.locator('button.danger').click();
  await secondRow.locator('td', { hasText: 'dicabut' }).waitFor();
  assert.equal((await fetch(`${BASE}/v1/me`, { headers: { 'X-API-Key': second } })).status, 401);

  await page.selectOption('#roll-grace', '0');
  const firstRow = page.locator('#keys-table tbody tr', { hasText: 'default' }).filter({ hasText: 'aktif' });
  await firstRow.locator('button.secondary').click();
  await page.waitForFunction((old) => {
    const k = document.querySelector('#new-key');
    return k && k.textContent.trim() !== old;
  }, second);
  const rolled = (await page.locator('#new-key').textContent()).trim();
  assert.equal((await fetch(`${BASE}/v1/me`, { headers: { 'X-API-Key': rolled } })).status, 200);
  assert.equal((await fetch(`${BASE}/v1/me`, { headers: { 'X-API-Key': key } })).status, 401, 'the rolled key stops at once with no grace');
  await context.close();
}

// (3) publisher login → register → upload a CSV → publish → the version is in the catalog.
async function publish(browser) {
  const { context, page } = await newPage(browser);
  const slug = `sensor-genangan-${Date.now().toString(36)}`;
  await page.goto(`${BASE}/publishers`);
  await page.fill('#lg-user', 'admin');
  await page.fill('#lg-pass', ADMIN_PASSWORD);
  await page.click('#login-form button[type="submit"]');
  await page.locator('#register-form').waitFor();
  await page.selectOption('#pub-agency', 'dinas-pu');

  await page.fill('#rg-slug', slug);
  await page.fill('#rg-title', 'Sensor Genangan Uji Peramban');
  await page.fill('#rg-desc', 'Tinggi genangan dari sensor di tiga kecamatan, diunggah oleh uji peramban.');
  await page.selectOption('#rg-theme', 'environment');
  await page.fill('#rg-tags', 'sensor, genangan');
  await page.fill('#rg-cname', 'Bidang Sumber Daya Air');
  await page.fill('#rg-cemail', 'sda@example.org');
  await page.click('#register-form button[type="submit"]');
  await page.locator('#manage h2', { hasText: 'Sensor Genangan Uji Peramban' }).waitFor();

  const csv = [
    'sensor,district,measured_at,depth_cm,latitude,longitude,note',
    'S-01,Balikpapan Barat,2024-11-01T06:00:00+08:00,12.5,-1.226,116.811,',
    'S-02,Balikpapan Tengah,2024-11-01T06:00:00+08:00,0,-1.253,116.852,kering',
    'S-03,Balikpapan Selatan,2024-11-01T06:00:00+08:00,31.0,-1.264,116.895,',
  ].join('\n');
  await page.setInputFiles('#up-file', { name: 'sensor.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.fill('#up-changelog', 'Rilis pertama dari uji peramban.');
  await page.click('#upload-form button[type="submit"]');
  await page.locator('#inferred-schema').waitFor();
  assert.equal(await page.locator('#upload-progress').evaluate((p) => p.value), 100);
  const schema = await page.locator('#inferred-schema tbody').textContent();
  assert.ok(schema.includes('depth_cm') && schema.includes('number'), schema);
  await page.click('#publish-uploaded');
  await page.locator('#pub-versions tr[data-version="1"] .status', { hasText: 'terbit' }).waitFor();
  await page.screenshot({ path: `${SHOTS}/3a-publisher.png`, fullPage: true });

  // The catalog shows the new dataset with its published version; its page previews it.
  await page.click('nav a[href="/datasets"]');
  await page.fill('#catalog-q', 'Sensor Genangan');
  await page.press('#catalog-q', 'Enter');
  const item = page.locator('#results li', { hasText: 'Sensor Genangan Uji Peramban' });
  await item.waitFor();
  assert.match(await item.textContent(), /v1/);
  await item.locator('a').first().click();
  await page.waitForURL(new RegExp(`/datasets/dinas-pu/${slug}$`));
  await page.locator('#versions li[data-version="1"]', { hasText: 'Rilis pertama dari uji peramban.' }).waitFor();
  await page.locator('#preview-table tbody tr').nth(2).waitFor();
  await page.screenshot({ path: `${SHOTS}/3b-published-dataset.png`, fullPage: true });

  // Deprecate it from the publisher page.
  await page.click('nav a[href="/publishers"]');
  await page.selectOption('#pub-agency', 'dinas-pu');
  await page.selectOption('#pub-dataset', slug);
  await page.click('#manage-button');
  await page.locator('#manage h2', { hasText: 'Sensor Genangan Uji Peramban' }).waitFor();
  await page.locator('#pub-versions tr[data-version="1"] button.danger').click();
  await page.locator('#pub-versions tr[data-version="1"] .status', { hasText: 'usang' }).waitFor();
  await context.close();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Root in CI containers cannot use Chromium's sandbox.
  args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
});
let failed = false;
for (const [name, flow] of [['search → preview → copy URL', searchAndPreview], ['sign up → key → usage', signUpAndUsage], ['publish → catalog', publish]]) {
  const started = Date.now();
  try {
    await flow(browser);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed = true;
    console.error(`FAIL ${name}\n${e.stack || e}`);
  }
}
await browser.close();
if (offLoopback.length) {
  failed = true;
  console.error(`FAIL requests left loopback:\n  ${offLoopback.join('\n  ')}`);
} else {
  console.log('ok   no request left loopback');
}
if (pageErrors.length) {
  failed = true;
  console.error(`FAIL page errors:\n  ${pageErrors.join('\n  ')}`);
}
process.exit(failed ? 1 : 0);
