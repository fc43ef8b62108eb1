// The Personal access tokens page against what the API answers, and when,
// in headless Chromium, run by t/55-browser.t: a list whose paging never
// ends, a list that answers after the user changed something, a token
// whose name the user did not touch, a rotation answered after its
// dialog was closed, a rotation whose outcome the server could not learn
// (its message kept, the list asked for again), a token gone while its Edit dialog is open (revoked
// elsewhere, or rotated by such an answer) or its Rotate or Revoke
// confirmation is, or pushed down the list by new
// ones, a new token answered while
// another is shown, or
// after the user turned to another holder (the user's personal project,
// which they administer), a change answered after that, a long name
// outside the BMP, a short maximum expiry, a second
// page (the focus going on to its first row), markup in names and
// messages, and Back to the page after a new
// token was shown (loaded anew, or, served without its no-store, from the
// back/forward cache).  The page and the API are the real ones; a few
// answers are held back or replaced (Playwright's routing) to play a slow
// or broken server.
// Environment (t/55-browser.t sets it):
//   BBT_BASE       the page's and the API's host
//   BBT_ANSWERS_USER, BBT_ANSWERS_PASSWORD   a password user of its own,
//                  with no tokens (the other specs' lists stay theirs)
//   BBT_CLI, BBT_DB  the bbtoken CLI and its --db, for the expiry policy
//   BBT_CHROMIUM   the browser
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { launch } from './chromium.mjs';
import { restAs } from './rest.mjs';

const env = process.env;
const BASE = env.BBT_BASE;
const USER = env.BBT_ANSWERS_USER;
const PASSWORD = env.BBT_ANSWERS_PASSWORD;
const API = `${BASE}/rest/access-tokens/latest/users/${USER}`;
// The user's personal project, which they administer, and its tokens.
const PERSONAL = '~' + USER.toLowerCase();
const PERSONAL_API = `${BASE}/rest/access-tokens/latest/projects/${PERSONAL}`;
const asUser = { Authorization: 'Basic ' + Buffer.from(USER + ':' + PASSWORD).toString('base64') };
// sweep(...prefixes) revokes the tokens, the user's and their personal
// project's, whose names start with one of prefixes: what a test made,
// even when it failed.
const { rest, listed, sweep } = restAs(API, { ...asUser, 'Content-Type': 'application/json' }, [API, PERSONAL_API]);
// The page's requests for the user's list, and no other.
const LIST = new RegExp(`/rest/access-tokens/latest/users/${USER}\\?start=`);

let context, page, close;

async function open() {
  const res = await page.goto(BASE + '/account/tokens/');
  assert.equal(res.status(), 200);
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
}

// Until the list is shown: its rows, or the "no tokens" line, or an error.
async function settled() {
  await page.locator('#tokens-body tr[data-id], #tokens-body tr.placeholder:not(:has-text("Loading")), #alert:not([hidden])')
    .first().waitFor();
}

// Holds back the answers to the page's requests whose URL matches pattern
// (and whose method is method, when given): the server has done the work
// once seen resolves, the page learns of it only after release().
// deliver() releases them and waits until the page has had the first.
async function hold(pattern, method) {
  let release, asked;
  const held = new Promise((r) => { release = r; });
  const seen = new Promise((r) => { asked = r; });
  const ours = (req) => pattern.test(req.url()) && (!method || req.method() === method);
  await page.route(pattern, async (route) => {
    if (!ours(route.request())) { await route.continue(); return; }
    const res = await route.fetch();
    asked();
    await held;
    // After a failure the route may be gone already.
    await route.fulfill({ response: res }).catch(() => {});
  });
  return {
    seen,
    async deliver() {
      const late = page.waitForResponse((r) => ours(r.request()));
      release();
      await (await late).finished();
      // Let the page's script take the answer (a few turns of its event loop).
      await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
    },
    async done() { release(); await page.unroute(pattern); },
  };
}

// Shows the tokens of holder (a project key), or the user's own (null).
async function showHolder(holder) {
  await page.locator('#holder').fill(holder || '');
  await page.locator('#holder-show').click();
  await page.getByRole('heading', { level: 1, name: holder ? 'Access tokens of project ' + holder : 'Personal access tokens' })
    .waitFor();
}

before(async () => {
  ({ context, close } = await launch(USER, PASSWORD));
  page = await context.newPage();
  page.setDefaultTimeout(15000);
});

after(async () => {
  if (close) await close();
});

test('a list whose paging goes nowhere is not followed for ever', async () => {
  const made = await rest('PUT', '', { name: 'Paged', permissions: ['REPO_READ'] });
  // The server says there is more, at the start it was asked for (or one
  // further, with the same token again): a broken paging the page must not
  // follow for ever.  Past the third request the answer is a network error,
  // which the page would show.
  for (const step of [0, 1]) {
    let asked = 0;
    await page.route(LIST, async (route) => {
      asked++;
      if (asked > 3) { await route.abort(); return; }
      const url = new URL(route.request().url());
      const start = Number(url.searchParams.get('start'));
      url.searchParams.set('start', '0');
      const res = await route.fetch({ url: url.href });
      const first = await res.json();
      await route.fulfill({ response: res, json: { ...first, isLastPage: false, nextPageStart: start + step } });
    });
    try {
      await open();
      await settled();
      assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());
      assert.equal(await page.locator(`tr[data-id="${made.id}"]`).count(), 1, 'the token is listed');
      // At the start: no next page.  One further: the next page adds no
      // token, and the page stops there.
      assert.equal(asked, step ? 2 : 1, `nextPageStart ${step ? 'one past' : 'at'} start: asked for ${step ? 'twice' : 'once'}`);
      assert.equal(await page.locator('#more').isVisible(), !!step, 'more to show only where the start moves on');
    } finally {
      await page.unroute(LIST);
    }
  }
  await rest('DELETE', '/' + made.id);
});

test('while a list is on its way, a row\'s buttons work, and an older answer is not shown', async () => {
  const a = await rest('PUT', '', { name: 'Race A', permissions: ['REPO_READ'] });
  const b = await rest('PUT', '', { name: 'Race B', permissions: ['REPO_READ'] });
  await open();
  await page.locator(`tr[data-id="${b.id}"]`).waitFor();

  // The list asked for after the rename is answered by the server at once
  // (so it still holds B) but reaches the page only at the end.
  let release, asked;
  const held = new Promise((r) => { release = r; });
  const seen = new Promise((r) => { asked = r; });
  let first = true;
  await page.route(LIST, async (route) => {
    if (!first) { await route.continue(); return; }
    first = false;
    const res = await route.fetch();
    asked();
    await held;
    // After a failure the route may be gone already.
    await route.fulfill({ response: res }).catch(() => {});
  });
  try {
    await page.locator(`tr[data-id="${a.id}"]`).getByRole('button', { name: /^Edit / }).click();
    const edit = page.getByRole('dialog', { name: 'Edit token' });
    await edit.waitFor();
    await page.locator('#f-name').fill('Race A renamed');
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'hidden' });
    await seen;

    // The list is still on its way: B's Revoke opens its dialog.
    await page.locator(`tr[data-id="${b.id}"]`).getByRole('button', { name: /^Revoke / }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Revoke token?' });
    assert.equal(await confirm.isVisible(), true, 'Revoke does something while the list is reloading');
    assert.match(await confirm.innerText(), /Race B/);
    const relisted = page.waitForResponse((r) => LIST.test(r.url()));
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#status', { hasText: 'revoked' }).waitFor();
    await relisted;
    await page.locator(`tr[data-id="${b.id}"]`).waitFor({ state: 'detached' });
    assert.deepEqual((await listed()).map((t) => t.id).filter((id) => id === a.id || id === b.id), [a.id],
      'the server has A, not B');

    // Now the older answer, from before the revoke, arrives.
    const late = page.waitForResponse((r) => LIST.test(r.url()));
    release();
    await (await late).finished();
    // Let the page's script take the answer (a few turns of its event loop).
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
  } finally {
    release();
    await page.unroute(LIST);
  }
  assert.equal(await page.locator(`tr[data-id="${b.id}"]`).count(), 0, 'the revoked token is not shown again');
  assert.match(await page.locator(`tr[data-id="${a.id}"]`).innerText(), /Race A renamed/);
  await rest('DELETE', '/' + a.id);
});

test('editing a token\'s permissions keeps its name as it is', async () => {
  // A name with spaces inside is a valid name (the CLI's rule; spaces
  // around it are refused, version 45).
  const name = 'Spaced   out';
  const t = await rest('PUT', '', { name, permissions: ['PROJECT_READ', 'REPO_READ'] });
  assert.equal(t.name, name);
  await open();
  const row = page.locator(`tr[data-id="${t.id}"]`);
  await row.getByRole('button', { name: /^Edit / }).click();
  const dialog = page.getByRole('dialog', { name: 'Edit token' });
  await dialog.waitFor();
  await dialog.getByRole('group', { name: 'Repository permission' }).getByLabel('Write').check();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator('#status', { hasText: 'updated' }).waitFor();
  const now = (await listed()).find((x) => x.id === t.id);
  assert.deepEqual(now.permissions, ['PROJECT_READ', 'REPO_WRITE'], 'the permission changed');
  assert.equal(now.name, name, 'the name is unchanged');

  // Nothing changed: nothing is sent.
  await row.getByRole('button', { name: /^Edit / }).click();
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Save' }).click();
  await page.locator('#status', { hasText: 'No changes' }).waitFor();
  assert.equal((await listed()).find((x) => x.id === t.id).name, name);

  // A name the user typed is taken without the spaces around it.
  await row.getByRole('button', { name: /^Edit / }).click();
  await dialog.waitFor();
  await page.locator('#f-name').fill('  Spaced in ');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await page.locator('#status', { hasText: 'updated' }).waitFor();
  assert.equal((await listed()).find((x) => x.id === t.id).name, 'Spaced in');
  await rest('DELETE', '/' + t.id);
});

test('a rotation answered after its dialog was closed closes no other dialog', async () => {
  const a = await rest('PUT', '', { name: 'Late A', permissions: ['REPO_READ'] });
  const b = await rest('PUT', '', { name: 'Late B', permissions: ['REPO_READ'] });
  await open();
  await page.locator(`tr[data-id="${b.id}"]`).waitFor();

  // A's rotation is done by the server at once, but its answer reaches the
  // page only after the user has closed that dialog and opened B's.
  const ROTATE = new RegExp(`/users/${USER}/${a.id}/rotate$`);
  let release, asked;
  const held = new Promise((r) => { release = r; });
  const seen = new Promise((r) => { asked = r; });
  await page.route(ROTATE, async (route) => {
    const res = await route.fetch();
    asked();
    await held;
    await route.fulfill({ response: res }).catch(() => {});
  });
  const confirm = page.getByRole('alertdialog', { name: 'Rotate token?' });
  try {
    await page.locator(`tr[data-id="${a.id}"]`).getByRole('button', { name: /^Rotate / }).click();
    await confirm.waitFor();
    await confirm.getByRole('button', { name: 'Rotate' }).click();
    await seen;
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    await page.locator(`tr[data-id="${b.id}"]`).getByRole('button', { name: /^Rotate / }).click();
    await confirm.waitFor();
    assert.match(await confirm.innerText(), /Late B/);
    release();
    // The new token of A is shown all the same: it cannot be shown again.
    const shown = page.getByRole('dialog', { name: 'Token rotated' });
    await shown.waitFor();
    assert.match(await shown.innerText(), /Late A/);
    assert.notEqual(await page.locator('#new-token').inputValue(), '', 'the new token is shown');
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'hidden' });
  } finally {
    release();
    await page.unroute(ROTATE);
  }
  assert.equal(await confirm.isVisible(), true, 'B\'s dialog is still open');
  assert.match(await confirm.innerText(), /Late B/);
  assert.equal(await page.locator(`tr[data-id="${b.id}"]`).count(), 1, 'B is still listed');
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'hidden' });
  for (const t of await listed()) {
    if (t.name === 'Late A' || t.name === 'Late B') await rest('DELETE', '/' + t.id);
  }
});

test('a rotation whose outcome the server could not learn: its message stays, and the list is asked for again', async () => {
  const t = await rest('PUT', '', { name: 'Not known', permissions: ['REPO_READ'] });
  await open();
  await page.locator(`tr[data-id="${t.id}"]`).waitFor();

  // The server rotates the token, but the page is answered as the API
  // answers a rotation whose COMMIT's answer was lost and whose database
  // could not be asked again (t/88-rest-commit-lost).
  const ROTATE = new RegExp(`/users/${USER}/${t.id}/rotate$`);
  let made = null;
  await page.route(ROTATE, async (route) => {
    const res = await route.fetch();
    made = (await res.json()).id;
    await route.fulfill({ status: 503, contentType: 'application/json', json: { errors: [{ context: null,
      message: 'The connection to the token database was lost before it confirmed the change, so whether token '
        + `${t.id} was rotated into token ${made} is not known. If token ${t.id} is still listed, it was not `
        + `rotated and is still valid; if token ${made} is listed instead, its secret cannot be shown again: `
        + 'revoke it (or rotate it for a new secret).',
      exceptionName: 'com.atlassian.bitbucket.ServiceUnavailableException' }] } });
  });
  const confirm = page.getByRole('alertdialog', { name: 'Rotate token?' });
  try {
    await page.locator(`tr[data-id="${t.id}"]`).getByRole('button', { name: /^Rotate / }).click();
    await confirm.getByRole('button', { name: 'Rotate' }).click();
    // Once the list asked for again has answered, the page's alert holds
    // the message; the list shows what the database holds, the token the
    // message names in place of the old one, whose dialog is closed.
    const alert = page.locator('#alert', { hasText: 'is not known' });
    await alert.waitFor();
    assert.match(await alert.innerText(), new RegExp(`^Rotating the token “Not known”: .*whether token ${t.id} was `
      + `rotated into token ${made} is not known`), 'the alert keeps the message, naming what failed');
    assert.equal(await page.locator(`tr[data-id="${made}"]`).count(), 1, 'the new token is listed');
    assert.equal(await page.locator(`tr[data-id="${t.id}"]`).count(), 0, 'the old one is not');
    await confirm.waitFor({ state: 'hidden' });
  } finally {
    await page.unroute(ROTATE);
    // Whatever failed, the next test finds no dialog open and none of
    // these tokens.
    if (await confirm.isVisible()) await confirm.getByRole('button', { name: 'Cancel' }).click();
    for (const x of await listed()) {
      if (x.name === 'Not known') await rest('DELETE', '/' + x.id);
    }
  }
});

test('the Edit dialog of a token that a reload no longer lists closes, and the page says why', async () => {
  const edit = page.getByRole('dialog', { name: 'Edit token' });
  // Revoked elsewhere, and the list reloaded by another revocation's
  // answer; or rotated by the page itself, its answer coming while the
  // token's Edit dialog is open.
  for (const step of ['revoked', 'rotated']) {
    const a = await rest('PUT', '', { name: `Gone ${step}`, permissions: ['REPO_READ'] });
    const b = step === 'revoked' ? await rest('PUT', '', { name: 'Gone other', permissions: ['REPO_READ'] }) : null;
    await open();
    const row = page.locator(`tr[data-id="${a.id}"]`);
    await row.waitFor();
    const h = step === 'revoked'
      ? await hold(new RegExp(`/users/${USER}/${b.id}$`), 'DELETE')
      : await hold(new RegExp(`/users/${USER}/${a.id}/rotate$`), 'POST');
    try {
      const other = step === 'revoked' ? page.locator(`tr[data-id="${b.id}"]`) : row;
      await other.getByRole('button', { name: step === 'revoked' ? /^Revoke / : /^Rotate / }).click();
      await page.getByRole('alertdialog').getByRole('button', { name: step === 'revoked' ? 'Revoke' : 'Rotate' })
        .click();
      await h.seen;
      await page.keyboard.press('Escape');
      await page.locator('dialog[open]').waitFor({ state: 'detached' });
      await row.getByRole('button', { name: /^Edit / }).click();
      await edit.waitFor();
      await page.locator('#f-name').fill('Gone renamed');
      if (step === 'revoked') await rest('DELETE', '/' + a.id);
      await h.deliver();
      if (step === 'rotated') {
        const rotated = page.getByRole('dialog', { name: 'Token rotated' });
        await rotated.waitFor();
        assert.equal(await edit.isVisible(), false, 'the Edit dialog closed with the rotation');
        await rotated.getByRole('button', { name: 'Done' }).click();
        await rotated.waitFor({ state: 'hidden' });
      } else {
        await edit.waitFor({ state: 'hidden' });
        await page.locator('#status', { hasText: `Token “Gone ${step}” no longer exists: it was rotated or revoked.` })
          .waitFor();
      }
      assert.equal(await page.locator('#edit-dialog').evaluate((d) => d.open), false, `${step}: no Save to press`);
      await row.waitFor({ state: 'detached' });
      const names = (await listed()).map((t) => t.name).filter((n) => n.startsWith('Gone ')).sort();
      assert.deepEqual(names, step === 'revoked' ? [] : [`Gone ${step}`], `${step}: nothing renamed`);
    } finally {
      await h.done();
      await sweep('Gone ');
    }
  }
});

test('a Rotate or Revoke confirmation of a token that a reload no longer lists closes, and the page says why', async () => {
  // The token revoked elsewhere while its confirmation is open; the list
  // reloaded by another revocation's answer.
  for (const step of ['Rotate', 'Revoke']) {
    const a = await rest('PUT', '', { name: `Asked ${step}`, permissions: ['REPO_READ'] });
    const b = await rest('PUT', '', { name: 'Asked other', permissions: ['REPO_READ'] });
    await open();
    const row = page.locator(`tr[data-id="${a.id}"]`);
    await row.waitFor();
    const h = await hold(new RegExp(`/users/${USER}/${b.id}$`), 'DELETE');
    try {
      await page.locator(`tr[data-id="${b.id}"]`).getByRole('button', { name: /^Revoke / }).click();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke' }).click();
      await h.seen;
      await page.keyboard.press('Escape');
      await page.locator('dialog[open]').waitFor({ state: 'detached' });
      await row.getByRole('button', { name: new RegExp(`^${step} `) }).click();
      const confirm = page.getByRole('alertdialog');
      await confirm.waitFor();
      assert.match(await confirm.innerText(), new RegExp(`Asked ${step}`));
      await rest('DELETE', '/' + a.id);
      await h.deliver();
      await confirm.waitFor({ state: 'hidden' });
      await page.locator('#status', { hasText: `Token “Asked ${step}” no longer exists: it was rotated or revoked.` })
        .waitFor();
      assert.equal(await page.locator('dialog[open]').count(), 0, `${step}: no confirmation left to press`);
      await row.waitFor({ state: 'detached' });
    } finally {
      await h.done();
      await sweep('Asked ');
    }
  }
});

test('a reload looks for the token being edited past the tokens shown', async () => {
  // 26 tokens, newest first: 25 shown, the one edited last of them.
  const made = [];
  for (let i = 0; i < 26; i++) made.push((await rest('PUT', '', { name: `Deep ${i}`, permissions: ['REPO_READ'] })).id);
  await open();
  await settled();
  const h = await hold(new RegExp(`/users/${USER}/${made[25]}$`), 'DELETE');
  try {
    await page.locator(`tr[data-id="${made[25]}"]`).getByRole('button', { name: /^Revoke / }).click();
    await page.getByRole('alertdialog', { name: 'Revoke token?' }).getByRole('button', { name: 'Revoke' }).click();
    await h.seen;
    await page.keyboard.press('Escape');
    await page.locator(`tr[data-id="${made[1]}"]`).getByRole('button', { name: /^Edit / }).click();
    const edit = page.getByRole('dialog', { name: 'Edit token' });
    await edit.waitFor();
    await page.locator('#f-name').fill('Deep renamed');
    // Two made elsewhere push it to the second page of the list that the
    // revocation's answer reloads.
    for (const n of ['Deep new 1', 'Deep new 2']) await rest('PUT', '', { name: n, permissions: ['REPO_READ'] });
    await h.deliver();
    await page.locator('#tokens-body tr', { hasText: 'Deep new 2' }).waitFor();
    assert.equal(await edit.isVisible(), true, 'still being edited');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.locator('#status', { hasText: 'updated' }).waitFor();
    assert.equal((await listed()).find((t) => t.id === made[1]).name, 'Deep renamed');
  } finally {
    await h.done();
    await sweep('Deep ');
  }
});

test('a new token answered while another is shown waits until that one is closed', async () => {
  const newToken = page.locator('#new-token');
  const created = page.getByRole('dialog', { name: 'Token created' });
  const rotated = page.getByRole('dialog', { name: 'Token rotated' });
  const confirm = page.getByRole('alertdialog', { name: 'Rotate token?' });
  // Either order: the rotation's answer held back while a token is
  // created, or the creation's while a token is rotated.
  for (const first of ['rotate', 'create']) {
    const a = await rest('PUT', '', { name: `Queued ${first}`, permissions: ['REPO_READ'] });
    await open();
    const row = page.locator(`tr[data-id="${a.id}"]`);
    await row.waitFor();
    const rotate = async () => {
      await row.getByRole('button', { name: /^Rotate / }).click();
      await confirm.getByRole('button', { name: 'Rotate' }).click();
    };
    const create = async () => {
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.locator('#f-name').fill(`Made ${first}`);
      await page.getByRole('button', { name: 'Create', exact: true }).click();
    };
    const [heldDialog, heldName, shownDialog] = first === 'rotate'
      ? [rotated, `Queued ${first}`, created] : [created, `Made ${first}`, rotated];
    const h = first === 'rotate'
      ? await hold(new RegExp(`/users/${USER}/${a.id}/rotate$`), 'POST')
      : await hold(new RegExp(`/users/${USER}$`), 'PUT');
    try {
      await (first === 'rotate' ? rotate() : create());
      await h.seen;
      await page.keyboard.press('Escape');
      await page.locator('dialog[open]').waitFor({ state: 'detached' });
      await (first === 'rotate' ? create() : rotate());
      await shownDialog.waitFor();
      const shown = await newToken.inputValue();
      assert.match(shown, /^BBDC-/);
      await h.deliver();
      assert.equal(await shownDialog.isVisible(), true, 'the token shown is still shown');
      assert.equal(await newToken.inputValue(), shown, 'its secret too');
      assert.match(await page.locator('#new-more').innerText(), new RegExp(heldName),
        'the dialog says which token waits');
      await shownDialog.getByRole('button', { name: 'Done' }).click();
      // Then the one that waited, in a dialog of its own that says which.
      await heldDialog.waitFor();
      assert.match(await heldDialog.innerText(), new RegExp(`“${heldName}”`));
      const next = await newToken.inputValue();
      assert.match(next, /^BBDC-/);
      assert.notEqual(next, shown);
      assert.ok((await page.locator('#clone-bearer').inputValue()).includes(`Bearer ${next}"`), 'its Bearer line');
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'new-token',
        'focus on the token');
      assert.equal(await page.locator('#new-more').isVisible(), false, 'nothing more waits');
      await heldDialog.getByRole('button', { name: 'Done' }).click();
      await page.locator('#new-dialog').waitFor({ state: 'hidden' });
      assert.equal(await newToken.inputValue(), '', 'the page forgets it');
      const names = (await listed()).map((t) => t.name).sort();
      assert.deepEqual(names, [`Made ${first}`, `Queued ${first}`]);
    } finally {
      await h.done();
      await sweep('Made ', 'Queued ');
    }
  }
});

test('a new token answered after the user turned to another holder has its own holder\'s clone lines', async () => {
  const created = page.getByRole('dialog', { name: 'Token created' });
  const cases = [
    { from: null, to: PERSONAL, name: 'Held mine', who: USER, project: 'PROJECT', url: new RegExp(`/users/${USER}$`) },
    { from: PERSONAL, to: null, name: 'Held theirs', who: 'x-token-auth', project: PERSONAL,
      url: new RegExp(`/projects/${PERSONAL}$`) },
  ];
  for (const c of cases) {
    await open();
    await settled();
    if (c.from) await showHolder(c.from);
    const h = await hold(c.url, 'PUT');
    try {
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.locator('#f-name').fill(c.name);
      await page.getByRole('button', { name: 'Create', exact: true }).click();
      await h.seen;
      await page.keyboard.press('Escape');
      await showHolder(c.to);
      await h.deliver();
      await created.waitFor();
      assert.match(await created.innerText(), new RegExp(`“${c.name}”`));
      const basic = await page.locator('#clone-basic').inputValue();
      assert.ok(basic.includes(`//${c.who}@`) && basic.endsWith(`/scm/${c.project}/REPO.git`),
        `the clone line of ${c.from || 'the user'}'s token: ${basic}`);
      assert.equal(await page.locator('#new-project').inputValue(), c.project);
      await created.getByRole('button', { name: 'Done' }).click();
      await created.waitFor({ state: 'hidden' });
      const made = await listed(c.from ? PERSONAL_API : API);
      assert.deepEqual(made.map((t) => t.name).filter((n) => n.startsWith('Held ')), [c.name], 'made for its holder');
    } finally {
      await h.done();
      await sweep('Held ');
    }
  }
});

test('an edit, rotation or revocation answered after the user turned to another holder leaves that holder\'s list alone', async () => {
  let id = (await rest('PUT', '', { name: 'Elsewhere', permissions: ['PROJECT_READ', 'REPO_READ'] })).id;
  const body = page.locator('#tokens-body');
  for (const step of ['edit', 'rotate', 'revoke']) {
    await open();
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.waitFor();
    const h = await hold(new RegExp(`/users/${USER}/${id}${step === 'rotate' ? '/rotate' : ''}$`),
      step === 'revoke' ? 'DELETE' : 'POST');
    // The project's list, asked for when the user turns to it, comes last.
    const l = await hold(new RegExp(`/projects/${PERSONAL}\\?start=`));
    try {
      if (step === 'edit') {
        await row.getByRole('button', { name: /^Edit / }).click();
        await page.locator('#f-name').fill('Elsewhere renamed');
        await page.getByRole('button', { name: 'Save' }).click();
      } else {
        await row.getByRole('button', { name: step === 'rotate' ? /^Rotate / : /^Revoke / }).click();
        await page.getByRole('alertdialog').getByRole('button', { name: step === 'rotate' ? 'Rotate' : 'Revoke' }).click();
      }
      await h.seen;
      await page.keyboard.press('Escape');
      await showHolder(PERSONAL);
      await l.seen;
      await h.deliver();
      assert.equal(await body.locator('tr').count(), 0,
        `${step}: nothing is shown as the project's list before it arrives: ${await body.innerText()}`);
      if (step === 'rotate') {
        const rotated = page.getByRole('dialog', { name: 'Token rotated' });
        await rotated.waitFor();
        await rotated.getByRole('button', { name: 'Done' }).click();
        await rotated.waitFor({ state: 'hidden' });
      }
      await l.deliver();
      await settled();
      assert.equal(await body.locator('tr[data-id]').count(), 0, `${step}: the project has no tokens`);
      assert.match(await body.innerText(), /has no access tokens/);
      const left = (await listed()).filter((t) => t.name.startsWith('Elsewhere'));
      assert.equal(left.length, step === 'revoke' ? 0 : 1, `${step}: done on the server`);
      if (left.length) id = left[0].id;
    } catch (e) {
      await sweep('Elsewhere');
      throw e;
    } finally {
      await h.done();
      await l.done();
    }
  }
});

test('a maximum expiry shorter than every choice is the one chosen', { skip: !env.BBT_CLI }, async () => {
  const policy = (...args) => execFileSync(env.BBT_CLI, ['--db', env.BBT_DB, 'policy', ...args]);
  policy('--max-expiry-days', '5');
  try {
    await open();
    await settled();
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create token' });
    await dialog.waitFor();
    for (const v of ['', '7', '30', '60', '90', '365']) {
      assert.equal(await dialog.locator(`#f-expiry option[value="${v}"]`).isDisabled(), true, `"${v}" is not offered`);
    }
    assert.equal(await dialog.locator('#f-expiry').inputValue(), 'custom');
    assert.equal(await dialog.getByLabel('Days until expiry').inputValue(), '5', 'the longest allowed, 5 days');
    await dialog.getByLabel('Token name').fill('Short lived');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByRole('dialog', { name: 'Token created' });
    await shown.waitFor();
    await shown.getByRole('button', { name: 'Done' }).click();
    const made = (await listed()).find((t) => t.name === 'Short lived');
    assert.equal(made.expiryDays, 5);
    await rest('DELETE', '/' + made.id);
  } finally {
    policy('--expiry-optional', '--max-expiry-days', 'none');
  }
});

test('a maximum without expiryRequired in the list\'s policy still takes "Never" away', async () => {
  // The server says a maximum requires an expiry; the page holds to that
  // rule itself, whatever the answer's expiryRequired.
  await page.route(LIST, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    await route.fulfill({ response: res, json: { ...body, policy: { expiryRequired: false, maxExpiryDays: 30 } } });
  });
  try {
    await open();
    await settled();
    await page.getByRole('button', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create token' });
    await dialog.waitFor();
    assert.equal(await dialog.locator('#f-expiry option[value=""]').isDisabled(), true, '"Never" is not offered');
    assert.equal(await dialog.locator('#f-expiry option[value="30"]').isDisabled(), false, '30 days is offered');
    assert.equal(await dialog.locator('#f-expiry').inputValue(), '30', 'the longest allowed is chosen');
    assert.match(await dialog.locator('#f-expiry-hint').textContent(), /requires an expiry.*at most 30 days/i);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  } finally {
    await page.unroute(LIST);
  }
});

test('more than a page: "Show more tokens", and a change reloads as many as were shown', async () => {
  const made = [];
  for (let i = 0; i < 27; i++) made.push((await rest('PUT', '', { name: `Many ${i}`, permissions: ['REPO_READ'] })).id);
  const rows = page.locator('#tokens-body tr[data-id]');
  await open();
  await settled();
  assert.equal(await rows.count(), 25, 'a page of 25');
  // From the keyboard: the button hides itself, the last page shown, and
  // the focus goes on to the first row it added, not to the page's body.
  await page.getByRole('button', { name: 'Show more tokens' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#status', { hasText: 'Showing 27 tokens' }).waitFor();
  assert.equal(await rows.count(), 27);
  assert.equal(await page.locator('#more').isVisible(), false, 'nothing more');
  const focused = () => page.evaluate(() => document.activeElement.getAttribute('aria-label') || document.activeElement.tagName);
  const first = rows.nth(25);
  const name = await first.locator('.name').innerText();
  assert.equal(await focused(), 'Edit ' + name, 'the focus on the first row added');
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Rotate ' + name, 'Tab goes on along that row');
  const last = made[0];   // the oldest, on the second page
  await page.locator(`tr[data-id="${last}"]`).getByRole('button', { name: /^Revoke / }).click();
  const relisted = page.waitForResponse((r) => /[?&]start=25&/.test(r.url()));
  await page.getByRole('alertdialog', { name: 'Revoke token?' }).getByRole('button', { name: 'Revoke' }).click();
  await relisted;
  await page.locator(`tr[data-id="${last}"]`).waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.querySelectorAll('#tokens-body tr[data-id]').length === 26);
  assert.deepEqual((await rows.evaluateAll((rs) => rs.map((r) => r.dataset.id))).sort(), made.slice(1).sort(),
    'both pages again, without the revoked one');
  for (const id of made.slice(1)) await rest('DELETE', '/' + id);
});

test('a name of 255 characters outside the BMP is taken whole, one more is refused with the server\'s words', async () => {
  // 255 characters, 510 UTF-16 units: the API counts characters.
  const name = '\u{1F511}'.repeat(255);
  await open();
  await page.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  await page.locator('#f-name').fill(name);
  assert.equal(await page.locator('#f-name').inputValue(), name, 'the field holds all of it');
  await dialog.getByRole('button', { name: 'Create' }).click();
  const shown = page.getByRole('dialog', { name: 'Token created' });
  await shown.waitFor();
  await shown.getByRole('button', { name: 'Done' }).click();
  const made = (await listed()).find((x) => x.name === name);
  assert.ok(made, 'created with the whole name');

  await page.getByRole('button', { name: 'Create token' }).click();
  await dialog.waitFor();
  await page.locator('#f-name').fill(name + 'x');
  await dialog.getByRole('button', { name: 'Create' }).click();
  await page.locator('#edit-error', { hasText: 'longer than 255 characters' }).waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal((await listed()).filter((x) => x.name.startsWith('\u{1F511}')).length, 1, 'no second token');
  await rest('DELETE', '/' + made.id);
});

test('names and the server\'s messages are shown as text, never as markup', async () => {
  const name = '<img src=x id=pwned onerror="document.title=\'pwned\'"><b>bold</b>';
  const t = await rest('PUT', '', { name, permissions: ['REPO_READ'] });
  await open();
  const row = page.locator(`tr[data-id="${t.id}"]`);
  await row.waitFor();
  assert.equal(await row.locator('.name').innerText(), name, 'the name, character for character');
  await row.getByRole('button', { name: /^Revoke / }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Revoke token?' });
  assert.match(await confirm.innerText(), /<b>bold<\/b>/);
  await page.keyboard.press('Escape');
  // A refusal whose message is markup, as a broken or hostile server might
  // send it.
  await page.route(LIST, (route) => route.fulfill({ status: 503, contentType: 'application/json',
    json: { errors: [{ context: null, message: name, exceptionName: 'x' }] } }));
  try {
    await page.locator('#holder-show').click();   // the user's own tokens again, asked anew
    await page.locator('#alert', { hasText: '<b>bold</b>' }).waitFor();
  } finally {
    await page.unroute(LIST);
  }
  assert.equal(await page.locator('#pwned, #tokens-body b, #alert b, dialog b').count(), 0, 'no element made of it');
  assert.notEqual(await page.title(), 'pwned');
  await rest('DELETE', '/' + t.id);
});

test('Back to the page after leaving it with a new token shown does not show the token again', async (t) => {
  // Playwright turns the back/forward cache off; a browser of its own with
  // the cache on, as a user's browser has it.
  const { context: browser, close: closeBrowser } = await launch(USER, PASSWORD, {
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  // A control: a page with no Cache-Control of its own, which the cache
  // keeps (else this browser keeps nothing, and the test proves nothing).
  const plain = http.createServer((q, r) => { r.writeHead(200, { 'Content-Type': 'text/html' }); r.end('<!doctype html><p>plain'); });
  await new Promise((r) => plain.listen(0, '127.0.0.1', r));
  try {
    const p = await browser.newPage();
    p.setDefaultTimeout(15000);
    const away = `http://127.0.0.1:${plain.address().port}/away`;
    await p.goto(`http://127.0.0.1:${plain.address().port}/control`);
    await p.evaluate(() => { window.kept = 1; });
    await p.goto(away);
    await p.goBack({ waitUntil: 'commit' });
    await p.waitForFunction(() => document.readyState === 'complete');
    if (!(await p.evaluate(() => window.kept))) {
      t.skip('this browser keeps no page in its back/forward cache');
      return;
    }

    await p.goto(BASE + '/account/tokens/');
    await p.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
    await p.getByRole('button', { name: 'Create token' }).click();
    await p.locator('#f-name').fill('Back again');
    await p.getByRole('button', { name: 'Create', exact: true }).click();
    await p.getByRole('dialog', { name: 'Token created' }).waitFor();
    const secret = await p.locator('#new-token').inputValue();
    assert.match(secret, /^BBDC-/);
    await p.evaluate(() => { window.kept = 1; });
    await p.goto(away);
    await p.goBack({ waitUntil: 'commit' });
    await p.waitForFunction(() => document.readyState === 'complete');
    assert.equal(await p.evaluate(() => window.kept), undefined, 'the page is loaded anew, not restored');
    await p.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
    assert.equal(await p.locator('#new-dialog').evaluate((d) => d.open), false);
    assert.equal(await p.evaluate((s) => Array.from(document.querySelectorAll('input, textarea'))
      .some((e) => e.value.includes(s)) || document.documentElement.outerHTML.includes(s), secret), false,
    'the token is nowhere on the page');
    const made = (await listed()).find((x) => x.name === 'Back again');
    await rest('DELETE', '/' + made.id);

    // A browser that keeps the page in that cache even so (here: the page
    // served without its Cache-Control: no-store) brings it back without
    // the token, its dialog closed; the token was wiped from its controls
    // before the page went into the cache (what they hold when it comes
    // back, before the page's own pageshow runs).
    const PAGE = BASE + '/account/tokens/';
    await p.addInitScript(() => {
      addEventListener('pageshow', (e) => {
        if (e.persisted) {
          window.restoredWith = ['new-token', 'clone-basic', 'clone-bearer']
            .map((id) => document.getElementById(id)).filter((c) => c).map((c) => c.value);
        }
      });
    });
    await p.route(PAGE, async (route) => {
      const res = await route.fetch();
      const headers = { ...res.headers() };
      delete headers['cache-control'];
      await route.fulfill({ response: res, headers });
    });
    await p.goto(PAGE);
    await p.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
    await p.getByRole('button', { name: 'Create token' }).click();
    await p.locator('#f-name').fill('Back cached');
    await p.getByRole('button', { name: 'Create', exact: true }).click();
    await p.getByRole('dialog', { name: 'Token created' }).waitFor();
    const secret2 = await p.locator('#new-token').inputValue();
    assert.match(secret2, /^BBDC-/);
    await p.evaluate(() => { window.kept = 1; });
    await p.goto(away);
    await p.goBack({ waitUntil: 'commit' });
    await p.waitForFunction(() => document.readyState === 'complete');
    assert.equal(await p.evaluate(() => window.kept), 1, 'the page is restored from the cache');
    const restoredWith = await p.evaluate(() => window.restoredWith);
    assert.equal(restoredWith.length, 3);
    assert.ok(!restoredWith.some((v) => v.includes(secret2)), 'the token was wiped before the page was cached');
    await p.locator('#new-dialog').waitFor({ state: 'hidden' });
    assert.equal(await p.evaluate((s) => Array.from(document.querySelectorAll('input, textarea'))
      .some((e) => e.value.includes(s)), secret2), false, 'the token is in none of its controls');
    await p.unroute(PAGE);
    const cached = (await listed()).find((x) => x.name === 'Back cached');
    await rest('DELETE', '/' + cached.id);
  } finally {
    plain.close();
    await closeBrowser();
  }
});
