// Headless Chromium (Debian's) driven by playwright-core, with fake camera and
// microphone. Every page's console errors and uncaught exceptions are collected so a
// test can assert there were none.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { repoRoot } from './server.mjs';

export const artifactsDir = join(repoRoot, 'tests', 'browser', 'artifacts');

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
];

/** Launches Chromium. Playwright gives each launch a fresh temporary --user-data-dir
 * (and removes it on close), so no state carries over between runs. */
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
  });
  const consoleErrors = [];
  // Every console line (warnings included), for failure messages.
  const consoleMessages = [];
  return {
    browser,
    consoleErrors,
    consoleMessages,
    /** A new context (a separate person: own storage, own service worker) with one page. */
    async person(baseURL, label, options = {}) {
      const context = await browser.newContext({
        baseURL,
        viewport: options.viewport || { width: 1000, height: 800 },
        permissions: ['camera', 'microphone'],
        ...options.context,
      });
      const page = await context.newPage();
      watch(page, label, consoleErrors, consoleMessages);
      context.on('page', (p) => watch(p, label, consoleErrors, consoleMessages));
      return { context, page, label };
    },
    async close() {
      await browser.close();
    },
  };
}

function watch(page, label, errors, messages) {
  page.on('console', (message) => {
    messages.push(`[${label}] ${message.type()}: ${message.text()}`);
    if (messages.length > 500) messages.shift();
    if (message.type() === 'error') errors.push(`[${label}] console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`[${label}] page error: ${error.message}`));
}

export async function screenshot(page, name) {
  await mkdir(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage: false });
}
