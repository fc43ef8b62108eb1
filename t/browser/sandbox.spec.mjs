// Same-origin content driving the token API, in headless Chromium, run by
// t/55-browser.t.  A user who may write a repository uploads an HTML page
// over WebDAV onto the host that also serves the tokens page and the API
// (the layout the README advises against).  The victim, logged in to that
// host with a password, opens it.  Its script PUTs to the access-tokens
// API in the victim's name and uploads the new token where its author can
// read it.  Served with BBTokenSandbox (the default), the script never
// runs; served where BBTokenSandbox is Off, it does, and the stolen token
// clones as the victim: the header is what stops it.
// Environment (t/55-browser.t sets it):
//   BBT_BASE       the tokens page's and the API's host, with /dav (sandbox
//                  on) and /dav-open (BBTokenSandbox Off) over one tree
//   BBT_SCM_BASE   git's host
//   BBT_USER, BBT_PASSWORD   the victim
//   BBT_ATTACKER_TOKEN       the author's token (REPO_WRITE on the tree)
//   BBT_EVIL       the page's path under /dav and /dav-open, e.g.
//                  /PROJ/site/evil.html; it leaves loot-VARIANT.txt beside
//   BBT_PROJECT, BBT_REPO    a repository the victim can read with git
//   BBT_CHROMIUM   the browser
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './chromium.mjs';

const env = process.env;
const BASE = env.BBT_BASE;
const SCM_BASE = env.BBT_SCM_BASE || BASE;
const USER = env.BBT_USER;
const PASSWORD = env.BBT_PASSWORD;
const EVIL = env.BBT_EVIL;
const LOOT = (variant) => `${BASE}/${variant}${EVIL.replace(/[^/]*$/, '')}loot-${variant}.txt`;
const asVictim = { Authorization: 'Basic ' + Buffer.from(USER + ':' + PASSWORD).toString('base64') };
const asAttacker = { Authorization: 'Bearer ' + env.BBT_ATTACKER_TOKEN };

let context, page, close;

// The victim's token names, as the API lists them.
async function victimTokens() {
  const res = await fetch(`${BASE}/rest/access-tokens/latest/users/${USER}?limit=1000`, { headers: asVictim });
  assert.equal(res.status, 200);
  return (await res.json()).values.map((t) => t.name);
}

before(async () => {
  ({ context, close } = await launch(USER, PASSWORD));
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  // The victim is logged in to the tokens page.
  const res = await page.goto(BASE + '/account/tokens/');
  assert.equal(res.status(), 200);
  await page.getByRole('heading', { level: 1, name: 'Personal access tokens' }).waitFor();
});

after(async () => {
  if (close) await close();
});

test('the uploaded page is there for anyone who may read the repository', async () => {
  const res = await fetch(`${BASE}/dav${EVIL}`, { headers: asVictim });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/html/);
  assert.match(await res.text(), /access-tokens/);
});

test('served with BBTokenSandbox: its script never runs, nothing is made or stolen', async () => {
  const res = await page.goto(`${BASE}/dav${EVIL}`);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['content-security-policy'], 'sandbox');
  assert.equal(res.headers()['x-content-type-options'], 'nosniff');
  // The script's first statement retitles the page; by the load event it
  // has run or never will.
  assert.equal(await page.title(), 'evil', 'the script did not run');
  assert.ok(!(await victimTokens()).includes('pwned dav'), 'no token was made in the victim\'s name');
  assert.equal((await fetch(LOOT('dav'), { headers: asAttacker })).status, 404, 'nothing was uploaded');
});

test('control: served where BBTokenSandbox is Off, the same page steals a token', async () => {
  const res = await page.goto(`${BASE}/dav-open${EVIL}`);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()['content-security-policy'], undefined);
  await page.waitForFunction(() => document.title === 'done' || document.title.startsWith('failed'));
  assert.equal(await page.title(), 'done');
  assert.ok((await victimTokens()).includes('pwned dav-open'), 'a token was made in the victim\'s name');
  const loot = await fetch(LOOT('dav-open'), { headers: asAttacker });
  assert.equal(loot.status, 200, 'and uploaded where its author reads it');
  const stolen = (await loot.text()).trim();
  assert.match(stolen, /^BBDC-[A-Za-z0-9+/]{44}$/);
  const url = `${SCM_BASE}/scm/${env.BBT_PROJECT}/${env.BBT_REPO}.git/info/refs?service=git-upload-pack`;
  const as = await fetch(url, { headers: { Authorization: 'Bearer ' + stolen } });
  assert.equal(as.status, 200, 'the stolen token reads the victim\'s repositories');
});
