// Debian's chromium driven by playwright-core, for the browser tests and the viewer benchmark. The
// browser download of playwright does not work here: scripts/setup-test-env.mjs installs /usr/bin/chromium.

import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env['MEMLENS_CHROMIUM'] ?? '/usr/bin/chromium';

export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchBrowser(): Promise<Browser> {
  if (!hasChromium()) throw new Error(`${CHROMIUM} is missing: run 'node scripts/setup-test-env.mjs' (installs Debian's chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Where screenshots go: printed by the tests so a person can look at them. */
export function screenshotDir(): string {
  const dir = join(process.env['MEMLENS_SCREENSHOTS'] ?? join(tmpdir(), 'memlens-screenshots'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Waits until the report page says it is ready (or failed). Polls with page.evaluate, which goes through
 * the DevTools protocol: playwright's waitForFunction with a string would eval inside the page, and the
 * report's Content-Security-Policy rightly forbids that.
 */
export async function waitReady(page: Page, timeoutMs = 60_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const state = await page.evaluate<string | undefined>('document.documentElement.dataset.ready');
    if (state !== undefined) return state;
    if (Date.now() > end) throw new Error(`the report did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
