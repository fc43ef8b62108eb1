// Personal access tokens page: what its scripts share.  Plain JavaScript,
// no dependencies; tokens.html loads, in this order,
//   tokens-common.js  who and where, whose tokens, the REST client, and
//                     making elements and messages
//   tokens-new.js     a new token, shown once
//   tokens.js         the list of tokens and its dialogs
//   tokens-places.js  whose tokens the page shows, and its start
// each a classic script that runs once the page is parsed (defer, which
// keeps that order; no inline script, for the page's Content-Security-
// Policy).  They share one global, BBToken, and nothing else.
//
// The page talks only to the access-tokens REST API on this origin
// (Bitbucket's layout):
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

const BBToken = (function () {
  const bbt = {
    // Whose tokens the page shows: null for the user's own, or {key, slug}
    // for a project's (slug '') or a repository's.  Only tokens-places.js
    // changes it.
    holder: null,
  };

  const $ = (id) => document.getElementById(id);
  const meta = (name) => {
    const m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content').trim() : '';
  };

  // ------------------------------------------------------------------
  // Who and where

  // What mod_include filled into a hidden span: an unprocessed directive is
  // a comment node, so its text is empty; "(none)" is mod_include's word for
  // an unset variable where the page's echomsg was not honoured.
  const served = (id) => {
    const el = $(id);
    const t = el ? el.textContent.trim() : '';
    return t && !t.startsWith('<!--') && !t.startsWith('(none)') ? t : '';
  };

  function currentUser() {
    // 1. filled in by mod_include;
    const fromSsi = served('bbtoken-user');
    if (fromSsi) return fromSsi;
    // 2. a server that templates the page fills the meta tag in;
    const fromMeta = meta('bbtoken-user');
    if (fromMeta && !fromMeta.startsWith('<!--')) return fromMeta;
    // 3. ?user=NAME.
    return new URLSearchParams(location.search).get('user') || '';
  }

  const USER = currentUser();
  // The server's configuration first, then the meta tags.
  const API = (served('bbtoken-api') || meta('bbtoken-api')
               || '/rest/access-tokens/latest').replace(/\/+$/, '');
  // Where git is served: a path on this host, or (when the page has a host
  // name of its own, as it should) a URL: https://git.example.com/scm.
  const SCM = (served('bbtoken-scm') || meta('bbtoken-scm') || '/scm').replace(/\/+$/, '');
  const SCM_URL = /^https?:\/\//i.test(SCM) ? new URL(SCM) : null;
  const userBase = () => API + '/users/' + encodeURIComponent(USER);

  // A token's name as the page's messages quote it.
  const named = (w) => (w.name ? '“' + w.name + '”' : '(unnamed)');

  const holderWords = () => (bbt.holder.slug
    ? 'repository ' + bbt.holder.key + '/' + bbt.holder.slug : 'project ' + bbt.holder.key);
  const base = () => (bbt.holder
    ? API + '/projects/' + encodeURIComponent(bbt.holder.key)
      + (bbt.holder.slug ? '/repos/' + encodeURIComponent(bbt.holder.slug) : '')
    : userBase());

  // ------------------------------------------------------------------
  // REST

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

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
  // Elements

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

  // Runs rebuild, which replaces the rows of body (a table's), keeping the
  // focus one of its buttons had, which would fall to the page's body with
  // its row: to the same button (by its text: a row rebuilt may have
  // another set, an expired token's no Rotate) of the new row of the same
  // data-id, or to fallback where there is none.
  function keepingFocus(body, fallback, rebuild) {
    const had = body.contains(document.activeElement) ? document.activeElement : null;
    const row = had && had.closest('tr[data-id]');
    rebuild();
    if (!had) return;
    const now = row && Array.from(body.rows).find((r) => r.dataset.id === row.dataset.id);
    const same = now && Array.from(now.querySelectorAll('button')).find((b) => b.textContent === had.textContent);
    (same || fallback).focus();
  }

  // ------------------------------------------------------------------
  // Status

  // The modal dialogs in the order they were shown.  While one is open,
  // the rest of the page, its live regions too, is out of the
  // accessibility tree (Chromium: "activeModalDialog"): what is said then
  // is said in the dialog's own status line (class "said"), the one shown
  // last of those open.
  const modals = [];

  function showModal(dialog) {
    const i = modals.indexOf(dialog);
    if (i >= 0) modals.splice(i, 1);
    modals.push(dialog);
    sayIn(dialog.querySelector('.said'), '');
    dialog.showModal();
  }

  function openDialog() {
    for (let i = modals.length - 1; i >= 0; i--) if (modals[i].open) return modals[i];
    return null;
  }

  function sayIn(region, msg) {
    region.textContent = '';
    // A fresh node, so that the same message twice is announced twice.
    if (msg) region.append(el('span', { text: msg }));
  }

  // In the page's status line, which keeps it for when the dialog closes,
  // and in the open dialog's, if any.
  function say(msg) {
    sayIn($('status'), msg);
    sayInDialog(msg);
  }

  // In the open dialog alone: what the page shows elsewhere (its alert),
  // where the dialog hides it.
  function sayInDialog(msg) {
    const d = openDialog();
    if (d) sayIn(d.querySelector('.said'), msg);
  }

  function showError(box, err) {
    const b = typeof box === 'string' ? $(box) : box;
    if (!err) { b.hidden = true; b.textContent = ''; return; }
    b.textContent = err.message || String(err);
    b.hidden = false;
  }

  return Object.assign(bbt, {
    $, USER, API, SCM, SCM_URL, holderWords, named, base, api, el, keepingFocus, say, sayIn, sayInDialog, showModal, showError,
  });
})();
