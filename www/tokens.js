// Personal access tokens page.  Plain JavaScript, no dependencies; talks
// only to the access-tokens REST API on this origin (Bitbucket's layout):
//   GET    {api}/users/{user}?start=&limit=   list (paged)
//   PUT    {api}/users/{user}                 create (the raw token, once)
//   POST   {api}/users/{user}/{id}            rename / change permissions
//   DELETE {api}/users/{user}/{id}            revoke
//   POST   {api}/users/{user}/{id}/rotate     a new token in its place
// and the same under {api}/projects/{key}[/repos/{slug}] for a project's or
// a repository's tokens, which the user manages as its admin; and
//   GET    {api}/places?start=&limit=         the projects and repositories
//                                             the user may manage tokens of
'use strict';

(function () {
  const PAGE_SIZE = 25;
  const PROJECT_LEVELS = ['PROJECT_READ', 'PROJECT_WRITE', 'PROJECT_ADMIN'];
  const REPO_LEVELS = ['REPO_READ', 'REPO_WRITE', 'REPO_ADMIN'];
  const LEVEL_WORD = { READ: 'Read', WRITE: 'Write', ADMIN: 'Admin' };
  const DAY = 86400000;

  const $ = (id) => document.getElementById(id);
  const meta = (name) => {
    const m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content').trim() : '';
  };

  // ------------------------------------------------------------------
  // Who and where

  function currentUser() {
    // 1. filled in by mod_include (an unprocessed directive is a comment
    //    node, so its text is empty);
    const ssi = $('bbtoken-user');
    const fromSsi = ssi ? ssi.textContent.trim() : '';
    if (fromSsi && !fromSsi.startsWith('<!--') && !fromSsi.startsWith('(none)')) return fromSsi;
    // 2. a server that templates the page fills the meta tag in;
    const fromMeta = meta('bbtoken-user');
    if (fromMeta && !fromMeta.startsWith('<!--')) return fromMeta;
    // 3. ?user=NAME.
    return new URLSearchParams(location.search).get('user') || '';
  }

  const USER = currentUser();
  const API = (meta('bbtoken-api') || '/rest/access-tokens/latest').replace(/\/+$/, '');
  // Where git is served: a path on this host, or (when the page has a host
  // name of its own, as it should) a URL: https://git.example.com/scm.
  const SCM = (meta('bbtoken-scm') || '/scm').replace(/\/+$/, '');
  const SCM_URL = /^https?:\/\//i.test(SCM) ? new URL(SCM) : null;
  const userBase = () => API + '/users/' + encodeURIComponent(USER);

  // Whose tokens the page shows: null for the user's own, or {key, slug}
  // for a project's (slug '') or a repository's.
  let holder = null;

  function parseHolder(text) {
    const m = /^(~?[A-Za-z0-9_.@-]+)(?:\/([A-Za-z0-9][A-Za-z0-9_.-]*))?$/.exec(text.trim());
    return m ? { key: m[1].startsWith('~') ? m[1].toLowerCase() : m[1].toUpperCase(), slug: m[2] || '' } : null;
  }
  const holderWords = () => (holder.slug ? 'repository ' + holder.key + '/' + holder.slug : 'project ' + holder.key);
  const base = () => (holder
    ? API + '/projects/' + encodeURIComponent(holder.key) + (holder.slug ? '/repos/' + encodeURIComponent(holder.slug) : '')
    : userBase());

  // ------------------------------------------------------------------
  // REST

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // A list asked for before the user chose another holder: its answer is
  // dropped, never shown as the new holder's.
  class Superseded extends Error {}

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      // The API's rule against cross-site requests: every change carries
      // these two headers (a form on another site cannot send them).
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-Atlassian-Token'] = 'no-check';
      if (body !== undefined) opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, 'The server could not be reached. Check your connection and try again.');
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!res.ok) {
      let msg = '';
      if (data && Array.isArray(data.errors)) {
        msg = data.errors.map((e) => e && e.message).filter(Boolean).join(' ');
      }
      if (!msg) {
        msg = {
          400: 'The server refused the request.',
          401: 'You are not permitted to do this, or you are not signed in.',
          403: 'You are not permitted to do this.',
          404: 'Not found: the token may have been revoked already.',
          503: 'The service is unavailable. Try again in a moment.',
        }[res.status] || ('The server answered ' + res.status + '.');
      }
      throw new ApiError(res.status, msg);
    }
    return data;
  }

  // ------------------------------------------------------------------
  // Words

  const fmtDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const fmtDay = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

  function level(perms, prefix) {
    for (const p of perms || []) {
      if (p.startsWith(prefix)) return p.slice(prefix.length);
    }
    return '';
  }

  const RANK = { '': 0, READ: 1, WRITE: 2, ADMIN: 3 };

  function whatItAllows(project, repo) {
    if (RANK[repo] < RANK[project]) return 'This combination is not possible.';
    const can = [];
    if (repo) can.push(RANK[repo] >= 2 ? 'push, pull and clone repositories' : 'pull and clone repositories');
    if (RANK[repo] >= 2) can.push('perform pull request actions');
    if (repo === 'ADMIN') can.push('update repository settings and permissions');
    if (project === 'ADMIN') can.push('update project settings and permissions', 'fork and create repositories');
    if (!can.length) return 'This token can do nothing.';
    const last = can.pop();
    const where = !holder ? ', within what you can do yourself.'
      : holder.slug ? ', in this repository only.' : ', in this project and its repositories only.';
    return 'This token can ' + (can.length ? can.join(', ') + ' and ' : '') + last + where;
  }

  function expiryOf(t) {
    if (typeof t.expiryDate === 'number') return t.expiryDate;
    if (typeof t.expiryDays === 'number' && typeof t.createdDate === 'number') return t.createdDate + t.expiryDays * DAY;
    return null;
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }

  function timeEl(ms, dayOnly) {
    const d = new Date(ms);
    return el('time', { datetime: d.toISOString(), title: d.toISOString(), text: (dayOnly ? fmtDay : fmtDate).format(d) });
  }

  // ------------------------------------------------------------------
  // Status

  function say(msg) {
    const s = $('status');
    s.textContent = '';
    // A fresh node, so that the same message twice is announced twice.
    if (msg) s.append(el('span', { text: msg }));
  }

  function showError(box, err) {
    const b = typeof box === 'string' ? $(box) : box;
    if (!err) { b.hidden = true; b.textContent = ''; return; }
    b.textContent = err.message || String(err);
    b.hidden = false;
  }

  // ------------------------------------------------------------------
  // The list

  const tokens = new Map();
  let nextStart = null;

  function rowFor(t) {
    const perms = t.permissions || [];
    const p = level(perms, 'PROJECT_');
    const r = level(perms, 'REPO_');
    const exp = expiryOf(t);
    const now = Date.now();
    const expired = exp !== null && exp <= now;

    let expiryCell;
    if (exp === null) {
      expiryCell = el('td', {}, el('span', { class: 'muted', text: 'Never' }));
    } else if (expired) {
      expiryCell = el('td', {}, el('span', { class: 'badge expired', text: 'Expired' }), ' ', timeEl(exp, true));
    } else if (exp - now < 7 * DAY) {
      const days = Math.max(1, Math.ceil((exp - now) / DAY));
      expiryCell = el('td', {}, timeEl(exp, true), ' ',
        el('span', { class: 'badge soon', text: 'in ' + days + (days === 1 ? ' day' : ' days') }));
    } else {
      expiryCell = el('td', {}, timeEl(exp, true));
    }

    const name = t.name || '(unnamed)';
    const nets = Array.isArray(t.allowedAddresses) ? t.allowedAddresses : [];
    const groups = typeof t.addressGroups === 'number' ? t.addressGroups : 0;
    const tr = el('tr', { 'data-id': t.id, class: expired ? 'is-expired' : null },
      el('th', { scope: 'row' }, el('span', { class: 'name', text: name }),
        el('span', { class: 'id mono', text: 'ID ' + t.id })),
      el('td', { class: 'perm-words' },
        holder && holder.slug ? null : el('span', { text: 'Project: ' + (LEVEL_WORD[p] || 'none') }),
        el('span', { text: 'Repository: ' + (LEVEL_WORD[r] || 'none') }),
        nets.length ? el('span', { class: 'nets', text: 'Only from: ' + nets.join(', ') }) : null),
      el('td', {}, typeof t.createdDate === 'number' ? timeEl(t.createdDate) : '—'),
      expiryCell,
      el('td', { class: 'last-use' }, typeof t.lastAuthenticated === 'number' ? timeEl(t.lastAuthenticated)
        : el('span', { class: 'muted', text: 'Never used' }),
        t.lastAddress ? el('span', { class: 'where muted', text: 'from ' + t.lastAddress }) : null,
        groups ? el('span', { class: 'where muted', text: groups + (groups === 1 ? ' network' : ' networks') + ' so far' }) : null),
      el('td', { class: 'row-actions' },
        el('button', { type: 'button', class: 'btn link', 'aria-label': 'Edit ' + name,
          onclick: () => openEdit(t.id) }, 'Edit'),
        el('button', { type: 'button', class: 'btn link', 'aria-label': 'Rotate ' + name,
          onclick: () => openRotate(t.id) }, 'Rotate'),
        el('button', { type: 'button', class: 'btn link danger-text', 'aria-label': 'Revoke ' + name,
          onclick: () => openRevoke(t.id) }, 'Revoke')));
    return tr;
  }

  function render() {
    const body = $('tokens-body');
    body.textContent = '';
    if (!tokens.size) {
      body.append(el('tr', { class: 'placeholder' },
        el('td', { colspan: 6, text: holder
          ? 'The ' + holderWords() + ' has no access tokens. Create one for each pipeline or deployment that needs access.'
          : 'You have no personal access tokens. Create one for each tool or script that needs access.' })));
    }
    for (const t of tokens.values()) body.append(rowFor(t));
    $('more-wrap').hidden = nextStart === null;
  }

  async function loadPage(start) {
    const asked = holder;
    const page = await api('GET', base() + '?start=' + start + '&limit=' + PAGE_SIZE);
    if (holder !== asked) throw new Superseded();
    if (page && page.policy) policy = page.policy;
    for (const t of (page && page.values) || []) tokens.set(String(t.id), t);
    nextStart = page && !page.isLastPage && typeof page.nextPageStart === 'number' ? page.nextPageStart : null;
  }

  async function reload() {
    // Reload as many tokens as are shown now.
    const shown = Math.max(PAGE_SIZE, tokens.size);
    tokens.clear();
    nextStart = null;
    await loadPage(0);
    while (nextStart !== null && tokens.size < shown) await loadPage(nextStart);
    render();
  }

  async function refresh() {
    try {
      await reload();
      showError('alert', null);
    } catch (e) {
      if (e instanceof Superseded) return;
      showError('alert', e);
      if (!tokens.size) {
        const body = $('tokens-body');
        body.textContent = '';
        body.append(el('tr', { class: 'placeholder' }, el('td', { colspan: 6,
          text: holder ? 'The tokens of the ' + holderWords() + ' could not be loaded.' : 'Your tokens could not be loaded.' })));
      }
    }
  }

  $('more').addEventListener('click', async () => {
    if (nextStart === null) return;
    try {
      await loadPage(nextStart);
      render();
      say('Showing ' + tokens.size + ' tokens.');
    } catch (e) { if (!(e instanceof Superseded)) showError('alert', e); }
  });

  // ------------------------------------------------------------------
  // Permission pickers: the repository level can never be below the
  // project level, so those choices are disabled.

  const form = $('edit-form');
  const radios = (name) => Array.from(form.querySelectorAll('input[name="' + name + '"]'));
  const picked = (name) => { const r = radios(name).find((x) => x.checked); return r ? r.value : ''; };

  function syncPerms() {
    const p = picked('project');
    const pr = RANK[p.replace('PROJECT_', '')] || 0;
    let r = picked('repo');
    for (const radio of radios('repo')) {
      const rr = RANK[radio.value.replace('REPO_', '')];
      const impossible = rr < pr;
      radio.disabled = impossible;
      radio.closest('label').title = impossible ? 'Not possible with project ' + LEVEL_WORD[p.replace('PROJECT_', '')] : '';
    }
    if ((RANK[r.replace('REPO_', '')] || 0) < pr) {
      r = REPO_LEVELS[pr - 1];
      radios('repo').find((x) => x.value === r).checked = true;
    }
    $('f-what').textContent = whatItAllows(p.replace('PROJECT_', ''), r.replace('REPO_', ''));
  }
  form.addEventListener('change', (e) => {
    if (e.target.name === 'project' || e.target.name === 'repo') syncPerms();
    if (e.target.id === 'f-expiry') {
      const custom = e.target.value === 'custom';
      $('f-days-wrap').hidden = !custom;
      if (custom) $('f-days').focus();
    }
  });

  // ------------------------------------------------------------------
  // Create and edit

  let editing = null;   // token id being edited, or null when creating
  // The expiry policy, as the list reports it (our addition to Bitbucket's
  // envelope): {expiryRequired, maxExpiryDays}.  Null: unknown, offer all.
  let policy = null;

  // Offer only the expiries the policy allows: no "Never" when an expiry is
  // required, nothing beyond the maximum.  The server enforces it anyway.
  function applyPolicy() {
    const sel = $('f-expiry');
    const max = policy && typeof policy.maxExpiryDays === 'number' ? policy.maxExpiryDays : null;
    const required = !!(policy && policy.expiryRequired);
    let best = null;
    for (const o of sel.options) {
      let allowed = true;
      if (o.value === '') allowed = !required;
      else if (o.value !== 'custom' && max !== null) allowed = Number(o.value) <= max;
      o.disabled = !allowed;
      o.hidden = !allowed;
      if (allowed && o.value !== '' && o.value !== 'custom') best = o.value;
    }
    if (sel.selectedOptions.length === 0 || sel.selectedOptions[0].disabled) {
      sel.value = best !== null ? best : 'custom';
    }
    $('f-days').max = String(max !== null ? max : 36500);
    const hint = [];
    if (required) hint.push('Your administrator requires an expiry.');
    if (max !== null) hint.push('At most ' + max + ' days.');
    hint.push('An expiry cannot be changed later.');
    $('f-expiry-hint').textContent = hint.join(' ');
  }

  function setPicks(project, repo) {
    // A repository's token has a repository permission alone.
    $('f-project').hidden = !!(holder && holder.slug);
    if (holder && holder.slug) project = '';
    const noneLabel = $('f-project-none');
    noneLabel.hidden = project !== '';
    for (const x of radios('project')) x.checked = x.value === (project || '');
    for (const x of radios('repo')) x.checked = x.value === repo;
    syncPerms();
  }

  function openCreate() {
    editing = null;
    form.reset();
    $('edit-title').textContent = 'Create token';
    $('edit-submit').textContent = 'Create';
    $('f-expiry-wrap').hidden = false;
    applyPolicy();
    $('f-days-wrap').hidden = $('f-expiry').value !== 'custom';
    setPicks('PROJECT_READ', 'REPO_READ');
    showError('edit-error', null);
    $('edit-dialog').showModal();
    $('f-name').focus();
  }

  function openEdit(id) {
    const t = tokens.get(String(id));
    if (!t) return;
    editing = String(id);
    form.reset();
    $('edit-title').textContent = 'Edit token';
    $('edit-submit').textContent = 'Save';
    $('f-expiry-wrap').hidden = true;   // an expiry cannot be changed
    $('f-name').value = t.name || '';
    const p = level(t.permissions, 'PROJECT_');
    const r = level(t.permissions, 'REPO_');
    setPicks(p ? 'PROJECT_' + p : '', r ? 'REPO_' + r : 'REPO_READ');
    $('f-nets').value = (t.allowedAddresses || []).join('\n');
    showError('edit-error', null);
    $('edit-dialog').showModal();
    $('f-name').focus();
  }

  // The allow-list as typed: networks separated by lines, spaces or commas.
  function chosenNets() {
    return $('f-nets').value.split(/[\s,]+/).filter(Boolean);
  }

  function chosenPermissions() {
    return [picked('project'), picked('repo')].filter(Boolean);
  }

  function chosenExpiry() {
    const v = $('f-expiry').value;
    if (v === '') return { ok: true };
    if (v !== 'custom') return { ok: true, days: Number(v) };
    const raw = $('f-days').value.trim();
    if (!/^[0-9]+$/.test(raw) || Number(raw) < 1) return { ok: false, message: 'Enter the number of days until the token expires (a whole number, 1 or more).' };
    if (policy && typeof policy.maxExpiryDays === 'number' && Number(raw) > policy.maxExpiryDays) {
      return { ok: false, message: 'Your administrator allows an expiry of at most ' + policy.maxExpiryDays + ' days.' };
    }
    return { ok: true, days: Number(raw) };
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('f-name').value.trim();
    if (!name) {
      showError('edit-error', new Error('Give the token a name.'));
      $('f-name').focus();
      return;
    }
    const submit = $('edit-submit');
    submit.disabled = true;
    try {
      if (editing === null) {
        const exp = chosenExpiry();
        if (!exp.ok) { showError('edit-error', new Error(exp.message)); $('f-days').focus(); return; }
        const body = { name, permissions: chosenPermissions() };
        if (exp.days !== undefined) body.expiryDays = exp.days;
        const nets = chosenNets();
        if (nets.length) body.allowedAddresses = nets;
        const created = await api('PUT', base(), body);
        $('edit-dialog').close();
        showNewToken(created);
        refresh();
      } else {
        const old = tokens.get(editing);
        const body = {};
        if (name !== old.name) body.name = name;
        const perms = chosenPermissions();
        const oldPerms = (old.permissions || []).slice().sort().join(',');
        if (perms.slice().sort().join(',') !== oldPerms) body.permissions = perms;
        const nets = chosenNets();
        if (nets.join(' ') !== (old.allowedAddresses || []).join(' ')) body.allowedAddresses = nets;
        if (!Object.keys(body).length) {
          $('edit-dialog').close();
          say('No changes to “' + old.name + '”.');
          return;
        }
        const updated = await api('POST', base() + '/' + encodeURIComponent(editing), body);
        $('edit-dialog').close();
        if (updated && updated.id) tokens.set(String(updated.id), updated);
        render();
        say('Token “' + name + '” updated.');
        refresh();
      }
    } catch (err) {
      showError('edit-error', err);
    } finally {
      submit.disabled = false;
    }
  });

  $('edit-cancel').addEventListener('click', () => $('edit-dialog').close());
  $('create-open').addEventListener('click', openCreate);

  // ------------------------------------------------------------------
  // The new token, shown once

  let secret = '';

  function cloneLines() {
    const proj = $('new-project').value.trim() || 'PROJECT';
    const repo = $('new-repo').value.trim() || 'REPO';
    const path = (SCM_URL ? SCM_URL.pathname.replace(/\/+$/, '') : SCM) + '/' + encodeURIComponent(proj) + '/'
      + encodeURIComponent(repo.replace(/\.git$/, '')) + '.git';
    const origin = (SCM_URL ? SCM_URL.protocol : location.protocol) + '//';
    const host = SCM_URL ? SCM_URL.host : location.host;
    // A project's or repository's token goes with Bitbucket's user name for
    // such tokens: it belongs to no user.
    const who = holder ? 'x-token-auth' : USER;
    $('clone-basic').value = 'git clone ' + origin + encodeURIComponent(who) + ':' + encodeURIComponent(secret)
      + '@' + host + path;
    $('clone-bearer').value = 'git -c http.extraHeader="Authorization: Bearer ' + secret + '" clone '
      + origin + host + path;
  }

  // done: 'created' or 'rotated', for the title and the announcement.
  function showNewToken(t, done = 'created') {
    secret = (t && t.token) || '';
    $('new-title').textContent = 'Token ' + done;
    $('new-name').textContent = t && t.name ? '“' + t.name + '”' : '';
    $('new-token').value = secret;
    $('new-project').value = holder ? holder.key : 'PROJECT';
    $('new-repo').value = holder && holder.slug ? holder.slug : 'REPO';
    $('copy-status').textContent = '';
    cloneLines();
    $('new-dialog').showModal();
    $('new-token').focus();
    $('new-token').select();
    say('Token “' + (t && t.name) + '” ' + done + '. Copy it now: it is shown only once.');
  }

  $('new-project').addEventListener('input', cloneLines);
  $('new-repo').addEventListener('input', cloneLines);

  function forgetToken() {
    secret = '';
    for (const id of ['new-token', 'clone-basic', 'clone-bearer']) $(id).value = '';
  }
  $('new-done').addEventListener('click', () => { forgetToken(); $('new-dialog').close(); });
  $('new-dialog').addEventListener('close', () => { forgetToken(); $('create-open').focus(); });

  async function copyFrom(inputId) {
    const input = $(inputId);
    const text = input.value;
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (e) { ok = false; }
    if (!ok) {
      input.focus();
      input.select();
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    }
    const s = $('copy-status');
    s.textContent = '';
    s.append(el('span', { text: ok ? 'Copied to the clipboard.' : 'Copy failed: select the text and copy it yourself.' }));
  }
  for (const b of document.querySelectorAll('[data-copy]')) {
    b.addEventListener('click', () => copyFrom(b.getAttribute('data-copy')));
  }

  // ------------------------------------------------------------------
  // Rotate: the server makes the new token and revokes the old one.

  let rotating = null;

  function openRotate(id) {
    const t = tokens.get(String(id));
    if (!t) return;
    rotating = String(id);
    $('rotate-name').textContent = t.name;
    showError('rotate-error', null);
    $('rotate-dialog').showModal();
    $('rotate-cancel').focus();   // the safe choice first
  }

  $('rotate-cancel').addEventListener('click', () => $('rotate-dialog').close());
  $('rotate-confirm').addEventListener('click', async () => {
    const btn = $('rotate-confirm');
    btn.disabled = true;
    try {
      const rotated = await api('POST', base() + '/' + encodeURIComponent(rotating) + '/rotate');
      $('rotate-dialog').close();
      tokens.delete(rotating);
      render();
      showNewToken(rotated, 'rotated');
      refresh();
    } catch (err) {
      showError('rotate-error', err);
    } finally {
      btn.disabled = false;
    }
  });

  // ------------------------------------------------------------------
  // Revoke

  let revoking = null;

  function openRevoke(id) {
    const t = tokens.get(String(id));
    if (!t) return;
    revoking = String(id);
    $('revoke-name').textContent = t.name;
    showError('revoke-error', null);
    $('revoke-dialog').showModal();
    $('revoke-cancel').focus();   // the safe choice first
  }

  $('revoke-cancel').addEventListener('click', () => $('revoke-dialog').close());
  $('revoke-confirm').addEventListener('click', async () => {
    const id = revoking;
    const t = tokens.get(id);
    const btn = $('revoke-confirm');
    btn.disabled = true;
    try {
      await api('DELETE', base() + '/' + encodeURIComponent(id));
      $('revoke-dialog').close();
      tokens.delete(id);
      render();
      say('Token “' + (t ? t.name : id) + '” revoked.');
      $('create-open').focus();
      refresh();
    } catch (err) {
      showError('revoke-error', err);
    } finally {
      btn.disabled = false;
    }
  });

  // ------------------------------------------------------------------
  // Whose tokens

  function showHolder(h) {
    holder = h;
    $('page-title').textContent = holder ? 'Access tokens of ' + holderWords() : 'Personal access tokens';
    $('holder-mine').hidden = !holder;
    $('holder').value = holder ? holder.key + (holder.slug ? '/' + holder.slug : '') : '';
    syncPlaces();
    tokens.clear();
    nextStart = null;
    $('tokens-body').textContent = '';
    showError('alert', null);
    say(holder ? 'Showing the tokens of the ' + holderWords() + '.' : 'Showing your own tokens.');
    return refresh();
  }

  $('holder-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('holder').value;
    if (!text.trim()) { showHolder(null); return; }
    const h = parseHolder(text);
    if (!h) {
      showError('alert', new Error('Give a project key (PROJECT) or a repository (PROJECT/repository).'));
      $('holder').focus();
      return;
    }
    showHolder(h);
  });
  $('holder-mine').addEventListener('click', () => { showHolder(null); $('holder').focus(); });

  // ------------------------------------------------------------------
  // The places the user administers, to choose from rather than type: as
  // the server lists them, their personal project first, then projects,
  // then repositories.  Choosing one is typing it and pressing Show.

  const placeText = (v) => (v.repository ? v.repository.project.key + '/' + v.repository.slug : v.project.key);

  async function loadPlaces() {
    const all = [];
    let start = 0;
    // At most 20 pages of 1000: a longer list is of no use in a list box.
    for (let i = 0; i < 20; i++) {
      const page = await api('GET', API + '/places?start=' + start + '&limit=1000');
      for (const v of (page && page.values) || []) {
        if (v && (v.project || (v.repository && v.repository.project))) all.push(placeText(v));
      }
      if (!page || page.isLastPage || typeof page.nextPageStart !== 'number') break;
      start = page.nextPageStart;
    }
    return all;
  }

  // The list shows the holder the page shows: "None" for the user's own
  // tokens, nothing for a place it does not hold (one typed).
  function syncPlaces() {
    const sel = $('places');
    const v = holder ? holder.key + (holder.slug ? '/' + holder.slug : '') : '';
    if (Array.from(sel.options).some((o) => o.value === v)) sel.value = v;
    else sel.selectedIndex = -1;
  }

  async function fillPlaces() {
    let places;
    try {
      places = await loadPlaces();
    } catch (e) {
      // Typing still works; the list is a convenience.
      $('places-hint').textContent = 'Your projects and repositories could not be listed: ' + e.message
        + ' Type one below.';
      $('places').disabled = true;
      $('places-wrap').hidden = false;
      return;
    }
    const sel = $('places');
    const personal = '~' + USER.toLowerCase();
    const projects = el('optgroup', { label: 'Projects' });
    const repos = el('optgroup', { label: 'Repositories' });
    for (const p of places) {
      const text = p === personal ? p + ' (your personal project)' : p;
      (p.includes('/') ? repos : projects).append(el('option', { value: p, text }));
    }
    for (const g of [projects, repos]) if (g.children.length) sel.append(g);
    $('places-wrap').hidden = false;
    syncPlaces();
  }

  $('places').addEventListener('change', () => {
    const v = $('places').value;
    showHolder(v ? parseHolder(v) : null);
  });

  // ------------------------------------------------------------------
  // Start

  const who = $('who');
  if (USER) {
    who.append(el('span', { class: 'avatar', 'aria-hidden': 'true', text: USER.slice(0, 1) }), el('span', { text: USER }));
  }

  if (!USER) {
    $('create-open').disabled = true;
    $('tokens-body').textContent = '';
    showError('alert', new Error('This page cannot tell who you are. The server must fill in the '
      + 'bbtoken-user meta tag (or process the page with mod_include), or open it as …?user=NAME.'));
  } else {
    refresh();
    fillPlaces();
  }
})();
