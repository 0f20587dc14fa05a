// Sign-in at the institution's identity provider, in Chromium, against a real OpenID
// provider (npm `oidc-provider`, tests/oidc) and a server started without `--dev` that
// finds the provider's keys by discovery: "Sign in with your institution", the provider's
// own sign-in page, back signed in (authorization code + PKCE, the code in the fragment);
// the provider rotates its keys during the open session and the token renewed with the
// refresh token still works, on the same socket; a refused refresh token leads to signing
// in again; sign-out ends the provider's session too and leaves no token behind. (A token
// from a forged key with an unknown kid is refused: tests/tests/e2e/oidc.rs.)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, screenshot } from '../lib/browser.mjs';
import { freePort, startServer } from '../lib/server.mjs';
import { AUDIENCE, CLIENT_ID, serverSettings, startProvider } from '../lib/oidc.mjs';
import { assertNoConsoleErrors, expectConsoleError, waitOnline } from '../lib/app.mjs';
import { expectAccessible } from '../lib/axe.mjs';

// Short-lived access tokens, so the server's `token_expiring` (a minute before expiry)
// comes soon after sign-in and the client renews during the test.
const ACCESS_TOKEN_TTL = 80;

let provider;
let server;
let chromium;

before(async () => {
  // The provider must know the app's redirect URI, so the app's port is chosen first.
  const port = await freePort();
  provider = await startProvider({ redirectUris: [`http://127.0.0.1:${port}/`], accessTokenTtl: ACCESS_TOKEN_TTL });
  server = await startServer({ dev: false, port, env: serverSettings(provider.issuer) });
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await server?.stop();
  await provider?.stop();
});

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

function header(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
}

function storedSession(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('mh.session') || 'null'));
}

async function signInAtProvider(page, user) {
  await page.getByRole('button', { name: 'Sign in with your institution' }).click();
  await page.waitForURL(`${provider.issuer}/interaction/**`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}/**`);
}

const SIZES = [
  { label: 'phone', viewport: { width: 360, height: 740 } },
  { label: 'laptop', viewport: { width: 1366, height: 768 } },
];

for (const { label, viewport } of SIZES) {
  test(`${label}: sign in with the institution, keys rotate, the renewed token works, sign out`, async () => {
    const person = await chromium.person(server.url, label, { viewport });
    const { page } = person;
    // Which resource a "Failed to load resource" console error was about.
    const failed = [];
    page.on('response', (response) => response.status() >= 400 && failed.push(`${response.status()} ${response.url()}`));
    const info = await (await fetch(`${server.url}/api/info`)).json();
    assert.deepEqual(info.sign_in, {
      issuer: provider.issuer,
      client_id: CLIENT_ID,
      scopes: 'openid profile offline_access mentorhub',
      resource: 'urn:mentorhub',
    });
    assert.equal(info.dev, false);

    await page.goto('/');
    await page.getByRole('heading', { name: 'Welcome to Mentorhub' }).waitFor();
    // Sign-in configured and no --dev: no token box, no demo accounts, no dev sign-in.
    assert.equal(await page.locator('#signin-token').count(), 0, 'no paste box');
    assert.equal(await page.locator('#dev-form, .demo').count(), 0, 'no dev sign-in');
    await expectAccessible(page, `sign-in (${label})`);
    await screenshot(page, `signin-oidc-${label}-1-welcome`);

    await signInAtProvider(page, 'alice');
    await page.getByRole('heading', { name: 'Hello, Alice Example' }).waitFor();
    await waitOnline(page);
    // The provider rotates its keys during the open session (before the first renewal,
    // 20 s in). Every frame from now on is kept, to see the server accept the renewal.
    await page.evaluate(() => {
      window.seenFrames = [];
      window.mentorhub.connection.on('frame', (frame) => window.seenFrames.push(frame.type));
    });
    const newKids = await provider.rotate();
    assert.ok(!page.url().includes('code='), `the code left the address bar: ${page.url()}`);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mh.oidc.pending')), null);
    const first = await storedSession(page);
    assert.equal(first.account, 'alice');
    // The server gets the access token for its audience, never the ID token.
    assert.equal(claims(first.token).aud, AUDIENCE);
    assert.equal(claims(first.oidc.idToken).aud, CLIENT_ID);
    assert.ok(first.oidc.refresh, 'a refresh token is kept');
    assert.ok(!newKids.includes(header(first.token).kid), 'signed before the rotation');
    await expectAccessible(page, `home after sign-in (${label})`);
    await screenshot(page, `signin-oidc-${label}-2-signed-in`);

    // The renewal (the server's token_expiring, or the client's own timer) uses the
    // refresh token: the new access token is signed with a new key.
    await page.waitForFunction(
      (before) => JSON.parse(localStorage.getItem('mh.session') || 'null')?.token !== before,
      first.token,
      { timeout: ACCESS_TOKEN_TTL * 1000, polling: 500 },
    );
    const renewed = await storedSession(page);
    assert.ok(newKids.includes(header(renewed.token).kid), 'signed with a rotated key');
    assert.equal(renewed.account, 'alice');
    // The open socket took it (no reconnect, no sign-in prompt) and REST takes it too.
    await page.waitForFunction(() => window.seenFrames.includes('refreshed'), null, { timeout: 15_000 });
    assert.ok(!(await page.evaluate(() => window.seenFrames.includes('error'))), 'no error frame');
    assert.equal(await page.locator('#token-dialog[open]').count(), 0, 'no sign-in prompt');
    await waitOnline(page);
    const me = await page.evaluate(() => window.mentorhub.api.get('/me'));
    assert.equal(me.account.id, 'alice');
    assert.equal(page.url().startsWith(server.url), true, 'never left the app');

    // A refresh token the provider refuses (revoked, expired): the person is asked to sign
    // in again, and comes back signed in (the provider's session is still open: no password).
    await page.evaluate(() => {
      window.mentorhub.session.current.oidc.refresh = 'revoked-refresh-token';
      window.mentorhub.session.renew();
    });
    const dialog = page.getByRole('dialog', { name: 'Your sign-in has expired' });
    await dialog.waitFor();
    assert.equal(await page.locator('#token-input').isVisible(), false, 'nothing to paste');
    // The refusal itself, as the provider's token endpoint answered it.
    assert.deepEqual(failed.splice(0), [`400 ${provider.issuer}/token`]);
    expectConsoleError(chromium.consoleErrors, label, /status of 400/);
    await expectAccessible(page, `sign in again (${label})`);
    await screenshot(page, `signin-oidc-${label}-3-sign-in-again`);
    await dialog.getByRole('button', { name: 'Sign in again' }).click();
    await page.waitForURL(`${server.url}/**`);
    await page.getByRole('heading', { name: 'Hello, Alice Example' }).waitFor();
    await waitOnline(page);
    const again = await storedSession(page);
    assert.notEqual(again.token, renewed.token);
    assert.ok(again.oidc.refresh && again.oidc.refresh !== 'revoked-refresh-token');

    // Sign out: the tokens are gone and the provider's session ended (signing in again
    // asks for the password, rather than signing alice in silently).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${server.url}/**`);
    await page.getByRole('heading', { name: 'Welcome to Mentorhub' }).waitFor();
    assert.equal(await storedSession(page), null, 'no token stored');
    assert.deepEqual(
      await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('mh.session') || k.startsWith('mh.oidc'))),
      [],
    );
    await screenshot(page, `signin-oidc-${label}-4-signed-out`);
    await page.getByRole('button', { name: 'Sign in with your institution' }).click();
    await page.waitForURL(`${provider.issuer}/interaction/**`);
    await page.getByLabel('Password').waitFor();

    await person.context.close();
    assert.deepEqual(failed, [], 'every request succeeded');
    assertNoConsoleErrors(chromium.consoleErrors);
  });
}
