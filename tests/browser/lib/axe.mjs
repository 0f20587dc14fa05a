// Accessibility, checked the way an auditor's tool does: axe-core (npm `axe-core`)
// injected into the page and run over what is on screen. Any violation fails the spec,
// naming the rule, its impact and the elements, so a screen cannot quietly regress.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const axeSource = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core on the page as it is now; resolves with the violations. */
export async function axeViolations(page, { exclude = [] } = {}) {
  // Evaluated through the DevTools protocol, so the page's own CSP does not apply and
  // nothing is added to the DOM that axe would then check.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  return page.evaluate(async (excluded) => {
    const context = excluded.length ? { include: [document], exclude: excluded.map((s) => [s]) } : document;
    const results = await window.axe.run(context, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')} — ${n.failureSummary?.split('\n').slice(1).join(' ').trim()}`),
    }));
  }, exclude);
}

/**
 * Fails (an AssertionError listing every violation) unless axe-core finds none.
 * @param {import('playwright-core').Page} page
 * @param {string} screen  what the person is looking at, for the failure message
 * @param {{exclude?: string[]}} [options]  CSS selectors axe leaves out (say why at the call)
 */
export async function expectAccessible(page, screen, options = {}) {
  const violations = await axeViolations(page, options);
  const report = violations
    .map((v) => `  ${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `    ${n}`).join('\n')}`)
    .join('\n');
  assert.equal(violations.length, 0, `axe-core found ${violations.length} violation(s) on "${screen}":\n${report}`);
}
