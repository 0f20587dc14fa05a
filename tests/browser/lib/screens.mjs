// "As a person sees it": each screen is looked at on a phone (360×740) and a laptop
// (1366×768), in light and dark colours — checked by axe-core and saved as screenshots
// in the artifacts folder — and layout is asserted by where things are on screen, not by
// the DOM alone.

import assert from 'node:assert/strict';
import { expectAccessible } from './axe.mjs';
import { screenshot } from './browser.mjs';

export const PHONE = { width: 360, height: 740 };
export const LAPTOP = { width: 1366, height: 768 };
export const SIZES = { phone: PHONE, laptop: LAPTOP };

/**
 * Shows the page at both sizes, in light and dark colours; each time axe-core must find
 * nothing, and screenshots `<name>-phone.png`, `<name>-laptop.png` and
 * `<name>-phone-dark.png` are written. The viewport and colour scheme are restored after.
 * @param {(page, size: 'phone'|'laptop') => Promise<void>} [atEachSize] extra checks per size
 */
export async function lookAt(page, name, { exclude, atEachSize } = {}) {
  const original = page.viewportSize();
  try {
    for (const [size, viewport] of Object.entries(SIZES)) {
      await page.setViewportSize(viewport);
      await settleLayout(page);
      await expectAccessible(page, `${name} (${size})`, { exclude });
      await screenshot(page, `${name}-${size}`);
      if (atEachSize) await atEachSize(page, size);
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    await settleLayout(page);
    await expectAccessible(page, `${name} (laptop, dark)`, { exclude });
    await page.setViewportSize(PHONE);
    await settleLayout(page);
    await expectAccessible(page, `${name} (phone, dark)`, { exclude });
    await screenshot(page, `${name}-phone-dark`);
  } finally {
    await page.emulateMedia({ colorScheme: null });
    if (original) await page.setViewportSize(original);
  }
}

/** Two animation frames: layout and paint have caught up with a resize or a change. */
export function settleLayout(page) {
  return page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

/** The element's box relative to the viewport (null when not rendered). */
export function box(locator) {
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
  });
}

/** Asserts the element is entirely inside the viewport (what a person can see without scrolling the page). */
export async function expectInViewport(page, locator, what) {
  const viewport = page.viewportSize();
  const r = await box(locator);
  assert.ok(
    r.width > 0 && r.height > 0 && r.top >= -0.5 && r.left >= -0.5
      && r.bottom <= viewport.height + 0.5 && r.right <= viewport.width + 0.5,
    `${what} is not inside the ${viewport.width}×${viewport.height} viewport: ${JSON.stringify(r)}`,
  );
}
