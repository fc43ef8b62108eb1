// The Personal access tokens page's dialogs as a screen reader and a
// keyboard meet them, in headless Chromium, run by t/55-browser.t: what
// the page says while a modal dialog is open is in the accessibility tree
// (the page's own live regions are out of it then), the new token's
// dialog describes its notice, an error answered after its dialog was
// closed is said in the dialog open then; Save leaves focus on the row's
// Edit button; a Create, Save, Rotate or Revoke refused leaves the focus
// in its dialog, on its error, which is announced; an edit, rotation or
// revocation refused because the token is gone (revoked in another tab)
// takes its row away, closes the dialog saying why, and leaves focus on
// Create token; and, tabbing through the page and the Create dialog, each
// focus ring has a contrast of 3:1 with the colours next to it, each
// field's border 3:1 with its background and the one around it, and the
// placeholder 4.5:1 (contrast.mjs).
// Environment (t/55-browser.t sets it):
//   BBT_BASE       the page's and the API's host
//   BBT_DIALOGS_USER, BBT_DIALOGS_PASSWORD   a password user of its own
//   BBT_CHROMIUM   the browser
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './chromium.mjs';
import { restAs } from './rest.mjs';
import { ring, fields, tabThrough, assertRings, assertFields } from './contrast.mjs';

const env = process.env;
const BASE = env.BBT_BASE;
const USER = env.BBT_DIALOGS_USER;
const PASSWORD = env.BBT_DIALOGS_PASSWORD;
const API = `${BASE}/rest/access-tokens/latest/users/${USER}`;
const asUser = { Authorization: 'Basic ' + Buffer.from(USER + ':' + PASSWORD).toString('base64') };
const { rest, sweep } = restAs(API, { ...asUser, 'Content-Type': 'application/json' });
const LIST = new RegExp(`/rest/access-tokens/latest/users/${USER}\\?start=`);

let context, page, close, cdp;

async function open() {
  const res = await page.goto(BASE + '/account/tokens/');
  assert.equal(res.status(), 200);
  await page.locator('#tokens-body tr[data-id], #tokens-body tr.placeholder:not(:has-text("Loading"))').first().waitFor();
}

// Chromium's accessibility tree, as a screen reader has it.
async function axTree() {
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  return nodes;
}

const prop = (n, name) => ((n.properties || []).find((p) => p.name === name) || { value: {} }).value.value;

// The text that a screen reader announces: in a live region (polite or
// assertive), it and the nodes up to the region not ignored (outside an
// open modal dialog they all are: "activeModalDialog").
async function announced() {
  const nodes = await axTree();
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));
  const live = (n) => {
    for (; n && !n.ignored; n = byId.get(n.parentId)) {
      if (['polite', 'assertive'].includes(prop(n, 'live'))) return true;
    }
    return false;
  };
  return nodes.filter((n) => n.role && n.role.value === 'StaticText' && n.name && n.name.value && live(n))
    .map((n) => n.name.value);
}

// Waits until text is announced (at most the page's default timeout);
// what is announced then, for the assertion's message.
async function heard(text) {
  let said = [];
  const until = Date.now() + 15000;
  while (Date.now() < until) {
    said = await announced();
    if (said.some((s) => s.includes(text))) return { ok: true, said };
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ok: false, said };
}

const focused = () => page.evaluate(() => {
  const a = document.activeElement;
  return a ? (a.id ? '#' + a.id : a.tagName.toLowerCase()) + (a.getAttribute('aria-label') ? ' ' + a.getAttribute('aria-label') : '') : null;
});

before(async () => {
  ({ context, close } = await launch(USER, PASSWORD));
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  cdp = await context.newCDPSession(page);
  await cdp.send('Accessibility.enable');
});

after(async () => {
  if (close) await close();
});

test('the new token\'s dialog is described by its notice, and says in itself that the token is shown once', async () => {
  try {
    await open();
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#f-name').fill('Heard');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const shown = page.getByRole('dialog', { name: 'Token created' });
    await shown.waitFor();
    const dialog = (await axTree()).find((n) => !n.ignored && n.role && n.role.value === 'dialog');
    assert.ok(dialog, 'the dialog is in the accessibility tree');
    assert.match((dialog.description || {}).value || '', /It will not be shown again/, 'described by its notice');
    const h = await heard('Copy it now: it is shown only once.');
    assert.ok(h.ok, `announced while the dialog is open: ${JSON.stringify(h.said)}`);
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'hidden' });
  } finally {
    await sweep();
  }
});

test('an error answered after its dialog was closed is said in the dialog open then', async () => {
  const a = await rest('PUT', '', { name: 'Late A', permissions: ['REPO_READ'] });
  const b = await rest('PUT', '', { name: 'Late B', permissions: ['REPO_READ'] });
  const ROTATE = new RegExp(`/users/${USER}/${a.id}/rotate$`);
  const MESSAGE = 'The token database is unavailable; try again later.';
  let release, asked;
  const held = new Promise((r) => { release = r; });
  const seen = new Promise((r) => { asked = r; });
  await page.route(ROTATE, async (route) => {
    asked();
    await held;
    await route.fulfill({ status: 503, contentType: 'application/json', json: { errors: [{ message: MESSAGE }] } })
      .catch(() => {});
  });
  try {
    await open();
    const confirm = page.getByRole('alertdialog', { name: 'Rotate token?' });
    await page.locator(`tr[data-id="${a.id}"]`).getByRole('button', { name: /^Rotate / }).click();
    await confirm.getByRole('button', { name: 'Rotate' }).click();
    await seen;
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    await page.locator(`tr[data-id="${b.id}"]`).getByRole('button', { name: /^Rotate / }).click();
    await confirm.waitFor();
    release();
    await page.locator('#alert', { hasText: MESSAGE }).waitFor();
    assert.match(await page.locator('#alert').innerText(), /Late A/, 'the alert names the token');
    const h = await heard(MESSAGE);
    assert.ok(h.ok, `announced while B's dialog is open: ${JSON.stringify(h.said)}`);
    assert.equal(await page.locator('#rotate-error').isHidden(), true, 'not shown as B\'s own error');
    assert.match(await confirm.innerText(), /Late B/);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
  } finally {
    release();
    await page.unroute(ROTATE);
    await sweep();
  }
});

test('Save in the Edit dialog leaves focus on the row\'s Edit button', async () => {
  const t = await rest('PUT', '', { name: 'Keyboard', permissions: ['REPO_READ'] });
  try {
    await open();
    const row = page.locator(`tr[data-id="${t.id}"]`);
    await row.getByRole('button', { name: /^Edit / }).focus();
    await page.keyboard.press('Enter');
    const edit = page.getByRole('dialog', { name: 'Edit token' });
    await edit.waitFor();
    await page.locator('#f-name').fill('Keyboard renamed');
    // The list the change asks for again, which rebuilds every row.
    const relisted = page.waitForResponse((r) => LIST.test(r.url()));
    await page.keyboard.press('Enter');
    await edit.waitFor({ state: 'hidden' });
    await page.locator('#status', { hasText: 'updated' }).waitFor();
    await (await relisted).finished();
    await page.locator(`tr[data-id="${t.id}"] .name`, { hasText: 'Keyboard renamed' }).waitFor();
    // Let the page's script take the answer (a few turns of its event loop).
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    assert.equal(await focused(), 'button Edit Keyboard renamed');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'button Rotate Keyboard renamed', 'Tab goes on along the row');
  } finally {
    await sweep();
  }
});

// A refusal of what the focused button asked for: the button, disabled
// while the answer is awaited, lost the focus; the error takes it, is
// announced, and Tab goes on from it to the dialog's next button.
async function refusedFromKeyboard(step, dialog, errorBox, message, next) {
  await page.keyboard.press('Enter');
  await page.locator(errorBox, { hasText: message }).waitFor();
  assert.equal(await dialog.isVisible(), true, `${step}: the dialog stays open`);
  assert.equal(await focused(), errorBox, `${step}: the focus on the error, not the page's body`);
  const h = await heard(message);
  assert.ok(h.ok, `${step}: the error announced: ${JSON.stringify(h.said)}`);
  await page.keyboard.press('Tab');
  assert.equal(await focused(), next, `${step}: Tab goes on in the dialog`);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
}

test('a refused Create, Save, Rotate or Revoke leaves the focus in its dialog, on the error, announced', async () => {
  const t = await rest('PUT', '', { name: 'Refused', permissions: ['REPO_READ'] });
  const MESSAGE = 'The token database is unavailable; try again later.';
  const THAT = new RegExp(`/users/${USER}/${t.id}(/rotate)?$`);
  // The server refuses a rotation and a revocation as it does while its
  // database is away.
  await page.route(THAT, async (route) => {
    const req = route.request();
    if (req.method() !== 'DELETE' && !req.url().endsWith('/rotate')) { await route.continue(); return; }
    await route.fulfill({ status: 503, contentType: 'application/json', json: { errors: [{ message: MESSAGE }] } });
  });
  try {
    await open();
    const row = page.locator(`tr[data-id="${t.id}"]`);

    // Create, refused by the server: not a network.
    await page.getByRole('button', { name: 'Create token' }).click();
    const create = page.getByRole('dialog', { name: 'Create token' });
    await create.waitFor();
    await page.locator('#f-name').fill('Refused too');
    await page.locator('#f-nets').fill('nonsense');
    await page.locator('#edit-submit').focus();
    await refusedFromKeyboard('Create', create, '#edit-error', 'not a network', '#edit-cancel');

    // Save, refused likewise.
    await row.getByRole('button', { name: /^Edit / }).click();
    const edit = page.getByRole('dialog', { name: 'Edit token' });
    await edit.waitFor();
    await page.locator('#f-nets').fill('nonsense');
    await page.locator('#edit-submit').focus();
    await refusedFromKeyboard('Save', edit, '#edit-error', 'not a network', '#edit-cancel');

    // Rotate and Revoke, from the keyboard: the dialog opens on Cancel,
    // Tab goes to the button that confirms.
    for (const [step, role] of [['Rotate', 'Rotate token?'], ['Revoke', 'Revoke token?']]) {
      await row.getByRole('button', { name: new RegExp(`^${step} `) }).focus();
      await page.keyboard.press('Enter');
      const confirm = page.getByRole('alertdialog', { name: role });
      await confirm.waitFor();
      await page.keyboard.press('Tab');
      assert.equal(await focused(), `#${step.toLowerCase()}-confirm`);
      await refusedFromKeyboard(step, confirm, `#${step.toLowerCase()}-error`, MESSAGE, `#${step.toLowerCase()}-cancel`);
    }
    assert.equal(await row.count(), 1, 'the token is still listed');
  } finally {
    await page.unroute(THAT);
    await sweep();
  }
});

test('an edit, rotation or revocation of a token revoked elsewhere takes its row away, saying why', async () => {
  for (const step of ['Edit', 'Rotate', 'Revoke']) {
    const t = await rest('PUT', '', { name: `Gone ${step}`, permissions: ['REPO_READ'] });
    try {
      await open();
      const row = page.locator(`tr[data-id="${t.id}"]`);
      await row.waitFor();
      // In another tab, or through the API.
      await rest('DELETE', '/' + t.id);
      await row.getByRole('button', { name: new RegExp(`^${step} `) }).click();
      const dialog = step === 'Edit' ? page.getByRole('dialog', { name: 'Edit token' }) : page.getByRole('alertdialog');
      await dialog.waitFor();
      if (step === 'Edit') {
        await page.locator('#f-name').fill('Gone renamed');
        await dialog.getByRole('button', { name: 'Save' }).click();
      } else {
        await dialog.getByRole('button', { name: step }).click();
      }
      await row.waitFor({ state: 'detached' });
      await dialog.waitFor({ state: 'hidden' });
      await page.locator('#status', { hasText: `Token “Gone ${step}” no longer exists: it was rotated or revoked.` })
        .waitFor();
      assert.equal(await page.locator('dialog[open]').count(), 0, `${step}: no dialog left open`);
      assert.equal(await focused(), '#create-open', `${step}: focus on Create token, the row being gone`);
      assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());
    } finally {
      await sweep();
    }
  }
});

test('contrast: the focus ring 3:1 wherever it is drawn, the fields\' borders 3:1, placeholders 4.5:1', async () => {
  await rest('PUT', '', { name: 'Seen', permissions: ['REPO_READ'] });
  try {
    await open();
    // The places list, once the server has answered.
    await page.locator('#places-wrap').waitFor();
    await page.locator('body').focus();
    const rings = await tabThrough(page, 'body', 40);
    const labels = rings.map((r) => r.label);
    for (const id of ['a Skip to content', '#create-open', '#places', '#holder', '#holder-show']) {
      assert.ok(labels.includes(id), `Tab reaches ${id}: ${labels.join(', ')}`);
    }
    assert.ok(labels.includes('button Revoke Seen'), `Tab reaches a row's buttons: ${labels.join(', ')}`);
    // The skip link's ring is over the top bar, the others over the page,
    // the list's card or a field's own border.
    assertRings(rings);
    const main = await fields(page, 'main');
    assert.ok(main.some((f) => f.id === 'holder' && f.placeholder), `the page's field, with its placeholder: ${JSON.stringify(main)}`);
    assertFields(main);

    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create token' });
    await dialog.waitFor();
    await page.locator('#f-expiry').selectOption('custom');
    await page.locator('#f-name').focus();
    const inDialog = [await ring(page), ...await tabThrough(page, '#edit-dialog', 20)];
    const dlabels = inDialog.map((r) => r.label);
    for (const id of ['#f-name', '#f-expiry', '#f-days', '#f-nets', '#edit-cancel', '#edit-submit']) {
      assert.ok(dlabels.includes(id), `Tab reaches ${id}: ${dlabels.join(', ')}`);
    }
    assertRings(inDialog);
    const boxes = await fields(page, '#edit-dialog');
    assert.deepEqual(boxes.map((f) => f.id).sort(), ['f-days', 'f-expiry', 'f-name', 'f-nets']);
    assertFields(boxes);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  } finally {
    await sweep();
  }
});
