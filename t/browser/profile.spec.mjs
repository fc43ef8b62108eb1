// What the Personal access tokens page leaves in the browser's profile
// directory, in headless Chromium, run by t/55-browser.t: a new token
// shown by the page is in no file there, neither while its dialog is open
// (the browser saves its session every few seconds: a browser killed then
// leaves what it saved) nor after the user left the page, or closed its
// tab, with the dialog open and quit the browser.  Without
// autocomplete="off" on the controls that hold it, Chromium keeps their
// values with the page's history entry and writes them to its saved
// session (Default/Sessions: session restore, "reopen closed tab"), in
// plain text.  A control that the test adds to each page, a textarea
// filled as the page fills the token's but without autocomplete="off",
// shows that this browser does write such values there (else the test
// proves nothing, and says so).
// Environment (t/55-browser.t sets it):
//   BBT_BASE       the page's and the API's host
//   BBT_PROFILE_USER, BBT_PROFILE_PASSWORD   a password user of its own
//   BBT_CHROMIUM   the browser
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { launch } from './chromium.mjs';
import { restAs } from './rest.mjs';

const env = process.env;
const BASE = env.BBT_BASE;
const USER = env.BBT_PROFILE_USER;
const PASSWORD = env.BBT_PROFILE_PASSWORD;
const API = `${BASE}/rest/access-tokens/latest/users/${USER}`;
const asUser = { Authorization: 'Basic ' + Buffer.from(USER + ':' + PASSWORD).toString('base64') };
const { sweep } = restAs(API, asUser);

// The files under dir that hold any of the strings, as UTF-8 or UTF-16LE
// (Chromium's pickled page state): { string: [file, ...] }.
function holders(dir, strings) {
  const needles = strings.map((s) => [s, Buffer.from(s, 'utf8'), Buffer.from(s, 'utf16le')]);
  const found = Object.fromEntries(strings.map((s) => [s, []]));
  // Chromium is still running, and removes files as it goes (a journal
  // between readdir and lstat): one gone by the time it is read holds
  // nothing any more, and is passed over.
  const gone = (f) => {
    try {
      return f();
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw err;
    }
  };
  const walk = (d) => {
    for (const e of gone(() => readdirSync(d)) ?? []) {
      const p = join(d, e);
      const st = gone(() => lstatSync(p));
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        const b = gone(() => readFileSync(p));
        if (!b) continue;
        for (const [s, n8, n16] of needles) if (b.includes(n8) || b.includes(n16)) found[s].push(p.slice(dir.length));
      }
    }
  };
  walk(dir);
  return found;
}

// Adds the control to page p: a read-only textarea, without
// autocomplete="off", that a script fills with a value of its own (not in
// the page's URL nor its text).  Returns the value.
async function control(p) {
  return p.evaluate(() => {
    const c = document.createElement('textarea');
    c.readOnly = true;
    c.value = 'control-' + crypto.randomUUID();
    document.body.append(c);
    return c.value;
  });
}

async function openPage(p) {
  const res = await p.goto(BASE + '/account/tokens/');
  assert.equal(res.status(), 200);
  await p.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
}

test('a new token shown is in no file of the browser\'s profile: dialog open, page left, tab closed', async (t) => {
  const plain = http.createServer((q, r) => {
    r.writeHead(200, { 'Content-Type': 'text/html', 'Cache-Control': 'no-store' });
    r.end('<!doctype html><title>away</title><p>away');
  });
  await new Promise((r) => plain.listen(0, '127.0.0.1', r));
  const away = `http://127.0.0.1:${plain.address().port}/away`;
  const { context, close, profile } = await launch(USER, PASSWORD);
  try {
    const secrets = [], controls = [];
    // Created: the page is left with the dialog open.
    const left = await context.newPage();
    left.setDefaultTimeout(15000);
    await openPage(left);
    await left.getByRole('button', { name: 'Create token' }).click();
    await left.locator('#f-name').fill('Left open');
    await left.getByRole('button', { name: 'Create', exact: true }).click();
    await left.getByRole('dialog', { name: 'Token created' }).waitFor();
    secrets.push(await left.locator('#new-token').inputValue());
    assert.ok((await left.locator('#clone-bearer').inputValue()).includes(secrets[0]), 'the Bearer line holds it');
    controls.push(await control(left));

    // Rotated: its tab is closed with the dialog open.
    const closed = await context.newPage();
    closed.setDefaultTimeout(15000);
    await openPage(closed);
    await closed.locator('#tokens-body tr[data-id]', { hasText: 'Left open' })
      .getByRole('button', { name: /^Rotate / }).click();
    await closed.getByRole('alertdialog', { name: 'Rotate token?' }).getByRole('button', { name: 'Rotate' }).click();
    await closed.getByRole('dialog', { name: 'Token rotated' }).waitFor();
    secrets.push(await closed.locator('#new-token').inputValue());
    controls.push(await control(closed));
    for (const s of secrets) assert.match(s, /^BBDC-./);
    assert.notEqual(secrets[0], secrets[1]);
    // What follows the prefix every token shares: the secret itself.
    const bodies = secrets.map((s) => s.slice(5));

    // Until both pages' controls are on disk: both pages' state is, as a
    // browser killed now leaves it.
    let found;
    for (const until = Date.now() + 60000; Date.now() < until;) {
      found = holders(profile, [...bodies, ...controls]);
      if (controls.every((c) => found[c].length)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(found[bodies[0]], [], 'the token created, its dialog open, is in no file of the profile');
    assert.deepEqual(found[bodies[1]], [], 'the token rotated, its dialog open, is in no file of the profile');
    const saved = controls.every((c) => found[c].length);

    await left.goto(away);
    await closed.close();
    // Quit as a user quits it: it writes its session then.
    await context.close();
    found = holders(profile, [...bodies, ...controls]);
    assert.deepEqual(found[bodies[0]], [], 'the token shown on the page left is in no file of the profile');
    assert.deepEqual(found[bodies[1]], [], 'the token shown in the tab closed is in no file of the profile');
    if (!saved) t.skip('this browser wrote no control\'s value to its profile within a minute: the test proves nothing');
  } finally {
    plain.close();
    await close();
    await sweep();
  }
});
