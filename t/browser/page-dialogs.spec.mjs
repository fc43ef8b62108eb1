// What the Personal access tokens page's dialogs send and leave behind, in
// headless Chromium, run by t/55-page-dialogs.t: a token gets the expiry
// chosen in the Create dialog (90 days unless another is chosen, a
// custom number, none), and a custom 0 days is refused by the page
// itself, nothing sent; every change the page sends (create, edit,
// rotate, revoke) says Content-Type: application/json and
// X-Atlassian-Token: no-check, which the API's cross-site check needs;
// the new token's dialog closed with Escape leaves the token in no field,
// nor the document, the storages or the address; a name, or a refusal's
// message, that is markup is shown as text, never made into elements; an
// expiry less than a week away has a badge counting the days left.
// Environment (t/55-page-dialogs.t sets it):
//   BBT_BASE       the page's and the API's host
//   BBT_USER, BBT_PASSWORD   a password user with no tokens of its own
//   BBT_CHROMIUM   the browser
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './chromium.mjs';
import { restAs } from './rest.mjs';
import { holds } from './page.mjs';

const env = process.env;
const BASE = env.BBT_BASE;
const USER = env.BBT_USER;
const PASSWORD = env.BBT_PASSWORD;
const API = `${BASE}/rest/access-tokens/latest/users/${USER}`;
const asUser = { Authorization: 'Basic ' + Buffer.from(USER + ':' + PASSWORD).toString('base64') };
const { rest, listed, sweep } = restAs(API, { ...asUser, 'Content-Type': 'application/json' });
// Made into elements, it would add a <b> and an <img> whose handler
// renames the document.
const MARKUP = '<img src=x id=pwned onerror="document.title=\'pwned\'"><b>bold</b>';
// How long a step may take on a loaded machine: a limit, never a wait.
const LIMIT = 15000;

let context, page, close;

async function open() {
  const res = await page.goto(BASE + '/account/tokens/');
  assert.equal(res.status(), 200);
  await page.locator('#tokens-body tr[data-id], #tokens-body tr.placeholder:not(:has-text("Loading")), #alert:not([hidden])')
    .first().waitFor();
}

// Fills in the Create dialog and presses Create; expiry is the value of an
// option of the expiry list (left as it is when undefined).
async function createOnPage(name, expiry, days) {
  await page.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  await page.locator('#f-name').fill(name);
  if (expiry !== undefined) await page.locator('#f-expiry').selectOption(expiry);
  if (days !== undefined) await page.locator('#f-days').fill(days);
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  return dialog;
}

before(async () => {
  ({ context, close } = await launch(USER, PASSWORD));
  page = await context.newPage();
  page.setDefaultTimeout(LIMIT);
});
after(async () => { if (close) await close(); });

test('the Create dialog offers 90 days by default', async () => {
  await open();
  await page.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  assert.equal(await page.locator('#f-expiry').inputValue(), '90');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
});

test('the token gets the expiry chosen on the page', async () => {
  try {
    await open();
    for (const [name, expiry, days, want] of [['Thirty', '30', undefined, 30], ['Twelve', 'custom', '12', 12],
      ['Default', undefined, undefined, 90], ['Forever', '', undefined, null]]) {
      await createOnPage(name, expiry, days);
      const shown = page.getByRole('dialog', { name: 'Token created' });
      await shown.waitFor();
      await shown.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'hidden' });
      const t = (await listed()).find((x) => x.name === name);
      assert.ok(t, `${name} made`);
      assert.equal(t.expiryDays ?? null, want, `${name}: expiryDays`);
    }
  } finally { await sweep(); }
});

test('a custom 0 days is refused by the page itself, and nothing is sent', async () => {
  let puts = 0;
  const seeing = (r) => { if (r.method() === 'PUT') puts++; };
  try {
    await open();
    page.on('request', seeing);
    const dialog = await createOnPage('Zero', 'custom', '0');
    await page.locator('#edit-error', { hasText: 'Enter the number of days until the token expires' }).waitFor();
    assert.equal(puts, 0, 'nothing sent');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await listed()).length, 0);
  } finally { page.off('request', seeing); await sweep(); }
});

test('every change the page sends says Content-Type: application/json and X-Atlassian-Token: no-check', async () => {
  const sent = [];
  const seeing = (r) => { if (r.method() !== 'GET' && r.url().includes('/rest/access-tokens/')) sent.push(r); };
  page.on('request', seeing);
  try {
    await open();
    await createOnPage('Headers');
    const shown = page.getByRole('dialog', { name: 'Token created' });
    await shown.waitFor();
    await shown.getByRole('button', { name: 'Done' }).click();
    const row = page.locator('#tokens-body tr[data-id]', { hasText: 'Headers' });
    await row.getByRole('button', { name: /^Edit / }).click();
    await page.locator('#f-name').fill('Headers renamed');
    await page.getByRole('dialog', { name: 'Edit token' }).getByRole('button', { name: 'Save' }).click();
    await page.locator('#status', { hasText: 'updated' }).waitFor();
    await page.locator('#tokens-body tr[data-id]', { hasText: 'Headers renamed' }).getByRole('button', { name: /^Rotate / }).click();
    await page.getByRole('alertdialog', { name: 'Rotate token?' }).getByRole('button', { name: 'Rotate' }).click();
    const rotated = page.getByRole('dialog', { name: 'Token rotated' });
    await rotated.waitFor();
    await rotated.getByRole('button', { name: 'Done' }).click();
    await page.locator('#tokens-body tr[data-id]', { hasText: 'Headers renamed' }).getByRole('button', { name: /^Revoke / }).click();
    await page.getByRole('alertdialog', { name: 'Revoke token?' }).getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#status', { hasText: 'revoked' }).waitFor();
  } finally {
    page.off('request', seeing);
    await sweep();
  }
  const kinds = sent.map((r) => r.method() + (r.url().endsWith('/rotate') ? ' rotate' : ''));
  assert.deepEqual(kinds, ['PUT', 'POST', 'POST rotate', 'DELETE'], 'create, edit, rotate, revoke');
  for (const r of sent) {
    const h = await r.allHeaders();
    assert.equal(h['x-atlassian-token'], 'no-check', `${r.method()} ${r.url()}: X-Atlassian-Token`);
    assert.match(h['content-type'] || '', /^application\/json/, `${r.method()} ${r.url()}: Content-Type`);
  }
});

test('Escape closes the new token\'s dialog and wipes the token from the page', async () => {
  try {
    await open();
    await createOnPage('Escaped');
    const shown = page.getByRole('dialog', { name: 'Token created' });
    await shown.waitFor();
    const secret = await page.locator('#new-token').inputValue();
    assert.match(secret, /^BBDC-/);
    assert.equal(await holds(page, secret), true, 'control: the page holds it while it is shown');
    // The dialog's close event, which the page wipes the token on, comes a
    // moment after Escape hides it.  A listener added now runs after the
    // page's own (added when it loaded): once it has run, so has the wipe.
    await page.evaluate(() => {
      document.getElementById('new-dialog').addEventListener('close', () => { window.bbtClosed = true; }, { once: true });
    });
    await page.keyboard.press('Escape');
    await shown.waitFor({ state: 'hidden' });
    await page.waitForFunction(() => window.bbtClosed === true, null, { timeout: LIMIT });
    assert.equal(await holds(page, secret), false, 'closed with Escape, the token is nowhere on the page');
  } finally { await sweep(); }
});

test('a name that is markup is text in the Rotate confirmation and the new token\'s dialog', async () => {
  try {
    const t = await rest('PUT', '', { name: MARKUP, permissions: ['REPO_READ'] });
    await open();
    await page.locator(`tr[data-id="${t.id}"]`).getByRole('button', { name: /^Rotate / }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Rotate token?' });
    await confirm.waitFor();
    assert.equal(await page.locator('#rotate-name').textContent(), MARKUP, 'the name, character for character');
    assert.equal(await page.locator('#rotate-dialog b, #pwned').count(), 0, 'no element made of it');
    await confirm.getByRole('button', { name: 'Rotate' }).click();
    const shown = page.getByRole('dialog', { name: 'Token rotated' });
    await shown.waitFor();
    assert.equal(await page.locator('#new-name').textContent(), '“' + MARKUP + '”');
    assert.equal(await page.locator('#new-dialog b, #pwned').count(), 0, 'no element made of it');
    await shown.getByRole('button', { name: 'Done' }).click();
    assert.notEqual(await page.title(), 'pwned');
  } finally { await sweep(); }
});

test('the places list\'s refusal, markup, is shown as text', async () => {
  const PLACES = /\/rest\/access-tokens\/latest\/places\?/;
  await page.route(PLACES, (route) => route.fulfill({ status: 503, contentType: 'application/json',
    json: { errors: [{ context: null, message: MARKUP, exceptionName: 'x' }] } }));
  try {
    await open();
    await page.locator('#places-wrap:not([hidden])').waitFor({ state: 'attached' });
    await page.locator('#places-hint', { hasText: 'bold' }).waitFor();
    assert.match(await page.locator('#places-hint').textContent(), /<b>bold<\/b>/, 'the message as the server sent it');
    assert.equal(await page.locator('#places-hint b, #pwned').count(), 0, 'no element made of it');
  } finally { await page.unroute(PLACES); }
});

test('an expiry less than a week away has a badge that counts the days left', async () => {
  try {
    const made = {};
    for (const d of [1, 3, 7, 8]) made[d] = await rest('PUT', '', { name: `Expires ${d}`, permissions: ['REPO_READ'], expiryDays: d });
    await open();
    const badge = (d) => page.locator(`tr[data-id="${made[d].id}"] .badge.soon`);
    assert.equal((await badge(1).textContent()).trim(), 'in 1 day');
    assert.equal((await badge(3).textContent()).trim(), 'in 3 days');
    assert.equal((await badge(7).textContent()).trim(), 'in 7 days', 'a week less a moment away');
    await page.locator(`tr[data-id="${made[8].id}"]`).waitFor();
    assert.equal(await badge(8).count(), 0, 'more than a week away: no badge');
  } finally { await sweep(); }
});
