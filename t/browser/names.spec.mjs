// The Personal access tokens page with a token whose name is as long as
// the server allows (255 characters) and has no space to break at, in
// headless Chromium, run by t/55-browser.t: the list keeps every row's
// buttons inside its card, and the status line, the Rotate and Revoke
// confirmations and the new token's dialog keep the name inside the page
// and the dialog, broken over lines; and an allow-list as long as the
// server allows (16 networks) breaks between them rather than widen its
// column; and in a window 320 pixels wide the page does not scroll
// sideways: the list scrolls within its card.
// Environment (t/55-browser.t sets it):
//   BBT_BASE       the page's and the API's host
//   BBT_NAMES_USER, BBT_NAMES_PASSWORD   a password user of its own
//   BBT_CHROMIUM   the browser
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './chromium.mjs';
import { restAs } from './rest.mjs';

const env = process.env;
const BASE = env.BBT_BASE;
const USER = env.BBT_NAMES_USER;
const PASSWORD = env.BBT_NAMES_PASSWORD;
const API = `${BASE}/rest/access-tokens/latest/users/${USER}`;
const asUser = { Authorization: 'Basic ' + Buffer.from(USER + ':' + PASSWORD).toString('base64') };
const { rest, sweep } = restAs(API, { ...asUser, 'Content-Type': 'application/json' });
// A desktop's window, wide enough for every column at its ordinary width.
const VIEWPORT = { width: 1280, height: 800 };

let context, page, close;

// Whether the element's box lies within the box of within (a locator) and
// the window, and the element's content within its own box.
async function inside(what, locator, within) {
  const box = await locator.boundingBox();
  const outer = await within.boundingBox();
  assert.ok(box && outer, `${what}: shown`);
  assert.ok(box.x >= outer.x - 1 && box.x + box.width <= outer.x + outer.width + 1,
    `${what}: within its container horizontally (${box.x}+${box.width} in ${outer.x}+${outer.width})`);
  assert.ok(box.x + box.width <= VIEWPORT.width, `${what}: within the window (${box.x}+${box.width})`);
  const [scroll, client] = await within.evaluate((e) => [e.scrollWidth, e.clientWidth]);
  assert.ok(scroll <= client, `${what}: its container does not overflow (${scroll} > ${client})`);
}

before(async () => {
  ({ context, close } = await launch(USER, PASSWORD, { viewport: VIEWPORT }));
  page = await context.newPage();
  page.setDefaultTimeout(15000);
});

after(async () => {
  if (close) await close();
});

test('a name of 255 characters without a space stays inside the list, the status line and the dialogs', async () => {
  const name = 'W'.repeat(255);
  await rest('PUT', '', { name, permissions: ['REPO_READ'] });
  try {
    await page.goto(BASE + '/account/tokens/');
    const card = page.locator('section.card');
    let row = page.locator('#tokens-body tr[data-id]');
    await row.waitFor();
    await inside('the name', row.locator('.name'), card);
    await inside('the Revoke button', row.getByRole('button', { name: /^Revoke / }), card);

    // Saved without a change: the status line names the token.
    await row.getByRole('button', { name: /^Edit / }).click();
    await page.getByRole('dialog', { name: 'Edit token' }).getByRole('button', { name: 'Save' }).click();
    const status = page.locator('#status');
    await status.getByText('No changes to').waitFor();
    await inside('the status line', status.locator('span'), status);
    await inside('the status line', status, page.locator('main'));

    await row.getByRole('button', { name: /^Revoke / }).click();
    const revoke = page.getByRole('alertdialog', { name: 'Revoke token?' });
    await revoke.waitFor();
    await inside('the name to revoke', page.locator('#revoke-name'), page.locator('#revoke-dialog'));
    await revoke.getByRole('button', { name: 'Cancel' }).click();

    await row.getByRole('button', { name: /^Rotate / }).click();
    const rotate = page.getByRole('alertdialog', { name: 'Rotate token?' });
    await rotate.waitFor();
    await inside('the name to rotate', page.locator('#rotate-name'), page.locator('#rotate-dialog'));
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    const rotated = page.getByRole('dialog', { name: 'Token rotated' });
    await rotated.waitFor();
    await inside('the new token\'s name', page.locator('#new-name'), page.locator('#new-dialog'));
    await rotated.getByRole('button', { name: 'Done' }).click();
    await rotated.waitFor({ state: 'hidden' });

    await status.getByText('rotated').waitFor();
    await inside('the status line', status, page.locator('main'));
    row = page.locator('#tokens-body tr[data-id]');
    await row.waitFor();
    await inside('the rotated token\'s Revoke button', row.getByRole('button', { name: /^Revoke / }), card);
  } finally {
    await sweep();
  }
});

test('an allow-list of 16 long networks stays inside the list', async () => {
  const nets = [];
  for (let i = 0; i < 16; i++) nets.push(`2001:db8:${(0xa000 + i).toString(16)}:ffff:ffff:ffff:ffff:ff00/120`);
  await rest('PUT', '', { name: 'ci', permissions: ['REPO_READ'], allowedAddresses: nets });
  try {
    await page.goto(BASE + '/account/tokens/');
    const card = page.locator('section.card');
    const row = page.locator('#tokens-body tr[data-id]');
    await row.waitFor();
    await inside('the allow-list', row.locator('.nets'), card);
    await inside('the Revoke button', row.getByRole('button', { name: /^Revoke / }), card);
  } finally {
    await sweep();
  }
});

test('in a window 320 pixels wide the page does not scroll sideways, the list scrolls in its card', async () => {
  await rest('PUT', '', { name: 'narrow', permissions: ['REPO_READ'] });
  try {
    await page.setViewportSize({ width: 320, height: 640 });
    await page.goto(BASE + '/account/tokens/');
    await page.locator('#tokens-body tr[data-id]').waitFor();
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth,
      document.documentElement.clientWidth]);
    assert.ok(scroll <= client, `the page is ${scroll} pixels wide in a window of ${client}`);
    const [inCard, card] = await page.locator('section.card').evaluate((e) => [e.scrollWidth, e.clientWidth]);
    assert.ok(inCard > card, `the list is wider than its card (${inCard} in ${card}), which scrolls it`);
  } finally {
    await page.setViewportSize(VIEWPORT);
    await sweep();
  }
});
