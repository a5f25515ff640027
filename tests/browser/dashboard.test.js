// The dashboard in headless Chromium against a real `mailferry serve` and two real Dovecots
// (mailferry-fixture). Started by scripts/browser-tests.sh, which passes in the environment:
//   BASE_URL, TOKEN, and the fixture's SRC_HOST SRC_PORT SRC_CA DST_HOST DST_PORT DST_CA ADMIN ADMIN_PW USERS.
// The tests run in order and build on each other: sign in → endpoints through the wizard →
// a batch from a CSV → synced → user page → complete. Screenshots go to ./screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set (run scripts/browser-tests.sh)`); return v; };
const BASE = env('BASE_URL');
const TOKEN = env('TOKEN');
const FX = Object.fromEntries(['SRC_HOST', 'SRC_PORT', 'SRC_CA', 'DST_HOST', 'DST_PORT', 'DST_CA', 'ADMIN', 'ADMIN_PW', 'USERS'].map((k) => [k, env(k)]));
const USERS = FX.USERS.split(/\s+/).filter(Boolean);
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
mkdirSync(SHOTS, { recursive: true });

// What Debian's Chromium needs on a machine with a closed network and no sandbox.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let browser;
let context;
let page;
const problems = []; // uncaught page errors and console errors

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ARGS, headless: true });
  context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true, colorScheme: 'light' });
  context.setDefaultTimeout(20_000);
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A 401/400/422 the tests provoke on purpose shows as a failed resource load; anything else is a problem.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
});

after(async () => {
  await browser?.close();
});

const shot = async (name) => {
  // From the top, so that the sticky header is not painted in the middle of a full-page picture.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
};
const api = async (path, init = {}) => {
  const res = await fetch(BASE + '/api/v1' + path, { ...init, headers: { Authorization: 'Bearer ' + TOKEN, ...(init.headers || {}) } });
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() };
};
const heading = () => page.locator('main h1');

test('the page and its assets are served without a token, with content types and caching headers', async () => {
  const res = await fetch(BASE + '/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html; charset=utf-8/);
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const html = await res.text();
  const js = html.match(/src="(\/assets\/[0-9a-f]+\/app\.js)"/)[1];
  const css = html.match(/href="(\/assets\/[0-9a-f]+\/app\.css)"/)[1];
  const a = await fetch(BASE + js);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type'), /^text\/javascript/);
  assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const again = await fetch(BASE + js, { headers: { 'If-None-Match': a.headers.get('etag') } });
  assert.equal(again.status, 304);
  assert.match((await fetch(BASE + css)).headers.get('content-type'), /^text\/css/);
  // An asset under another version is still served, but revalidated.
  assert.equal((await fetch(BASE + '/assets/0000/app.js')).headers.get('cache-control'), 'no-cache');
  assert.equal((await fetch(BASE + '/assets/0000/nope.js')).status, 404);
  // The data is not: every /api/v1 call needs the token.
  assert.equal((await fetch(BASE + '/api/v1/batches')).status, 401);
});

test('sign-in: a wrong token is refused, the right one is kept and opens the batches list', async () => {
  await page.goto(BASE + '/');
  await assert.doesNotReject(heading().filter({ hasText: 'Sign in' }).waitFor());
  await page.getByLabel('API token').fill('mf_wrong-token-wrong-token-wrong-token-wrong-tok');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('This token is not valid').waitFor();
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading().filter({ hasText: 'Migration batches' }).waitFor();
  await page.getByText('No batch yet').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('mailferry.token')), TOKEN);
  // Kept: a reload stays signed in.
  await page.reload();
  await heading().filter({ hasText: 'Migration batches' }).waitFor();
});

/** The wizard's by-hand path up to the test result; returns the result panel. */
async function wizardToTest({ email, host, port, ca, password, role, discover }) {
  await page.goto(BASE + '/#/endpoints');
  await page.getByRole('link', { name: '+ New endpoint' }).click();
  await heading().filter({ hasText: 'New endpoint' }).waitFor();
  if (role === 'target') await page.getByLabel('target (mail is copied to it)').check();
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Administrator login').fill(FX.ADMIN);
  await page.getByLabel('Administrator password').fill(password);
  if (discover) {
    await page.getByRole('button', { name: 'Discover settings' }).click();
    // example.test has no DNS here: nothing is found, and step 2 says so and asks for the settings.
    await page.getByText('No settings were found automatically').waitFor({ timeout: 60_000 });
  } else {
    await page.getByRole('button', { name: 'Enter settings by hand' }).click();
  }
  await page.locator('.wizard[data-step="2"]').waitFor();
  await page.getByLabel('IMAP host').fill(host);
  await page.getByLabel('Port').fill(String(port));
  await page.getByLabel('Security').selectOption('tls');
  await page.getByLabel('Impersonation').selectOption('master-user');
  assert.equal(await page.getByLabel('Test mailbox').inputValue(), email, 'the test mailbox defaults to the address');
  await page.locator('summary', { hasText: 'CA certificate (PEM)' }).click();
  await page.getByLabel('Load from a file').setInputFiles(ca);
  await page.waitForFunction(() => document.querySelector('textarea[name=ca_pem]').value.includes('BEGIN CERTIFICATE'));
  await page.getByRole('button', { name: 'Test the connection' }).click();
  const result = page.locator('#test-result');
  await result.waitFor({ timeout: 60_000 });
  return result;
}

test('wizard, source: discovery finds nothing for the fixture, the settings by hand pass every test step, the endpoint is created', async () => {
  const result = await wizardToTest({ email: USERS[0], host: FX.SRC_HOST, port: FX.SRC_PORT, ca: FX.SRC_CA, password: FX.ADMIN_PW, role: 'source', discover: true });
  await result.getByText('Every step passed.').waitFor();
  const steps = result.locator('.steps li');
  assert.ok((await steps.count()) >= 5, 'connect, TLS, greeting, capabilities, login, open-inbox');
  assert.equal(await result.locator('.steps li.step-fail').count(), 0);
  assert.match(await result.locator('li[data-step="open-inbox"]').innerText(), /INBOX|open/i);
  await shot('wizard-test.png');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Endpoint name').fill('src');
  await page.getByRole('button', { name: 'Create endpoint' }).click();
  const done = page.locator('#wizard-done');
  await done.getByText('Endpoint src created').waitFor({ timeout: 60_000 });
  await done.getByText('Verified').waitFor();
});

test('wizard, target: a wrong password shows the failing step and its detail; fixed, the endpoint is created', async () => {
  const failed = await wizardToTest({ email: USERS[0], host: FX.DST_HOST, port: FX.DST_PORT, ca: FX.DST_CA, password: 'not-the-password', role: 'target' });
  await failed.getByText('The test failed.').waitFor();
  const login = failed.locator('li.step-fail');
  assert.equal(await login.count(), 1, 'exactly one step fails');
  assert.equal(await login.getAttribute('data-step'), 'login');
  assert.ok((await login.locator('.step-detail').innerText()).length > 0, 'the failure has a detail');
  assert.ok(await failed.locator('li.step-ok[data-step="tls"]').count(), 'the steps before it passed');
  await shot('wizard-test-failed.png');
  await page.getByRole('button', { name: 'Back to the settings' }).click();
  await page.getByLabel('Administrator password').fill(FX.ADMIN_PW);
  await page.getByRole('button', { name: 'Test the connection' }).click();
  await page.locator('#test-result').getByText('Every step passed.').waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Endpoint name').fill('dst');
  await page.getByRole('button', { name: 'Create endpoint' }).click();
  await page.locator('#wizard-done').getByText('Endpoint dst created').waitFor({ timeout: 60_000 });
});

test('the endpoints list shows both, verified, and tests a stored endpoint', async () => {
  await page.getByRole('link', { name: 'All endpoints' }).click();
  await heading().filter({ hasText: 'Migration endpoints' }).waitFor();
  for (const name of ['src', 'dst']) {
    const row = page.locator(`tr[data-endpoint="${name}"]`);
    await row.waitFor();
    await row.getByText('Verified').waitFor();
    await row.getByText('own CA').waitFor();
  }
  await page.locator('tr[data-endpoint="src"]').getByRole('button', { name: 'Test' }).click();
  await page.getByText('src: the test passed').waitFor({ timeout: 60_000 });
  await shot('endpoints.png');
});

const csvFile = (name, text) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });

test('new batch: a bad CSV shows every row error in place, and nothing is created', async () => {
  await page.goto(BASE + '/#/batches');
  await page.getByRole('link', { name: '+ New batch' }).click();
  await heading().filter({ hasText: 'New batch' }).waitFor();
  await page.getByLabel('Batch name').fill('wave1');
  await page.getByLabel('Source endpoint').selectOption('src');
  await page.getByLabel('Target endpoint').selectOption('dst');
  const bad = ['EmailAddress,UserName,Password', `${USERS[0]},,`, 'not-an-address,,', `${USERS[0]},,`, 'also@bad@example.test,,'].join('\n') + '\n';
  await page.getByLabel('CSV file').setInputFiles(csvFile('bad.csv', bad));
  await page.getByRole('button', { name: 'Create batch' }).click();
  const table = page.locator('#csv-error-rows');
  await table.waitFor();
  const rows = table.locator('tbody tr');
  assert.ok((await rows.count()) >= 3, 'every bad row is listed');
  const lines = await rows.locator('td:first-child').allInnerTexts();
  for (const line of ['3', '4', '5']) assert.ok(lines.includes(line), `line ${line} is listed (got ${lines})`);
  assert.match(await page.locator('#csv-errors').innerText(), /nothing was created/);
  assert.equal(await page.getByLabel('CSV file').getAttribute('aria-invalid'), 'true');
  await shot('csv-errors.png');
  assert.equal((await api('/batches/wave1')).status, 404);
});

test('new batch: a good CSV creates it, it starts, and the page follows it live to Synced', async () => {
  const good = ['EmailAddress,UserName,Password', ...USERS.map((u) => `${u},,`)].join('\n') + '\n';
  await page.getByLabel('CSV file').setInputFiles(csvFile('users.csv', good));
  assert.equal(await page.locator('#csv-error-rows').count(), 0, 'choosing a new file clears the old errors');
  await page.getByLabel('Exclude folders').fill('#Junk#');
  await page.getByLabel('Max message size').fill('8KB');
  await page.getByLabel('Large items allowed').fill('1000');
  assert.ok(await page.getByLabel('Start right after creating it').isChecked());
  await page.getByRole('button', { name: 'Create batch' }).click();
  await page.waitForURL(/#\/batches\/wave1$/);
  await heading().filter({ hasText: 'wave1' }).waitFor();
  // No reload from here on: the page polls.
  const statuses = new Set();
  const deadline = Date.now() + 180_000;
  for (;;) {
    const s = await page.locator('main h1 .badge').getAttribute('data-status');
    statuses.add(s);
    if (s === 'Synced') break;
    assert.ok(!['Failed', 'SyncedWithErrors'].includes(s), `the batch went ${s}`);
    assert.ok(Date.now() < deadline, `not Synced in time (saw ${[...statuses]})`);
    await page.waitForTimeout(250);
  }
  const rows = page.locator('#users tbody tr');
  assert.equal(await rows.count(), USERS.length);
  for (const u of USERS) {
    await page.locator(`tr[data-user="${u}"] .badge[data-status="Synced"]`).waitFor();
  }
  const text = await page.locator('.stats').innerText();
  assert.match(text, /skipped/i);
  assert.equal(await page.getByRole('button', { name: 'Start' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Sync now' }).isEnabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Complete' }).isEnabled(), true);
  await shot('batch-synced.png');
  console.log(`# statuses seen on the page: ${[...statuses].join(' → ')}`);
});

test('the report downloads as CSV with the token', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download report (CSV)' }).click()]);
  assert.equal(download.suggestedFilename(), 'wave1-report.csv');
  const text = readFileSync(await download.path(), 'utf8');
  for (const u of USERS) assert.ok(text.includes(u), `${u} is in the report`);
});

test('the user page shows the status, counters, folders and skipped items', async () => {
  await page.getByRole('link', { name: USERS[0] }).click();
  await heading().filter({ hasText: USERS[0] }).waitFor();
  await page.locator('main h1 .badge[data-status="Synced"]').waitFor();
  const folders = page.locator('#folders tbody tr');
  await folders.first().waitFor();
  assert.ok((await folders.count()) >= 2, 'several folders');
  assert.ok((await page.locator('#folders').innerText()).includes('INBOX'));
  const skipped = page.locator('#skipped tbody tr');
  await skipped.first().waitFor();
  assert.ok((await skipped.count()) >= 1, 'messages over 8KB were skipped');
  assert.equal(await skipped.first().locator('.kind').innerText(), 'large');
  assert.deepEqual(await page.locator('#skipped thead th').allInnerTexts().then((t) => t.map((x) => x.toLowerCase())),
    ['folder', 'uid', 'size', 'date', 'subject', 'kind', 'reason']);
  await shot('user.png');
});

test('the batches list shows the batch with its status, endpoints, progress and last activity', async () => {
  await page.getByRole('link', { name: 'Batches' }).first().click();
  const row = page.locator('tr[data-batch="wave1"]');
  await row.waitFor();
  await row.locator('.badge[data-status="Synced"]').waitFor();
  const text = await row.innerText();
  assert.match(text, /src\s*→\s*dst/);
  assert.match(text, new RegExp(`\\b${USERS.length}\\b`));
  await row.locator('[role=progressbar]').waitFor();
  assert.match(text, /ago|just now/);
  await shot('batches.png');
});

test('batch actions: Sync now, then Complete (cancel, then confirm) until Completed', async () => {
  await page.locator('tr[data-batch="wave1"] a').first().click();
  await heading().filter({ hasText: 'wave1' }).waitFor();
  await page.locator('main h1 .badge[data-status="Synced"]').waitFor();
  await page.getByRole('button', { name: 'Sync now' }).click();
  await page.locator('.toast', { hasText: 'Sync now' }).waitFor();
  await page.getByRole('button', { name: 'Complete' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText('Complete this batch?').waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.notEqual((await api('/batches/wave1')).body.status, 'Completing');
  // Wait until the incremental sync is over, so Complete is a clean final sync.
  await page.locator('main h1 .badge[data-status="Synced"]').waitFor({ timeout: 120_000 });
  await page.getByRole('button', { name: 'Complete' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Complete batch' }).click();
  await page.locator('main h1 .badge[data-status="Completed"]').waitFor({ timeout: 120_000 });
  assert.equal(await page.getByRole('button', { name: 'Complete' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Sync now' }).isDisabled(), true);
});

test('on a small screen the batch page still fits', async () => {
  const mobile = await context.newPage();
  await mobile.setViewportSize({ width: 390, height: 844 });
  await mobile.goto(BASE + '/#/batches/wave1');
  await mobile.locator('main h1', { hasText: 'wave1' }).waitFor();
  await mobile.locator('#users tbody tr').first().waitFor();
  const { overflow, wide } = await mobile.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))
      .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className}`);
    return { overflow: document.documentElement.scrollWidth - w, wide };
  });
  assert.ok(overflow <= 1, `no horizontal scrolling of the page (${overflow}px: ${wide.join(', ')}); wide tables scroll inside their box`);
  await mobile.screenshot({ path: join(SHOTS, 'batch-mobile.png'), fullPage: true });
  await mobile.close();
});

test('a token that stops working sends the browser back to sign-in, then back where it was', async () => {
  await page.evaluate(() => localStorage.setItem('mailferry.token', 'mf_revoked-revoked-revoked-revoked-revoked-revok'));
  await page.goto(BASE + '/#/users/' + encodeURIComponent(USERS[1]));
  await heading().filter({ hasText: 'Sign in' }).waitFor();
  assert.match(page.url(), /#\/signin\?next=/);
  assert.equal(await page.evaluate(() => localStorage.getItem('mailferry.token')), null);
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading().filter({ hasText: USERS[1] }).waitFor();
});

test('no script error happened on any page', () => {
  assert.deepEqual(problems, []);
});
