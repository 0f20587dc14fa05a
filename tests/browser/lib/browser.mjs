// Headless Chromium (Debian's) driven by playwright-core, with fake camera and
// microphone. Every page's console errors and uncaught exceptions are collected so a
// test can assert there were none.

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/**
 * A person in Chromium's own profile (not a separate browser context, which
 * `launchBrowser` gives): notifications clicked on the desktop are routed back to the
 * profile that showed them, and a context of Playwright's is not one Chromium can find
 * there. One person per launch; `close()` ends the browser.
 * @param {string} baseURL
 * @param {string} label
 * @param {{env?: Record<string, string>, permissions?: string[], viewport?: object}} [options]
 */
export async function launchProfile(baseURL, label, options = {}) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'mentorhub-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    env: { ...process.env, ...options.env },
    baseURL,
    viewport: options.viewport || { width: 1000, height: 800 },
    permissions: options.permissions || [],
  });
  const consoleErrors = [];
  const consoleMessages = [];
  for (const page of context.pages()) watch(page, label, consoleErrors, consoleMessages);
  context.on('page', (p) => watch(p, label, consoleErrors, consoleMessages));
  const page = context.pages()[0] || await context.newPage();
  return {
    context,
    page,
    label,
    consoleErrors,
    consoleMessages,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
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
