// Headless Chromium test of the Personal access tokens page (www/tokens.*),
// run by t/55-browser.t against the real stack: httpd with mod_bbtoken's
// REST handler, PostgreSQL, git-http-backend.  node:test, TAP on stdout:
//   node --test-reporter=tap t/browser/tokens.spec.mjs
// Environment (t/55-browser.t sets it):
//   BBT_BASE       http://127.0.0.1:PORT, the page's and the API's host
//   BBT_SCM_BASE   http://127.0.0.1:PORT, git's host (default BBT_BASE), which
//                  the page's bbtoken-scm meta tag names
//   BBT_USER, BBT_PASSWORD   a password user (mod_authn_file)
//   BBT_PROJECT, BBT_REPO    a repository the user can read (PROJ, repo)
//   BBT_ADMIN_PROJECT, BBT_ADMIN_REPO  a project the user administers and a
//                  repository of it (TEAM, app; optional)
//   BBT_PLACES     the places the user administers, in the server's order,
//                  space-separated (~alice TEAM OPS/web TEAM/app; optional)
//   BBT_USED_NAME, BBT_EXPIRED_NAME  tokens the wrapper made: one used
//                  once, one expired (optional)
//   BBT_GIT_HOME   HOME for git (the harness's home with its .gitconfig)
//   BBT_WORK       a directory for clones
//   BBT_SHOTS      where to save screenshots (t/browser/screenshots)
//   BBT_CHROMIUM   the browser (default /usr/bin/chromium)
//   BBT_NO_GIT=1   skip the git steps (developing the page against a stub)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './chromium.mjs';
import { git as gitIn, argv, command } from './shell.mjs';
import { holds } from './page.mjs';

const env = process.env;
const BASE = env.BBT_BASE || 'http://127.0.0.1:18080';
const SCM_BASE = env.BBT_SCM_BASE || BASE;
const USER = env.BBT_USER || 'alice';
const PASSWORD = env.BBT_PASSWORD || 'alice-pw';
const PROJECT = env.BBT_PROJECT || 'PROJ';
const REPO = env.BBT_REPO || 'repo';
const SHOTS = env.BBT_SHOTS || '';
const NO_GIT = env.BBT_NO_GIT === '1';
const WORK = env.BBT_WORK || mkdtempSync(join(tmpdir(), 'bbt-browser-'));
const PAGE_URL = BASE + '/account/tokens/';
const NAME = 'Browser test ' + process.pid;

let context, page, close;
let token = '';          // the raw token, as read from the page
let tokenId = '';
let cloneLine = '';      // the page's ready git clone line
let bearerLine = '';
const refused = [];      // CSP violations and uncaught errors seen

// git as the user runs it, in WORK.
const git = (args, opts) => gitIn(WORK, args, opts);

async function shot(name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name + '.png') });
}

before(async () => {
  ({ context, close } = await launch(USER, PASSWORD, {
    viewport: { width: 1100, height: 720 },
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'UTC',
  }));
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  // What the page's Content-Security-Policy refused, and the page's own
  // uncaught errors, for the last test.
  page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) refused.push(m.text()); });
  page.on('pageerror', (e) => refused.push('uncaught: ' + e.message));
});

after(async () => {
  if (close) await close();
  if (!env.BBT_WORK) rmSync(WORK, { recursive: true, force: true });
});

test('without credentials the page asks for a login', async () => {
  const res = await fetch(PAGE_URL);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') || '', /^Basic /);
});

// A Content-Security-Policy header as directive => its source list.
function csp(value) {
  const out = {};
  for (const d of (value || '').split(';')) {
    const [name, ...sources] = d.trim().split(/\s+/);
    if (name) out[name.toLowerCase()] = sources.join(' ');
  }
  return out;
}

test('logs in and shows the page for the logged-in user', async () => {
  const res = await page.goto(BASE + '/account/tokens');
  assert.equal(res.status(), 200);
  // No other site may frame it (clickjacking), an injected <base> cannot
  // move its scripts' relative URLs, and no form of it (it submits none:
  // its scripts send the API's requests) can be sent anywhere; nothing of
  // it is kept in a cache.
  const h = res.headers();
  const policy = csp(h['content-security-policy']);
  assert.equal(policy['default-src'], "'self'", 'CSP default-src \'self\'');
  assert.equal(policy['frame-ancestors'], "'none'", 'CSP frame-ancestors \'none\'');
  assert.equal(policy['base-uri'], "'none'", 'CSP base-uri \'none\'');
  assert.equal(policy['form-action'], "'none'", 'CSP form-action \'none\'');
  assert.equal(h['x-frame-options'], 'DENY');
  assert.equal(h['cache-control'], 'no-store');
  // No other site is told the page's URL (a link, a resource elsewhere).
  assert.equal(h['referrer-policy'], 'same-origin', 'Referrer-Policy: same-origin');
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
  assert.equal((await page.locator('#who').innerText()).trim().split(/\s+/).pop(), USER);
  // The list has loaded (a row or the "no tokens" line), with no error.
  await page.locator('#tokens-body tr:not(:has-text("Loading"))').first().waitFor();
  assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());
  await shot('01-list');
});

test('the list shows permissions in words, expiry and last use', { skip: !env.BBT_USED_NAME }, async () => {
  const used = page.locator('#tokens-body tr', { hasText: env.BBT_USED_NAME });
  const text = await used.innerText();
  assert.match(text, /Project: Read/);
  assert.match(text, /Repository: Write/);
  assert.doesNotMatch(text, /Never used/, 'it has a last-authenticated time');
  assert.doesNotMatch(text, /Expired/i);
  const cells = used.locator('td');
  assert.match(await cells.nth(2).innerText(), /\d{4}/, 'an expiry date');
  const expired = page.locator('#tokens-body tr', { hasText: env.BBT_EXPIRED_NAME });
  assert.match(await expired.innerText(), /Expired/i, 'an expired token says so plainly');
  assert.equal(await expired.locator('.badge.expired').innerText().then((t) => t.trim().toLowerCase()), 'expired');
  assert.match(await expired.innerText(), /Never used/);
  // The server rotates a live token only: an expired one is offered Edit
  // and Revoke, not a Rotate it would refuse.
  const buttons = (row) => row.getByRole('button').evaluateAll((bs) => bs.map((b) => b.textContent));
  assert.deepEqual(await buttons(expired), ['Edit', 'Revoke'], 'no Rotate for an expired token');
  assert.deepEqual(await buttons(used), ['Edit', 'Rotate', 'Revoke'], 'a live one has it');
});

test('keyboard only: open the dialog, pick permissions, close it', async () => {
  await page.locator('body').focus();
  let found = false;
  for (let i = 0; i < 10 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement && document.activeElement.id === 'create-open');
  }
  assert.ok(found, 'Tab reaches "Create token"');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focus is visible');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-name');
  await page.keyboard.press('Tab');   // the project permission group (Admin, the default)
  assert.equal(await page.evaluate(() => document.activeElement.value), 'PROJECT_ADMIN');
  await page.keyboard.press('ArrowLeft');   // Write
  assert.equal(await page.evaluate(() => document.activeElement.value), 'PROJECT_WRITE');
  const repo = dialog.getByRole('group', { name: 'Repository permission' });
  assert.equal(await repo.getByLabel('Read').isDisabled(), true);
  await page.keyboard.press('Tab');   // the repository group (Admin)
  assert.equal(await page.evaluate(() => document.activeElement.value), 'REPO_ADMIN');
  await page.keyboard.press('ArrowLeft');   // Write
  assert.equal(await page.evaluate(() => document.activeElement.value), 'REPO_WRITE');
  await page.keyboard.press('ArrowLeft');   // Read is skipped: round to Admin
  assert.equal(await page.evaluate(() => document.activeElement.value), 'REPO_ADMIN');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
});

test('the create dialog: labelled controls, impossible combinations disabled', async () => {
  await page.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  // Keyboard: the name field has the focus.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'f-name');
  await page.keyboard.type(NAME);

  // Bitbucket's default: the user's own level, with a line asking for less.
  const project = dialog.getByRole('group', { name: 'Project permission' });
  const repo = dialog.getByRole('group', { name: 'Repository permission' });
  assert.equal(await project.getByLabel('Admin').isChecked(), true, 'project Admin by default');
  assert.equal(await repo.getByLabel('Admin').isChecked(), true, 'repository Admin by default');
  assert.match(await dialog.innerText(), /starts at your own level of access/);
  assert.match(await page.locator('#f-what').innerText(), /update project settings and permissions/);

  await project.getByLabel('Read').check();
  await repo.getByLabel('Read').check();
  await project.getByLabel('Write').check();
  assert.equal(await repo.getByLabel('Read').isDisabled(), true, 'project Write + repository Read is disabled');
  assert.equal(await repo.getByLabel('Write').isDisabled(), false);
  assert.equal(await repo.getByLabel('Write').isChecked(), true, 'the repository level follows the project up');

  await dialog.getByRole('group', { name: 'Project permission' }).getByLabel('Admin').check();
  assert.equal(await repo.getByLabel('Write').isDisabled(), true, 'project Admin + repository Write is disabled');
  assert.equal(await repo.getByLabel('Admin').isChecked(), true);
  await shot('02-create-impossible-disabled');

  // What the test token gets: project Read, repository Write.
  await dialog.getByRole('group', { name: 'Project permission' }).getByLabel('Read').check();
  assert.equal(await repo.getByLabel('Read').isDisabled(), false);
  await repo.getByLabel('Write').check();
  await dialog.getByLabel('Expiry', { exact: true }).selectOption('30');
  const created = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/users/'));
  await dialog.getByRole('button', { name: 'Create' }).click();
  // The API's answer holds the new token: no cache may keep it, and no
  // browser may read it as anything but JSON.
  const res = await created;
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'] || '', /^application\/json/);
  assert.equal(res.headers()['cache-control'], 'private, no-store',
               'the new token\'s answer: Cache-Control: private, no-store');
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
});

test('the new token is shown once, with a copy button and clone lines', async () => {
  const dialog = page.getByRole('dialog', { name: 'Token created' });
  await dialog.waitFor();
  const shown = await page.locator('#new-token').inputValue();
  assert.match(shown, /^(BBDC-)?[A-Za-z0-9+/]{44}$/, 'a token of the documented shape');
  tokenId = Buffer.from(shown.replace(/^BBDC-/, ''), 'base64').subarray(0, 12).toString();
  assert.match(tokenId, /^[0-9]{12}$/);

  await dialog.getByRole('button', { name: 'Copy' }).first().click();
  await page.locator('#copy-status', { hasText: 'Copied' }).waitFor();
  token = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(token, shown, 'the clipboard holds the token');

  // Fill in the placeholders of the clone lines.
  await dialog.getByLabel('Project key', { exact: true }).fill(PROJECT);
  await dialog.getByLabel('Repository', { exact: true }).fill(REPO);
  cloneLine = await page.locator('#clone-basic').inputValue();
  bearerLine = await page.locator('#clone-bearer').inputValue();
  const host = new URL(SCM_BASE).host;
  // The user's name in the URL, not the token: git keeps the URL in the
  // clone's .git/config, which other users may read, and any local user
  // sees git's arguments (ps).  git asks for the password: the token.
  assert.equal(cloneLine, `git clone http://${encodeURIComponent(USER)}@${host}/scm/${PROJECT}/${REPO}.git`);
  // The header scoped to the repository's URL: git-lfs gives one that
  // names no URL to any host a repository's .lfsconfig names.
  assert.equal(bearerLine, `GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.http://${host}/scm/${PROJECT}/${REPO}.git.extraHeader `
    + `GIT_CONFIG_VALUE_0="Authorization: Bearer ${token}" git clone http://${host}/scm/${PROJECT}/${REPO}.git`);
  // Hide the secret in the committed screenshot.
  await page.evaluate(() => {
    for (const id of ['new-token', 'clone-basic', 'clone-bearer']) {
      const e = document.getElementById(id);
      e.dataset.real = e.value;
      e.value = e.value.replace(/(BBDC-)?[A-Za-z0-9+/%]{40,}(=|%3D)*/g, '••••••••••••••••••••');
    }
  });
  await shot('03-token-shown-once');
  await page.evaluate(() => {
    for (const id of ['new-token', 'clone-basic', 'clone-bearer']) {
      const e = document.getElementById(id);
      e.value = e.dataset.real;
      delete e.dataset.real;
    }
  });

  await dialog.getByRole('button', { name: 'Done' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#new-token').inputValue(), '', 'the token is gone from the page');
  assert.equal(await holds(page, token), false, 'nor in the clone lines, the storages or the address');
  const row = page.locator(`tr[data-id="${tokenId}"]`);
  await row.waitFor();
  const text = await row.innerText();
  assert.match(text, new RegExp(NAME));
  assert.match(text, /Project: Read/);
  assert.match(text, /Repository: Write/);
  assert.doesNotMatch(await page.content(), new RegExp(token.slice(-20).replace(/[+/]/g, '\\$&')), 'not in the page any more');
});

test('the page\'s clone line clones the repository with the real git client', { skip: NO_GIT }, async () => {
  const args = argv(cloneLine);
  assert.deepEqual(args.slice(0, 2), ['git', 'clone']);
  assert.ok(args.every((a) => !a.includes(token) && !a.includes(encodeURIComponent(token))),
    'the token is not among git\'s arguments');
  const r = await git([...args.slice(1), 'basic-clone'], { password: token });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(WORK, 'basic-clone', 'README')), 'the work tree is there');
  const config = readFileSync(join(WORK, 'basic-clone', '.git', 'config'), 'utf8');
  assert.ok(!config.includes(token) && !config.includes(encodeURIComponent(token)),
    'the clone\'s .git/config does not hold the token');
  // Any local user can read git's arguments (ps): the token must not be one.
  const b = command(bearerLine);
  assert.deepEqual(b.args.slice(0, 2), ['git', 'clone']);
  assert.ok(b.args.every((a) => !a.includes(token)), 'the token is not among git\'s arguments');
  const r2 = await git([...b.args.slice(1), 'bearer-clone'], { env: b.env });
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(existsSync(join(WORK, 'bearer-clone', 'README')), 'the Bearer form clones too');
});

test('rename the token and change its permissions', async () => {
  const row = page.locator(`tr[data-id="${tokenId}"]`);
  await row.getByRole('button', { name: 'Edit ' + NAME }).click();
  const dialog = page.getByRole('dialog', { name: 'Edit token' });
  await dialog.waitFor();
  assert.equal(await page.locator('#f-name').inputValue(), NAME);
  assert.equal(await page.locator('#f-perm-hint').isHidden(), true, 'the default\'s line is for new tokens');
  await page.locator('#f-name').fill(NAME + ' (read only)');
  await dialog.getByRole('group', { name: 'Repository permission' }).getByLabel('Read').check();
  assert.equal(await dialog.getByLabel('Expiry', { exact: true }).isVisible(), false, 'an expiry cannot be changed');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator('#status', { hasText: 'updated' }).waitFor();
  await page.locator(`tr[data-id="${tokenId}"]`, { hasText: 'Repository: Read' }).waitFor();
  assert.match(await page.locator(`tr[data-id="${tokenId}"]`).innerText(), /\(read only\)/);
  await shot('04-list-after-edit');
});

test('rotate after confirming: a new token in its place, shown once; git refuses the old one', async () => {
  const oldId = tokenId, oldToken = token, oldClone = cloneLine;
  const row = page.locator(`tr[data-id="${oldId}"]`);
  await row.getByRole('button', { name: 'Rotate ' + NAME + ' (read only)' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Rotate token?' });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /\(read only\)/, 'the dialog names the token');
  // Cancel first: nothing happens.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await row.count(), 1);
  await row.getByRole('button', { name: /^Rotate / }).click();
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Rotate' }).click();
  const shown = page.getByRole('dialog', { name: 'Token rotated' });
  await shown.waitFor();
  await page.locator('#status', { hasText: 'rotated' }).waitFor();
  token = await page.locator('#new-token').inputValue();
  assert.match(token, /^(BBDC-)?[A-Za-z0-9+/]{44}$/, 'a token of the documented shape');
  assert.notEqual(token, oldToken, 'a new token');
  tokenId = Buffer.from(token.replace(/^BBDC-/, ''), 'base64').subarray(0, 12).toString();
  assert.match(tokenId, /^[0-9]{12}$/);
  assert.notEqual(tokenId, oldId, 'a new id');
  await shown.getByLabel('Project key', { exact: true }).fill(PROJECT);
  await shown.getByLabel('Repository', { exact: true }).fill(REPO);
  cloneLine = await page.locator('#clone-basic').inputValue();
  bearerLine = await page.locator('#clone-bearer').inputValue();
  assert.ok(!cloneLine.includes(encodeURIComponent(token)), 'the clone line does not hold the token');
  await shown.getByRole('button', { name: 'Done' }).click();
  await shown.waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#new-token').inputValue(), '', 'the token is gone from the page');
  assert.equal(await holds(page, token), false, 'nor in the clone lines, the storages or the address');
  const fresh = page.locator(`tr[data-id="${tokenId}"]`);
  await fresh.waitFor();
  const text = await fresh.innerText();
  assert.match(text, /\(read only\)/, 'the same name');
  assert.match(text, /Project: Read/);
  assert.match(text, /Repository: Read/, 'the same permissions');
  assert.equal(await page.locator(`tr[data-id="${oldId}"]`).count(), 0, 'the old one is no longer listed');
  if (NO_GIT) return;
  const r = await git([...argv(oldClone).slice(1), 'after-rotate-old'], { password: oldToken });
  assert.notEqual(r.code, 0, 'the old token\'s clone fails');
  assert.match(r.stderr, /Authentication failed|401/, r.stderr);
  const r2 = await git([...argv(cloneLine).slice(1), 'after-rotate-new'], { password: token });
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(existsSync(join(WORK, 'after-rotate-new', 'README')), 'the new token clones');
});

test('an allow-list: set, shown, refused when not a network, dropped', async () => {
  const row = () => page.locator(`tr[data-id="${tokenId}"]`);
  const edit = async () => {
    await row().getByRole('button', { name: /^Edit / }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit token' });
    await dialog.waitFor();
    return dialog;
  };
  let dialog = await edit();
  await dialog.getByLabel('Allowed addresses').fill('nonsense');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await page.locator('#edit-error', { hasText: 'not a network' }).waitFor();
  await dialog.getByLabel('Allowed addresses').fill('10.0.0.0/8\n2001:db8::/32');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator(`tr[data-id="${tokenId}"]`, { hasText: 'Only from: 10.0.0.0/8, 2001:db8::/32' }).waitFor();
  await shot('04b-allow-list');
  dialog = await edit();
  assert.equal(await dialog.getByLabel('Allowed addresses').inputValue(), '10.0.0.0/8\n2001:db8::/32',
    'the form shows the list');
  await dialog.getByLabel('Allowed addresses').fill('');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator('#status', { hasText: 'updated' }).waitFor();
  assert.doesNotMatch(await row().innerText(), /Only from/, 'dropped');
});

test('a refused request shows the server\'s message', async () => {
  // Names are unique among a user's tokens: the API refuses a second one.
  await page.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  await dialog.getByLabel('Token name').fill(NAME + ' (read only)');
  await dialog.getByRole('button', { name: 'Create' }).click();
  const box = page.locator('#edit-error');
  await box.waitFor();
  const msg = (await box.innerText()).trim();
  assert.ok(msg.length > 0, 'a message is shown');
  assert.equal(await dialog.isVisible(), true, 'the dialog stays open');
  // Keyboard: Escape closes the dialog.
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#tokens-body tr', { hasText: NAME }).count(), 1, 'no second token');
});

test('revoke after confirming; git is refused afterwards', async () => {
  const row = page.locator(`tr[data-id="${tokenId}"]`);
  await row.getByRole('button', { name: /^Revoke / }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Revoke token?' });
  await dialog.waitFor();
  // Cancel first: nothing happens.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await row.count(), 1);
  await row.getByRole('button', { name: /^Revoke / }).click();
  await dialog.waitFor();
  await shot('05-revoke-confirm');
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.locator('#status', { hasText: 'revoked' }).waitFor();
  await row.waitFor({ state: 'detached' });
  await shot('06-after-revoke');

  // Reload: the server no longer lists it.
  await page.reload();
  await page.locator('#tokens-body tr:not(:has-text("Loading"))').first().waitFor();
  assert.equal(await page.locator(`tr[data-id="${tokenId}"]`).count(), 0);
});

test('git with the revoked token is refused (401)', { skip: NO_GIT }, async () => {
  const args = argv(cloneLine);
  const r = await git([...args.slice(1), 'after-revoke'], { password: token });
  assert.notEqual(r.code, 0, 'the clone fails');
  assert.match(r.stderr, /Authentication failed|401/, r.stderr);
  const b = command(bearerLine);
  const r2 = await git([...b.args.slice(1), 'after-revoke-bearer'], { env: b.env });
  assert.notEqual(r2.code, 0, 'the Bearer form fails too');
  // With no user name in the URL, git answers the 401 by asking for one.
  assert.match(r2.stderr, /Authentication failed|401|could not read Username/, r2.stderr);
  const url = new URL(`${SCM_BASE}/scm/${PROJECT}/${REPO}.git/info/refs?service=git-upload-pack`);
  const res = await fetch(url, { headers: { Authorization: 'Basic ' + Buffer.from(USER + ':' + token).toString('base64') } });
  assert.equal(res.status, 401);
  const res2 = await fetch(url, { headers: { Authorization: 'Bearer ' + token } });
  assert.equal(res2.status, 401);
});

test('the expiry picker offers only what the policy allows', { skip: !env.BBT_CLI }, async () => {
  // The administrator sets a maximum of 30 days, not saying --expiry-required:
  // a maximum bounds every token, so none may be made that never expires.
  execFileSync(env.BBT_CLI, ['--db', env.BBT_DB, 'policy', '--max-expiry-days', '30']);
  await page.reload();
  await page.locator('#tokens-body tr:not(:has-text("Loading"))').first().waitFor();
  await page.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  const option = (v) => dialog.locator(`#f-expiry option[value="${v}"]`);
  assert.equal(await option('').isDisabled(), true, '"Never" is not offered');
  for (const v of ['60', '90', '365']) {
    assert.equal(await option(v).isDisabled(), true, `${v} days is over the maximum`);
  }
  for (const v of ['7', '30', 'custom']) {
    assert.equal(await option(v).isDisabled(), false, `${v} is offered`);
  }
  assert.equal(await dialog.locator('#f-expiry').inputValue(), '30', 'the longest allowed is chosen');
  assert.match(await dialog.locator('#f-expiry-hint').textContent(), /requires an expiry.*at most 30 days/i);
  await shot('07-expiry-policy');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  execFileSync(env.BBT_CLI, ['--db', env.BBT_DB, 'policy', '--expiry-optional', '--max-expiry-days', 'none']);
});

test('a project\'s tokens, as its admin', { skip: !env.BBT_ADMIN_PROJECT }, async () => {
  const key = env.BBT_ADMIN_PROJECT, slug = env.BBT_ADMIN_REPO;
  await page.getByLabel('Tokens of a project or repository you administer').fill(key.toLowerCase());
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Access tokens of project ' + key }).waitFor();
  await page.locator('#tokens-body tr', { hasText: 'has no access tokens' }).waitFor();
  assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());

  await page.getByRole('button', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.waitFor();
  await dialog.getByLabel('Token name').fill('Pipeline');
  assert.equal(await dialog.getByRole('group', { name: 'Project permission' }).isVisible(), true);
  assert.equal(await dialog.getByRole('group', { name: 'Project permission' }).getByLabel('Admin').isChecked(), true,
    'a project token starts at Admin too');
  assert.match(await page.locator('#f-what').innerText(), /in this project and its repositories only/);
  await dialog.getByRole('button', { name: 'Create' }).click();
  const shown = page.getByRole('dialog', { name: 'Token created' });
  await shown.waitFor();
  const secret = await page.locator('#new-token').inputValue();
  assert.equal(await shown.getByLabel('Project key', { exact: true }).inputValue(), key, 'the project filled in');
  await shown.getByLabel('Repository', { exact: true }).fill(slug);
  const line = await page.locator('#clone-basic').inputValue();
  assert.match(line, new RegExp('^git clone http://x-token-auth@'), 'the clone line uses x-token-auth');
  if (!NO_GIT) {
    const r = await git([...argv(line).slice(1), 'project-clone'], { password: secret });
    assert.equal(r.code, 0, r.stderr);
    const other = await fetch(`${SCM_BASE}/scm/${PROJECT}/${REPO}.git/info/refs?service=git-upload-pack`,
      { headers: { Authorization: 'Bearer ' + secret } });
    assert.equal(other.status, 403, 'the project token does not reach another project');
  }
  await shown.getByRole('button', { name: 'Done' }).click();
  await page.locator('#tokens-body tr[data-id]', { hasText: 'Pipeline' }).waitFor();
  assert.match(await page.locator('#tokens-body tr[data-id]', { hasText: 'Pipeline' }).innerText(), /Project: Admin/,
    'created with the default');
  await shot('08-project-tokens');

  // A repository's: a repository permission only.
  await page.getByLabel('Tokens of a project or repository you administer').fill(key + '/' + slug);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: `Access tokens of repository ${key}/${slug}` }).waitFor();
  await page.getByRole('button', { name: 'Create token' }).click();
  await dialog.waitFor();
  await dialog.getByLabel('Token name').fill('Deploy');
  assert.equal(await dialog.getByRole('group', { name: 'Project permission' }).isVisible(), false,
    'no project permission for a repository token');
  assert.equal(await dialog.getByRole('group', { name: 'Repository permission' }).getByLabel('Admin').isChecked(), true,
    'a repository token starts at Admin');
  await dialog.getByRole('group', { name: 'Repository permission' }).getByLabel('Write').check();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await shown.waitFor();
  await shown.getByRole('button', { name: 'Done' }).click();
  await page.locator('#tokens-body tr[data-id]', { hasText: 'Deploy' }).waitFor();
  const id = await page.locator('#tokens-body tr[data-id]', { hasText: 'Deploy' }).getAttribute('data-id');
  const row = page.locator(`tr[data-id="${id}"]`);
  assert.match(await row.innerText(), /Repository: Write/);
  assert.doesNotMatch(await row.innerText(), /Project:/);
  assert.equal(await page.locator('#tokens-body tr[data-id]', { hasText: 'Pipeline' }).count(), 0,
    'the project\'s own token is not the repository\'s');
  await row.getByRole('button', { name: /^Revoke / }).click();
  const confirm = page.getByRole('alertdialog', { name: 'Revoke token?' });
  await confirm.getByRole('button', { name: 'Revoke' }).click();
  await row.waitFor({ state: 'detached' });

  // Where the user administers nothing, the server's refusal is shown.
  await page.getByLabel('Tokens of a project or repository you administer').fill(PROJECT);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.locator('#alert', { hasText: 'not permitted' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Create token' }).isEnabled(), true);

  await page.getByRole('button', { name: 'Your own tokens' }).click();
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
  if (env.BBT_USED_NAME) await page.locator('#tokens-body tr', { hasText: env.BBT_USED_NAME }).waitFor();
  assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());
});

// Chooses place (a value of the places list) and presses Show.
async function choose(place) {
  await page.getByLabel('Projects and repositories you administer').selectOption(place);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
}

test('the places the user administers: a list that shows their tokens', { skip: !env.BBT_PLACES }, async () => {
  const key = env.BBT_ADMIN_PROJECT, slug = env.BBT_ADMIN_REPO;
  const places = env.BBT_PLACES.split(' ');
  const list = page.getByLabel('Projects and repositories you administer');
  await list.waitFor();
  const values = await list.locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(values, ['', ...places], 'exactly the places the server lists, after "None"');
  assert.deepEqual(await list.locator('optgroup[label="Repositories"] option').evaluateAll((os) => os.map((o) => o.value)),
    places.filter((p) => p.includes('/')), 'the repositories in a group of their own');
  assert.match(await list.locator('option').nth(1).innerText(), /your personal project/);
  assert.equal(await list.inputValue(), '', 'showing the user\'s own tokens: None');

  // Reachable by keyboard: the next stop after "Create token".
  await page.getByRole('button', { name: 'Create token' }).focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'places');

  // The arrow keys go through the places, each chosen on the way: the
  // page turns to none of them (WCAG 3.2.2) until Enter, which shows the
  // one chosen; each fills in the field as typing it would.
  const title = () => page.getByRole('heading', { level: 1 }).innerText();
  const field = page.getByLabel('Tokens of a project or repository you administer');
  const turned = [];
  const seeing = (r) => { if (r.url().includes('/rest/access-tokens/latest/projects/')) turned.push(r.url()); };
  page.on('request', seeing);
  await page.keyboard.press('ArrowDown');
  assert.equal(await list.inputValue(), places[0], 'ArrowDown chose the first place');
  assert.equal(await field.inputValue(), places[0], 'and filled it in');
  await page.keyboard.press('ArrowDown');
  assert.equal(await list.inputValue(), places[1]);
  assert.equal(await title(), 'Personal access tokens', 'the arrow keys turned the page to no place');
  assert.deepEqual(turned, [], 'nor asked for any place\'s tokens');
  page.off('request', seeing);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Access tokens of ' + (places[1].includes('/') ? 'repository ' : 'project ')
    + places[1] }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'places', 'Enter leaves the focus in the list');
  await page.getByRole('button', { name: 'Your own tokens' }).click();
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();

  // Choosing the project and pressing Show shows its tokens, as typing it
  // and pressing Show does: the same heading, announcement, rows and text;
  // the list's heading and the table's caption name the project too.
  await choose(key);
  await page.getByRole('heading', { level: 1, name: 'Access tokens of project ' + key }).waitFor();
  assert.equal(await page.getByRole('region', { name: 'Tokens of the project ' + key }).count(), 1,
    'the list\'s heading names the project');
  assert.equal(await page.getByRole('table', { name: 'Access tokens of the project ' + key }).count(), 1,
    'so does the table\'s caption');
  await page.locator('#status', { hasText: 'Showing the tokens of the project ' + key }).waitFor();
  await page.locator('#tokens-body tr[data-id]', { hasText: 'Pipeline' }).waitFor();
  assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());
  assert.equal(await page.getByLabel('Tokens of a project or repository you administer').inputValue(), key);
  const ids = () => page.locator('#tokens-body tr[data-id]').evaluateAll((rs) => rs.map((r) => r.dataset.id));
  const chosen = await ids();
  assert.equal(chosen.length, 1, 'the project\'s one token');
  await shot('09-places');
  await page.getByRole('button', { name: 'Your own tokens' }).click();
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
  assert.equal(await list.inputValue(), '', '"Your own tokens": None again');
  assert.equal(await page.getByRole('region', { name: 'Your tokens' }).count(), 1);
  assert.equal(await page.getByRole('table', { name: 'Your personal access tokens' }).count(), 1);
  await page.getByLabel('Tokens of a project or repository you administer').fill(key);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Access tokens of project ' + key }).waitFor();
  await page.locator('#tokens-body tr[data-id]', { hasText: 'Pipeline' }).waitFor();
  assert.deepEqual(await ids(), chosen, 'typing it shows the same tokens');
  assert.equal(await list.inputValue(), key, 'and the list shows it chosen');

  // A repository: its own tokens (the one made there was revoked).
  await choose(key + '/' + slug);
  await page.getByRole('heading', { level: 1, name: `Access tokens of repository ${key}/${slug}` }).waitFor();
  await page.locator('#tokens-body tr', { hasText: 'has no access tokens' }).waitFor();
  assert.deepEqual(await ids(), [], 'none of the project\'s');

  // A repository the user administers in another project.
  const other = places.find((p) => p.includes('/') && !p.startsWith(key + '/'));
  if (other) {
    await choose(other);
    await page.getByRole('heading', { level: 1, name: 'Access tokens of repository ' + other }).waitFor();
    await page.locator('#tokens-body tr', { hasText: 'has no access tokens' }).waitFor();
    assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());
  }

  // A place typed that the list does not hold: the list chooses nothing
  // rather than claim "None: your own tokens".
  await page.getByLabel('Tokens of a project or repository you administer').fill(env.BBT_PROJECT);
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await page.locator('#alert', { hasText: 'not permitted' }).waitFor();
  assert.equal(await list.evaluate((s) => s.selectedIndex), -1, 'nothing chosen in the list');

  await choose('');
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
  if (env.BBT_USED_NAME) await page.locator('#tokens-body tr', { hasText: env.BBT_USED_NAME }).waitFor();
});

test('a list that answers after another place was chosen is dropped', { skip: !env.BBT_PLACES }, async () => {
  const key = env.BBT_ADMIN_PROJECT;
  // The project's list is held until the user has chosen their own tokens
  // and those are shown.
  const pattern = new RegExp('/projects/' + key + '\\?start=');
  let release, asked;
  const held = new Promise((r) => { release = r; });
  const seen = new Promise((r) => { asked = r; });
  await page.route(pattern, async (route) => { asked(); await held; await route.continue(); });
  try {
    await choose(key);
    await seen;
    await choose('');
    await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
    if (env.BBT_USED_NAME) await page.locator('#tokens-body tr', { hasText: env.BBT_USED_NAME }).waitFor();
    const answered = page.waitForResponse(pattern);
    release();
    await (await answered).finished();
    // Let the page's script take the answer (a few turns of its event loop).
    await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
  } finally {
    release();
    await page.unroute(pattern);
  }
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
  assert.equal(await page.locator('#tokens-body tr[data-id]', { hasText: 'Pipeline' }).count(), 0,
    'the project\'s token is not shown among the user\'s own');
  assert.equal(await page.locator('#alert').isHidden(), true, await page.locator('#alert').innerText());
});

test('all along, the Content-Security-Policy refused nothing and no script failed', async () => {
  assert.deepEqual(refused, []);
});
