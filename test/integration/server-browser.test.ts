/**
 * The investigators' page in a real Chromium (Debian's package, driven by playwright-core with a
 * fresh profile): log in, search, watch the job finish, open a packet (layers and bytes), download
 * a page and the whole result and check that tshark reads them, and see a bad value explained.
 * PCAPLINE_SCREENSHOTS=<dir> keeps PNG screenshots of each step there.
 */
import assert from 'node:assert/strict';
import { existsSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { SAMPLE_PATH } from '../helpers/fixtures.js';
import { tsharkCount } from '../helpers/query.js';
import { startServer, testConfig, USERS, type TestServer } from '../helpers/server.js';

const CHROMIUM = process.env.PCAPLINE_CHROMIUM ?? '/usr/bin/chromium';
const work = mkdtempSync(join(tmpdir(), 'pcapline-server-browser-'));
const shots = process.env.PCAPLINE_SCREENSHOTS ?? join(work, 'screenshots');
mkdirSync(shots, { recursive: true });
const data = join(work, 'input');
mkdirSync(data);
copyFileSync(SAMPLE_PATH, join(data, 'pcap_pcap_1458240269373968000_0_sample'));

let s: TestServer;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/test-tools.sh installs Debian's chromium`);
  s = await startServer(await testConfig({ store: 'file:///', basePath: data, pageSize: 5 }));
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1360, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60_000);
  page.on('console', (m) => {
    // Answers with an error status (the 401 before login, the 400 for a bad value) are expected.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('dialog', (d) => void d.accept());
});

after(async () => {
  await context?.close();
  await s?.close();
  rmSync(work, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(shots, name), fullPage: true });

test('log in, search, watch the job finish, open a packet, download and read it with tshark', async () => {
  await page.goto(s.url);
  await page.locator('#login-view').waitFor({ state: 'visible' });
  await shot('01-login.png');
  await page.fill('#login-user', 'alice');
  await page.fill('#login-password', 'wrong-password');
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error', { hasText: 'wrong user name or password' }).waitFor();
  await page.fill('#login-password', USERS.alice);
  await page.click('#login-form button[type=submit]');
  await page.locator('#app-view').waitFor({ state: 'visible' });
  assert.equal(await page.textContent('#who-name'), 'alice');

  await page.fill('input[name=ipDstPort]', '22');
  await page.click('button[data-last=all]');
  await shot('02-query-form.png');
  await page.click('#submit');
  const row = page.locator('#jobs-table tbody tr').first();
  await row.locator('.state', { hasText: 'SUCCEEDED' }).waitFor();
  assert.match((await row.textContent()) ?? '', /10 packets, 2 pages/);

  const packets = page.locator('#packets-table tbody tr');
  await packets.nth(4).waitFor();
  assert.equal(await packets.count(), 5);
  assert.equal(await page.textContent('#page-label'), 'Page 1 of 2');
  const first = await packets.first().locator('td').allTextContents();
  assert.equal(first[4], '192.168.66.121');
  assert.equal(first[5], '22');
  await shot('03-results.png');

  await packets.nth(1).click();
  await page.locator('#detail').waitFor({ state: 'visible' });
  const layers = (await page.textContent('#layers')) ?? '';
  assert.match(layers, /Internet Protocol Version 4, Src: 192\.168\.66\.1, Dst: 192\.168\.66\.121/);
  assert.match(layers, /Transmission Control Protocol/);
  assert.ok((await page.locator('#hex .hexrow').count()) > 3, 'hex rows');
  await page.locator('#layers button.field', { hasText: 'Destination Address: 192.168.66.121' }).click();
  assert.equal(await page.locator('#hex .bytes .hl').count(), 4, 'the four address bytes are highlighted');
  await shot('04-packet.png');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-page')]);
  const pageFile = join(work, download.suggestedFilename());
  assert.match(download.suggestedFilename(), /^pcap_job_\d{13}_[0-9a-f]{16}_1\.pcap$/);
  await download.saveAs(pageFile);
  assert.equal(await tsharkCount(pageFile), 5);

  await page.click('#page-next');
  await page.locator('#page-label', { hasText: 'Page 2 of 2' }).waitFor();
  const [all] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
  const allFile = join(work, all.suggestedFilename());
  await all.saveAs(allFile);
  assert.equal(await tsharkCount(allFile), 10);
});

test('a bad value is explained with the CLI message and the field marked; an expression query runs', async () => {
  await page.fill('input[name=ipDstPort]', '');
  await page.fill('input[name=ipSrcAddr]', '10.0.0.300');
  await page.click('#submit');
  await page.locator('#query-error', { hasText: "ipSrcAddr: '10.0.0.300' is not an IPv4 address" }).waitFor();
  assert.ok(await page.locator('input[name=ipSrcAddr].invalid').count());
  await shot('05-bad-input.png');
  await page.fill('input[name=ipSrcAddr]', '');
  await page.click('#tab-query');
  await page.fill('textarea[name=query]', "BYTEARRAY_MATCHER('2f56abd814bc56420489ca38e7faf8cec3d4', packet)");
  await page.click('#submit');
  await page.locator('#jobs-table tbody tr').nth(1).waitFor();
  const row = page.locator('#jobs-table tbody tr').first();
  await row.locator('.state', { hasText: 'SUCCEEDED' }).waitFor();
  assert.match((await row.textContent()) ?? '', /BYTEARRAY_MATCHER.*1 packet, 1 page/);
  await page.locator('#packets-table tbody tr').first().waitFor();
  assert.equal(await page.locator('#packets-table tbody tr').count(), 1);
  await shot('06-jobs.png');
  assert.deepEqual(problems, [], 'no script errors or CSP violations in the page');
});
