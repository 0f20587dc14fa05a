// A group call through the SFU (Janus) in Chromium with fake camera and microphone: five
// people in a room call. The call starts as a mesh and moves onto the SFU when the fifth
// joins; then every page shows four remote videos, each playing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, screenshot } from '../lib/browser.mjs';
import { startJanus } from '../lib/janus.mjs';
import { startServer } from '../lib/server.mjs';
import { assertNoConsoleErrors, conversationAction, signInAs } from '../lib/app.mjs';

let janus;
let server;
let chromium;

before(async () => {
  janus = await startJanus();
  server = await startServer({ env: { MENTORHUB_JANUS_URLS: janus.url, MENTORHUB_JANUS_SECRET: janus.secret } });
  chromium = await launchBrowser();
});

after(async () => {
  await chromium?.close();
  await server?.stop();
  await janus?.stop();
});

/** The REST API as `name` (dev sign-in: the same account the page signs in to). */
async function api(name, role) {
  const login = await fetch(`${server.url}/api/dev/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  }).then((r) => r.json());
  return async (method, path, body = {}) => {
    const response = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${login.token}` },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    assert.ok(response.ok, `${method} ${path}: ${JSON.stringify(json)}`);
    return json;
  };
}

/** Remote videos on the page that play (have a picture and advance). */
function playingRemoteVideos(page) {
  return page.evaluate(async () => {
    const videos = [...document.querySelectorAll('.call .participant:not(.self) video')];
    const before = videos.map((v) => v.currentTime);
    await new Promise((r) => setTimeout(r, 600));
    return videos.filter((v, i) => v.videoWidth > 0 && v.currentTime > before[i]).length;
  });
}

test('five people in a room call each see four remote videos through the SFU', async () => {
  const names = ['Dr Ines Moreau', 'Tomas Lind', 'Aisha Bello', 'Ravi Menon', 'Lea Novak'];
  const people = [];
  for (const name of names) {
    const person = await chromium.person(server.url, name.split(' ')[1].toLowerCase(), { viewport: { width: 1366, height: 768 } });
    await signInAs(person.page, name, name.startsWith('Dr') ? 'mentor' : 'mentee');
    people.push(person);
  }
  const facilitator = await api(names[0], 'mentor');
  const { conversation } = await facilitator('POST', '/rooms', { title: 'Tuesday group', kind: 'peer' });
  await facilitator('POST', `/rooms/${conversation.id}/agreement`).catch(() => {});
  for (const name of names.slice(1)) {
    const member = await api(name, 'mentee');
    const { invite_code: invite } = await facilitator('POST', `/rooms/${conversation.id}/invite-codes`);
    await member('POST', '/rooms/join', { code: invite.code });
    await member('POST', `/rooms/${conversation.id}/agreement`);
  }
  for (const person of people) {
    await person.page.goto(`/#/c/${conversation.id}`);
    await person.page.locator('.conversation').waitFor();
  }

  await conversationAction(people[0].page, 'Video call');
  for (const person of people.slice(1)) {
    const ring = person.page.getByRole('alertdialog');
    await ring.waitFor({ timeout: 30_000 });
    await ring.getByRole('button', { name: 'Accept', exact: true }).click();
    await person.page.locator('.call').waitFor();
  }

  // The fifth made it a group past the mesh: everyone is on the SFU now.
  for (const person of people) {
    await person.page.waitForFunction(() => window.mentorhub.calls.active?.topology === 'sfu', null, { timeout: 30_000 })
      .catch(async (error) => {
        const topology = await person.page.evaluate(() => window.mentorhub.calls.active?.topology);
        assert.fail(`${person.label}: the call is ${topology}, not sfu (${error.message})\n${server.logs.join('').slice(-4000)}`);
      });
  }
  for (const person of people) {
    const deadline = Date.now() + 90_000;
    let playing = 0;
    while ((playing = await playingRemoteVideos(person.page)) < 4) {
      if (Date.now() > deadline) {
        const state = await person.page.evaluate(() => {
          const call = window.mentorhub.calls.active;
          return { status: call?.status, members: [...(call?.sfu?.members.keys() || [])], publish: call?.sfu?.publish?.connectionState, subscribe: call?.sfu?.subscribe?.connectionState };
        });
        assert.fail(`${person.label}: ${playing} remote videos playing; ${JSON.stringify(state)}\n${server.logs.join('').slice(-4000)}`);
      }
      await person.page.waitForTimeout(500);
    }
    const sfu = await person.page.evaluate(() => {
      const call = window.mentorhub.calls.active;
      return { members: call.sfu.members.size, meshLeft: Boolean(call.leavingMesh) };
    });
    assert.equal(sfu.members, 4, `${person.label} sees four members through the SFU`);
    assert.equal(sfu.meshLeft, false, `${person.label} closed its mesh connections`);
  }
  await screenshot(people[0].page, 'sfu-call-five');

  // Low bandwidth on one page asks the SFU for everyone's lowest layer.
  await people[1].page.getByRole('button', { name: 'Low bandwidth' }).click();
  await people[1].page.locator('button[aria-pressed="true"]', { hasText: 'Low bandwidth' }).waitFor();
  assert.equal(await people[1].page.evaluate(() => window.mentorhub.calls.active.sfu.quality), 'low');

  for (const person of people) {
    await person.page.locator('.call').getByRole('button', { name: 'Leave' }).click();
    await person.page.locator('.call').waitFor({ state: 'detached' });
  }
  assertNoConsoleErrors(chromium.consoleErrors);
});
