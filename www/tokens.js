// Personal access tokens page: the tokens of the holder the page shows
// (the user's own, a project's or a repository's), their list and the
// dialogs that create, edit, rotate and revoke them.  Needs
// tokens-common.js and tokens-new.js (which shows a new token) before it;
// tokens-places.js, after it, chooses the holder and starts the page with
// refresh and clearList.
'use strict';

(function (bbt) {
  const { $, el, named, keepingFocus, say, sayInDialog, showModal, showError, showNewToken, api, base, holderWords } = bbt;
  const PAGE_SIZE = 25;
  const REPO_LEVELS = ['REPO_READ', 'REPO_WRITE', 'REPO_ADMIN'];
  const LEVEL_WORD = { READ: 'Read', WRITE: 'Write', ADMIN: 'Admin' };
  const DAY = 86400000;

  // A list asked for before the list was asked for again (a change, or
  // another holder): its answer is dropped, never shown over the newer one.
  class Superseded extends Error {}

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
    const where = !bbt.holder ? ', within what you can do yourself.'
      : bbt.holder.slug ? ', in this repository only.' : ', in this project and its repositories only.';
    return 'This token can ' + (can.length ? can.join(', ') + ' and ' : '') + last + where;
  }

  function expiryOf(t) {
    if (typeof t.expiryDate === 'number') return t.expiryDate;
    if (typeof t.expiryDays === 'number' && typeof t.createdDate === 'number') return t.createdDate + t.expiryDays * DAY;
    return null;
  }

  function timeEl(ms, dayOnly) {
    const d = new Date(ms);
    return el('time', { datetime: d.toISOString(), title: d.toISOString(), text: (dayOnly ? fmtDay : fmtDate).format(d) });
  }

  // ------------------------------------------------------------------
  // The list

  // The tokens shown, by id.  A reload fills a map of its own and puts it
  // here when it is done, so the rows shown meanwhile keep working.
  let tokens = new Map();
  let nextStart = null;
  // Counts the times the list was asked for anew: an answer to an older
  // ask is superseded.
  let generation = 0;
  // Counts the times the page turned to a holder (clearList): an answer to
  // a change asked for before then may be about another holder's list,
  // which the page no longer shows.
  let turns = 0;

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
        bbt.holder && bbt.holder.slug ? null : el('span', { text: 'Project: ' + (LEVEL_WORD[p] || 'none') }),
        el('span', { text: 'Repository: ' + (LEVEL_WORD[r] || 'none') }),
        nets.length ? el('span', { class: 'nets', text: 'Only from: ' + nets.join(', ') }) : null),
      el('td', {}, typeof t.createdDate === 'number' ? timeEl(t.createdDate) : '—'),
      expiryCell,
      el('td', { class: 'last-use' }, typeof t.lastAuthenticated === 'number' ? timeEl(t.lastAuthenticated)
        : el('span', { class: 'muted', text: 'Never used' }),
        t.lastAddress ? el('span', { class: 'where muted', text: 'from ' + t.lastAddress }) : null,
        groups ? el('span', { class: 'where muted', text: groups + (groups === 1 ? ' network' : ' networks') + ' so far' }) : null),
      // An expired token has no Rotate: the server rotates a live token
      // only, and would refuse it.
      el('td', { class: 'row-actions' },
        el('button', { type: 'button', class: 'btn link', 'aria-label': 'Edit ' + name,
          onclick: () => openEdit(t.id) }, 'Edit'),
        expired ? null : el('button', { type: 'button', class: 'btn link', 'aria-label': 'Rotate ' + name,
          onclick: () => openRotate(t.id) }, 'Rotate'),
        el('button', { type: 'button', class: 'btn link danger-text', 'aria-label': 'Revoke ' + name,
          onclick: () => openRevoke(t.id) }, 'Revoke')));
    return tr;
  }

  // A dialog closed by its answer gives focus back to the row's button
  // that opened it, just before the list is rebuilt: keepingFocus moves it
  // to the row rebuilt, or to Create token where the token is gone.
  function render() {
    const body = $('tokens-body');
    keepingFocus(body, $('create-open'), () => {
      body.textContent = '';
      if (!tokens.size) {
        body.append(el('tr', { class: 'placeholder' },
          el('td', { colspan: 6, text: bbt.holder
            ? 'The ' + holderWords() + ' has no access tokens. Create one for each pipeline or deployment that needs access.'
            : 'You have no personal access tokens. Create one for each tool or script that needs access.' })));
      }
      for (const t of tokens.values()) body.append(rowFor(t));
    });
    $('more-wrap').hidden = nextStart === null;
    closeGone();
  }

  // One page of the list from start into the map into: where the next
  // page starts (null: none), and whether the page added a token.  A next
  // page that does not start further on is none: a paging that goes
  // nowhere would be followed for ever.
  async function loadPage(start, into, gen) {
    // withPolicy: the expiry policy beside the tokens, which the list
    // leaves out unless asked (Bitbucket's envelope, for its clients).
    const page = await api('GET', base() + '?start=' + start + '&limit=' + PAGE_SIZE + '&withPolicy=true');
    if (gen !== generation) throw new Superseded();
    if (page && page.policy) policy = page.policy;
    const before = into.size;
    for (const t of (page && page.values) || []) into.set(String(t.id), t);
    const next = page && !page.isLastPage && typeof page.nextPageStart === 'number'
      && page.nextPageStart > start ? page.nextPageStart : null;
    return { next, added: into.size > before };
  }

  async function reload() {
    // Reload as many tokens as are shown now, while a page adds any, and
    // on until the token an open dialog acts on, if any: new tokens may
    // have pushed it further down.
    const gen = ++generation;
    const shown = Math.max(PAGE_SIZE, tokens.size);
    const wanted = edited();
    const fresh = new Map();
    let page = await loadPage(0, fresh, gen);
    while (page.next !== null && page.added && (fresh.size < shown || wanted.some((id) => !fresh.has(id)))) {
      page = await loadPage(page.next, fresh, gen);
    }
    tokens = fresh;
    nextStart = page.next;
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
          text: bbt.holder ? 'The tokens of the ' + holderWords() + ' could not be loaded.' : 'Your tokens could not be loaded.' })));
      }
    }
  }

  // Where a change is asked for, as its answer needs it: the page may turn
  // to another holder before the answer comes.
  const askedNow = () => ({ holder: bbt.holder, where: base(), turn: turns });

  // What a change's answer does to the list: where the page still shows
  // the holder it was asked for, update (if any) and a reload; where it
  // turned away and back, the reload alone (the list asked for on coming
  // back may be older than the change); another holder's list it leaves
  // alone.  The reload's promise, if any.
  function changed(asked, update) {
    if (asked.turn === turns) {
      if (update) { update(); render(); }
    } else if (asked.where !== base()) {
      return undefined;
    }
    return refresh();
  }

  // The focus on "Show more tokens" goes on to the first row it added,
  // where the user reads on: the button hides itself on the last page,
  // which would drop the focus to the page's body.
  $('more').addEventListener('click', async () => {
    if (nextStart === null) return;
    const shown = tokens;
    const before = new Set(tokens.keys());
    try {
      const page = await loadPage(nextStart, shown, generation);
      if (shown !== tokens) return;   // a reload answered first
      nextStart = page.next;
      const a = document.activeElement;
      const had = a === $('more') || !a || a === document.body;
      render();
      if (had) {
        const row = Array.from($('tokens-body').rows).find((r) => r.dataset.id && !before.has(r.dataset.id));
        const to = row ? row.querySelector('button') : $('more-wrap').hidden ? $('create-open') : null;
        if (to) to.focus();
      }
      say('Showing ' + tokens.size + ' tokens.');
    } catch (e) { if (!(e instanceof Superseded)) showError('alert', e); }
  });

  // ------------------------------------------------------------------
  // Dialogs.  Each showing of a dialog has its own number: an answer that
  // arrives after the user closed the dialog and opened it again (for
  // another token, or to create one) closes only the showing it was asked
  // from, and its error goes to the page's alert, not to the newer showing;
  // the alert names what failed, and a dialog open then says it too (the
  // alert is behind it, out of the accessibility tree).

  const showings = new Map();
  function show(id) {
    showings.set(id, (showings.get(id) || 0) + 1);
    showModal($(id));
  }
  const showing = (id) => showings.get(id) || 0;
  function closeShowing(id, n) {
    if (showing(id) === n) $(id).close();
  }
  // An error in the open dialog id.  The button pressed was disabled while
  // its answer was awaited, which took the focus from it, to the page's
  // body behind the modal dialog (Tab then stays there): the error, which
  // can take the focus, takes it, so that it is read out and Tab goes on
  // from it to the dialog's buttons.  A focus still in the dialog (the
  // field Enter was pressed in) stays; the error is announced anyway.
  function refuseIn(id, errorId, err) {
    showError(errorId, err);
    const a = document.activeElement;
    if (!a || a.disabled || !$(id).contains(a)) $(errorId).focus();
  }

  // what: "Rotating the token “CI”", say.
  function showErrorIn(id, n, errorId, err, what) {
    if (showing(id) === n && $(id).open) return refuseIn(id, errorId, err);
    const late = new Error(what + ' failed: ' + (err.message || String(err)));
    showError('alert', late);
    sayInDialog(late.message);
  }

  // A change refused because its token is gone (revoked or rotated in
  // another tab, say: 404, or a rotation's 400 "token N is revoked: ..."):
  // the list asked for again takes its row away and closes its dialog,
  // saying why (closeGone).
  function goneWith(err, asked) {
    if (err && (err.status === 404 || (err.status === 400 && / is revoked\b/.test(err.message)))) changed(asked);
  }

  // A change whose outcome the server could not learn (503 saying whether
  // it took effect "is not known": its COMMIT's answer was lost, and the
  // database could not be asked again).  The message names the token and
  // says what the list shows if it did, so the list is asked for again,
  // and the message stays in the page's alert: the reload clears the
  // alert, and a dialog it closes (its token rotated or revoked after
  // all) would take the message away with it.
  function unknownWith(err, asked, what) {
    if (!err || err.status !== 503 || !/ is not known\b/.test(err.message)) return;
    const says = new Error(what + ': ' + err.message);
    const reload = changed(asked);
    if (reload) reload.then(() => { if (asked.where === base()) showError('alert', says); });
  }

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
  let editingName = ''; // its name when its dialog was opened
  // The expiry policy, as the list asked withPolicy=true reports it (our
  // addition to Bitbucket's envelope): {expiryRequired, maxExpiryDays}.
  // Null: unknown, offer all.
  let policy = null;

  // Offer only the expiries the policy allows: no "Never" when there is a
  // maximum (a token asked without an expiry gets it) or an expiry is
  // required, nothing beyond the maximum.  The server enforces it anyway.
  function applyPolicy() {
    const sel = $('f-expiry');
    const max = policy && typeof policy.maxExpiryDays === 'number' ? policy.maxExpiryDays : null;
    const required = max !== null || !!(policy && policy.expiryRequired);
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
      // No choice is short enough: the longest allowed is the maximum.
      if (best === null && max !== null) $('f-days').value = String(max);
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
    $('f-project').hidden = !!(bbt.holder && bbt.holder.slug);
    if (bbt.holder && bbt.holder.slug) project = '';
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
    // Bitbucket's default: the owner's own level, which the owner's live
    // access caps anyway (the CLI's default too); the hint asks to lower it.
    setPicks('PROJECT_ADMIN', 'REPO_ADMIN');
    $('f-perm-hint').hidden = false;
    showError('edit-error', null);
    show('edit-dialog');
    $('f-name').focus();
  }

  // The dialogs that act on one listed token: the token each was opened
  // for, its name then, and the button whose answer is awaited.
  const ON_TOKEN = [
    { dialog: 'edit-dialog', id: () => editing, name: () => editingName, busy: 'edit-submit' },
    { dialog: 'rotate-dialog', id: () => rotating, name: () => rotatingName, busy: 'rotate-confirm' },
    { dialog: 'revoke-dialog', id: () => revoking, name: () => revokingName, busy: 'revoke-confirm' },
  ];

  // The tokens whose dialogs are open.
  function edited() {
    return ON_TOKEN.filter((d) => d.id() !== null && $(d.dialog).open).map((d) => d.id());
  }

  // A dialog of a token the list no longer has (rotated or revoked
  // elsewhere, or rotated here by an answer that came while it was open)
  // is closed: confirming could only fail.  A reload looks for it past the
  // tokens shown (reload), so one not found is gone.  A Rotate or Revoke
  // whose answer is awaited is left to that answer: its own change may be
  // what took the token away.
  function closeGone() {
    for (const d of ON_TOKEN) {
      const id = d.id();
      if (id === null || !$(d.dialog).open || tokens.has(id)) continue;
      if (d.dialog !== 'edit-dialog' && $(d.busy).disabled) continue;
      $(d.dialog).close();
      // Focus goes back to the button that opened it, whose row is gone.
      const a = document.activeElement;
      if (!a || a === document.body || $(d.dialog).contains(a)) $('create-open').focus();
      say('Token ' + named({ name: d.name() }) + ' no longer exists: it was rotated or revoked.');
    }
  }

  function openEdit(id) {
    const t = tokens.get(String(id));
    if (!t) return;
    editing = String(id);
    editingName = t.name || '';
    form.reset();
    $('edit-title').textContent = 'Edit token';
    $('edit-submit').textContent = 'Save';
    $('f-expiry-wrap').hidden = true;   // an expiry cannot be changed
    $('f-name').value = t.name || '';
    const p = level(t.permissions, 'PROJECT_');
    const r = level(t.permissions, 'REPO_');
    setPicks(p ? 'PROJECT_' + p : '', r ? 'REPO_' + r : 'REPO_READ');
    $('f-perm-hint').hidden = true;
    $('f-nets').value = (t.allowedAddresses || []).join('\n');
    showError('edit-error', null);
    show('edit-dialog');
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
    const typed = $('f-name').value;
    const name = typed.trim();
    if (!name) {
      showError('edit-error', new Error('Give the token a name.'));
      $('f-name').focus();
      return;
    }
    const submit = $('edit-submit');
    const n = showing('edit-dialog');
    const asked = askedNow();
    const id = editing;
    const what = id === null ? 'Creating the token ' + named({ name }) : 'Saving the token ' + named({ name: editingName });
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
        closeShowing('edit-dialog', n);
        showNewToken(created, 'created', asked.holder);
        changed(asked);
      } else {
        const old = tokens.get(editing);
        if (!old) {
          refuseIn('edit-dialog', 'edit-error',
            new Error('This token is no longer listed: it may have been rotated or revoked. Nothing was saved.'));
          return;
        }
        const body = {};
        // A name left as it was stays as it is, spaces and all (a valid
        // name); one the user typed is taken trimmed.
        if (typed !== old.name && name !== old.name) body.name = name;
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
        closeShowing('edit-dialog', n);
        say('Token “' + name + '” updated.');
        changed(asked, () => { if (updated && updated.id) tokens.set(String(updated.id), updated); });
      }
    } catch (err) {
      showErrorIn('edit-dialog', n, 'edit-error', err, what);
      if (id !== null) goneWith(err, asked);
      unknownWith(err, asked, what);
    } finally {
      submit.disabled = false;
    }
  });

  $('edit-cancel').addEventListener('click', () => $('edit-dialog').close());
  $('create-open').addEventListener('click', openCreate);

  // ------------------------------------------------------------------
  // Rotate: the server makes the new token and revokes the old one.

  let rotating = null;
  let rotatingName = '';

  function openRotate(id) {
    const t = tokens.get(String(id));
    if (!t) return;
    rotating = String(id);
    rotatingName = t.name || '';
    $('rotate-name').textContent = t.name;
    showError('rotate-error', null);
    show('rotate-dialog');
    $('rotate-cancel').focus();   // the safe choice first
  }

  $('rotate-cancel').addEventListener('click', () => $('rotate-dialog').close());
  $('rotate-confirm').addEventListener('click', async () => {
    const btn = $('rotate-confirm');
    const id = rotating, n = showing('rotate-dialog');
    const asked = askedNow();
    const what = 'Rotating the token ' + named({ name: rotatingName });
    btn.disabled = true;
    try {
      const rotated = await api('POST', base() + '/' + encodeURIComponent(id) + '/rotate');
      closeShowing('rotate-dialog', n);
      changed(asked, () => tokens.delete(id));
      showNewToken(rotated, 'rotated', asked.holder);
    } catch (err) {
      showErrorIn('rotate-dialog', n, 'rotate-error', err, what);
      goneWith(err, asked);
      unknownWith(err, asked, what);
    } finally {
      btn.disabled = false;
    }
  });

  // ------------------------------------------------------------------
  // Revoke

  let revoking = null;
  let revokingName = '';

  function openRevoke(id) {
    const t = tokens.get(String(id));
    if (!t) return;
    revoking = String(id);
    revokingName = t.name || '';
    $('revoke-name').textContent = t.name;
    showError('revoke-error', null);
    show('revoke-dialog');
    $('revoke-cancel').focus();   // the safe choice first
  }

  $('revoke-cancel').addEventListener('click', () => $('revoke-dialog').close());
  $('revoke-confirm').addEventListener('click', async () => {
    const id = revoking;
    const t = tokens.get(id);
    const btn = $('revoke-confirm');
    const n = showing('revoke-dialog');
    const asked = askedNow();
    const what = 'Revoking the token ' + named({ name: revokingName });
    btn.disabled = true;
    try {
      await api('DELETE', base() + '/' + encodeURIComponent(id));
      closeShowing('revoke-dialog', n);
      changed(asked, () => tokens.delete(id));
      say('Token “' + (t ? t.name : id) + '” revoked.');
      $('create-open').focus();
    } catch (err) {
      showErrorIn('revoke-dialog', n, 'revoke-error', err, what);
      goneWith(err, asked);
      unknownWith(err, asked, what);
    } finally {
      btn.disabled = false;
    }
  });

  // The list as tokens-places.js needs it: emptied when the page turns to
  // another holder, and loaded again.
  function clearList() {
    generation++;
    turns++;
    tokens = new Map();
    nextStart = null;
    $('tokens-body').textContent = '';
  }

  Object.assign(bbt, { refresh, clearList });
})(BBToken);
