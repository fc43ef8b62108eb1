// Headless Chromium for the specs: a fresh profile directory of its own
// (Playwright passes it as --user-data-dir), logged in with HTTP Basic as
// the given user, and gone again with the context.
//   BBT_CHROMIUM   the browser (/usr/bin/chromium unless set)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// The context, close() that ends it and removes its profile, and the
// profile's directory (for what the browser writes there).
export async function launch(username, password, options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'bbt-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.BBT_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      httpCredentials: { username, password },
      ...options,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const close = async () => {
    try { await context.close(); } finally { rmSync(profile, { recursive: true, force: true }); }
  };
  return { context, close, profile };
}
