// Personal access tokens page: whose tokens it shows.  The user's own at
// the start; a project's or a repository's once the user names one or
// chooses it from the list of the places they administer.  Needs
// tokens-common.js and tokens.js before it, and starts the page.
'use strict';

(function (bbt) {
  const { $, el, say, showError, api, API, holderWords, USER, refresh, clearList } = bbt;

  // ------------------------------------------------------------------
  // Whose tokens

  // A personal project's key is ~ and its owner's slug, as the module
  // spells it: the name in lower case, @ as _.
  const personalKey = (name) => '~' + name.toLowerCase().replace(/@/g, '_');

  function parseHolder(text) {
    const m = /^(~?[A-Za-z0-9_.@-]+)(?:\/([A-Za-z0-9][A-Za-z0-9_.-]*))?$/.exec(text.trim());
    return m ? { key: m[1].startsWith('~') ? personalKey(m[1].slice(1)) : m[1].toUpperCase(), slug: m[2] || '' } : null;
  }

  function showHolder(h) {
    bbt.holder = h;
    // The list's heading and the table's caption, which name the list for
    // a screen reader, say whose it is as the page's title does.
    $('page-title').textContent = bbt.holder ? 'Access tokens of ' + holderWords() : 'Personal access tokens';
    $('list-title').textContent = bbt.holder ? 'Tokens of the ' + holderWords() : 'Your tokens';
    $('list-caption').textContent = bbt.holder ? 'Access tokens of the ' + holderWords() : 'Your personal access tokens';
    $('holder-mine').hidden = !bbt.holder;
    $('holder').value = bbt.holder ? bbt.holder.key + (bbt.holder.slug ? '/' + bbt.holder.slug : '') : '';
    syncPlaces();
    clearList();
    showError('alert', null);
    say(bbt.holder ? 'Showing the tokens of the ' + holderWords() + '.' : 'Showing your own tokens.');
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
  // the server lists them, their personal project and its repositories
  // first, then the other projects, then their repositories.  Choosing one
  // is typing it: Show (or Enter in the list) shows its tokens.  Choosing
  // alone turns the page to no other holder: the arrow keys choose each
  // place on their way.

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
    const v = bbt.holder ? bbt.holder.key + (bbt.holder.slug ? '/' + bbt.holder.slug : '') : '';
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
    const personal = personalKey(USER);
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

  $('places').addEventListener('change', () => { $('holder').value = $('places').value; });
  $('places').addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    $('holder-form').requestSubmit();
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
})(BBToken);
