// What the specs do as a user at a shell: run git, and run the command
// lines the page prints as sh would run them.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;

// git as a user runs it, in the directory work (its askpass script lives
// there too); opts.password answers git's password prompt (as the user
// pastes the token), through GIT_ASKPASS.
export function git(work, args, opts = {}) {
  const genv = {
    PATH: env.PATH, HOME: env.BBT_GIT_HOME || work, GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', no_proxy: '127.0.0.1,localhost', ...opts.env,
  };
  if (opts.password !== undefined) {
    const askpass = join(work, 'askpass');
    if (!existsSync(askpass)) writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$BBT_ASKPASS"\n', { mode: 0o700 });
    Object.assign(genv, { GIT_ASKPASS: askpass, BBT_ASKPASS: opts.password });
  }
  return new Promise((resolve) => {
    execFile('git', args, { env: genv, cwd: opts.cwd || work, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Split a command line the way sh does for what the page prints: words
// separated by blanks, double quotes (with backslash escapes) and single
// quotes grouping.
export function argv(line) {
  const out = [];
  let cur = null, i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t') { if (cur !== null) { out.push(cur); cur = null; } i++; continue; }
    cur = cur || '';
    if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        cur += line[i++];
      }
      i++;
    } else if (c === "'") {
      const j = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, j);
      i = j + 1;
    } else {
      cur += c;
      i++;
    }
  }
  if (cur !== null) out.push(cur);
  return out;
}

// A command line as sh runs it: its leading NAME=value words go to the
// command's environment, the rest are its arguments.
export function command(line) {
  const args = argv(line);
  const cenv = {};
  while (args.length && /^[A-Za-z_][A-Za-z_0-9]*=/.test(args[0])) {
    const w = args.shift();
    cenv[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
  }
  return { env: cenv, args };
}
