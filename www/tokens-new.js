// Personal access tokens page: a new token (created or rotated), shown
// once in its dialog with its copy buttons and clone lines, and those that
// come meanwhile waiting their turn.  Needs tokens-common.js before it;
// tokens.js, after it, shows each new token with showNewToken.
'use strict';

(function (bbt) {
  const { $, el, named, sayIn, showModal, USER, SCM, SCM_URL } = bbt;

  // The new token shown, {secret, name, done, holder}, or null; and those
  // that came while it was shown (a creation and a rotation both on their
  // way), oldest first.  Each waits for the dialog to close: none may
  // replace another, since none can be shown again.
  let current = null;
  const waiting = [];

  function cloneLines() {
    if (!current) return;
    const holder = current.holder;
    const proj = $('new-project').value.trim() || 'PROJECT';
    const repo = $('new-repo').value.trim() || 'REPO';
    const path = (SCM_URL ? SCM_URL.pathname.replace(/\/+$/, '') : SCM) + '/' + encodeURIComponent(proj) + '/'
      + encodeURIComponent(repo.replace(/\.git$/, '')) + '.git';
    const origin = (SCM_URL ? SCM_URL.protocol : location.protocol) + '//';
    const host = SCM_URL ? SCM_URL.host : location.host;
    // A project's or repository's token goes with Bitbucket's user name for
    // such tokens: it belongs to no user.  The name alone: git asks for the
    // password, the token.  A token in the URL would be among git's
    // arguments (ps) and stay in the clone's .git/config, which other users
    // may read.
    const who = holder ? 'x-token-auth' : USER;
    $('clone-basic').value = 'git clone ' + origin + encodeURIComponent(who) + '@' + host + path;
    // The header in git's environment, not its arguments: any local user
    // can read a running command's arguments (ps), only its owner its
    // environment.  Scoped to the repository's URL: git-lfs sends a header
    // that names no URL to any host the repository's .lfsconfig names,
    // which whoever may push there chooses.
    $('clone-bearer').value = 'GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.' + origin + host + path + '.extraHeader '
      + 'GIT_CONFIG_VALUE_0="Authorization: Bearer ' + current.secret + '" git clone ' + origin + host + path;
  }

  // Says in the dialog (a live region there: the page's own is behind the
  // modal dialog) which new tokens wait to be shown after this one.
  function sayWaiting() {
    const more = $('new-more');
    more.textContent = '';
    if (!waiting.length) return;
    more.append(el('p', { class: 'notice', text: 'Shown next, when you close this one: '
      + waiting.map((w) => 'the token ' + named(w) + ' ' + w.done).join(', ') + '.' }));
  }

  // done: 'created' or 'rotated', for the title and the announcement;
  // holder: whose token it is (bbt.holder when it was asked for), for the
  // clone lines.
  function showNewToken(t, done, holder) {
    waiting.push({ secret: (t && t.token) || '', name: (t && t.name) || '', done, holder });
    if (current) sayWaiting();
    else showNext();
  }

  function showNext() {
    current = waiting.shift();
    $('new-title').textContent = 'Token ' + current.done;
    $('new-name').textContent = current.name ? named(current) : '';
    $('new-token').value = current.secret;
    $('new-project').value = current.holder ? current.holder.key : 'PROJECT';
    $('new-repo').value = current.holder && current.holder.slug ? current.holder.slug : 'REPO';
    sayWaiting();
    cloneLines();
    showModal($('new-dialog'));
    $('new-token').focus();
    $('new-token').select();
    const msg = 'Token ' + named(current) + ' ' + current.done + '. Copy it now: it is shown only once.';
    sayIn($('status'), msg);
    // In the dialog (besides the notice, its description) a moment later,
    // unless it said something since (Copied): a live region is heard when
    // what it holds changes in the accessibility tree, not when it appears.
    const shown = current;
    setTimeout(() => { if (current === shown && !$('copy-status').textContent) sayIn($('copy-status'), msg); }, 100);
  }

  $('new-project').addEventListener('input', cloneLines);
  $('new-repo').addEventListener('input', cloneLines);

  function wipeToken() {
    for (const id of ['new-token', 'clone-basic', 'clone-bearer']) $(id).value = '';
  }
  // The page left, or its tab closed, with the dialog open: a browser may
  // keep the controls' values with the page's history entry (its saved
  // session, on disk) despite their autocomplete="off", and the
  // back/forward cache keeps the page as it is.  One brought back from
  // that cache closes the dialog it emptied (the next token waiting, if
  // any, is shown): the token was shown once, as a page loaded anew
  // does not show it again.
  window.addEventListener('pagehide', wipeToken);
  window.addEventListener('pageshow', (e) => { if (e.persisted && current) $('new-dialog').close(); });
  // Done wipes the token at once, but the next one is shown by the close
  // event alone (it comes later, and Escape closes too): until then one
  // that arrives waits its turn, rather than being shown and then wiped.
  $('new-done').addEventListener('click', () => { wipeToken(); $('new-dialog').close(); });
  $('new-dialog').addEventListener('close', () => {
    current = null;
    wipeToken();
    if (waiting.length) showNext();
    else $('create-open').focus();
  });

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

  Object.assign(bbt, { showNewToken });
})(BBToken);
