// people.mjs: people find each other by name in the web client, with suggestions from the
// server's directory (`users`): amy starts a direct chat with bob by typing "bo", creates a
// group with cat by typing "CA", invites dan from the member list; only amy (the owner)
// sees Kick, and kicks cat; bob leaves the group. Every page shows what the others did.
// Env: PALAVER_URL, PALAVER_ADMIN_TOKEN, AMY_TOKEN, BOB_TOKEN, BOB_ID, CAT_TOKEN, CAT_ID,
// DAN_TOKEN, DAN_ID, SCREENSHOTS.

import { check, eventually, newChatClosed, newPage, openRoomNamed, requiredEnv, run, screenshot, sendMessage, signIn, waitForBody } from './lib.mjs';

const AMY = { token: requiredEnv('AMY_TOKEN') };
const BOB = { token: requiredEnv('BOB_TOKEN'), id: requiredEnv('BOB_ID') };
const CAT = { token: requiredEnv('CAT_TOKEN'), id: requiredEnv('CAT_ID') };
const DAN = { token: requiredEnv('DAN_TOKEN'), id: requiredEnv('DAN_ID') };
const GROUP = 'weekend trip';

await run(async (browser) => {
  const amy = await newPage(browser, 'amy');
  const bob = await newPage(browser, 'bob');
  const cat = await newPage(browser, 'cat');
  const dan = await newPage(browser, 'dan');
  for (const [page, user] of [[amy, AMY], [bob, BOB], [cat, CAT], [dan, DAN]]) await signIn(page, user.token);

  await directChatByName(amy, bob);
  await groupByName(amy, cat);
  await inviteFromTheMemberList(amy, bob, dan);
  await onlyTheOwnerKicks(amy, bob, cat);
  await leaving(amy, bob);
});

/** The suggestions shown under a field: [{id, name}]. */
async function suggestions(page, list) {
  return page.$$eval(`#${list} .suggestion`, (nodes) =>
    nodes.map((node) => ({ id: node.dataset.user, name: node.querySelector('.suggestion-name').textContent })),
  );
}

async function suggested(page, list, names) {
  return eventually(`${list} to offer ${names}`, async () => {
    const shown = await suggestions(page, list);
    return JSON.stringify(shown.map((user) => user.name)) === JSON.stringify(names) && shown;
  });
}

async function directChatByName(amy, bob) {
  await amy.click('#new-chat-toggle');
  await amy.click('[data-tab="direct"]');
  await amy.type('#direct-user', 'bo', { delay: 30 });
  const [offered] = await suggested(amy, 'direct-suggestions', ['bob']);
  check(offered.id === BOB.id, `the suggestion carries bob's id (${offered.id})`);
  const asked = amy.sentFrames.filter((frame) => frame.type === 'users');
  check(asked.some((frame) => frame.query === 'bo'), `the client asked the directory for "bo": ${JSON.stringify(asked)}`);
  // amy herself is never offered for a direct chat; the demo bot is not a person.
  await amy.fill('#direct-user', '');
  await amy.type('#direct-user', 'a', { delay: 30 });
  await amy.waitForTimeout(400);
  check((await suggestions(amy, 'direct-suggestions')).every((user) => user.name !== 'amy'), 'amy is not offered to herself');
  await amy.fill('#direct-user', '');
  await amy.type('#direct-user', 'bo', { delay: 30 });
  await suggested(amy, 'direct-suggestions', ['bob']);
  await amy.click('#direct-suggestions .suggestion');
  await amy.waitForFunction(() => document.getElementById('room-name').textContent === 'bob');
  await newChatClosed(amy);
  const opened = amy.sentFrames.find((frame) => frame.type === 'open_direct');
  check(opened && opened.user === BOB.id, `open_direct names bob's id: ${JSON.stringify(opened)}`);
  await sendMessage(amy, 'Found you by name!');
  await openRoomNamed(bob, 'amy');
  await waitForBody(bob, 'Found you by name!');

  // A name typed in full, without picking, works too (any case).
  await bob.click('#new-chat-toggle');
  await bob.click('[data-tab="direct"]');
  await bob.fill('#direct-user', 'AMY');
  await bob.press('#direct-user', 'Escape'); // the suggestions would cover the button
  await bob.click('#direct-form button[type="submit"]');
  await bob.waitForFunction(() => document.getElementById('room-name').textContent === 'amy');
  await newChatClosed(bob);
  // A name nobody has says so, and opens nothing.
  await bob.click('#new-chat-toggle');
  await bob.fill('#direct-user', 'nobody here');
  await bob.click('#direct-form button[type="submit"]');
  await bob.waitForFunction(() => document.getElementById('toast').textContent.includes('No one called “nobody here”'));
  await bob.click('#new-chat-toggle');
}

async function groupByName(amy, cat) {
  await amy.click('#new-chat-toggle');
  await amy.click('[data-tab="group"]');
  await amy.fill('#group-name', GROUP);
  await amy.type('#group-members', 'CA', { delay: 30 });
  await suggested(amy, 'group-suggestions', ['cat']);
  await screenshot(amy, 'laptop-group-by-name', { keepFocus: true });
  // Keyboard: Enter takes the highlighted suggestion as a chip (and does not submit).
  await amy.press('#group-members', 'Enter');
  await amy.waitForSelector(`#group-chips .chip[data-user="${CAT.id}"]`);
  check(await amy.isVisible('#group-form'), 'picking a member does not create the group yet');
  await amy.click('#group-form button[type="submit"]');
  await amy.waitForFunction((name) => document.getElementById('room-name').textContent === name, GROUP);
  await newChatClosed(amy);
  await amy.waitForFunction(() => document.getElementById('room-info').textContent.includes('2 members'));
  const created = amy.sentFrames.find((frame) => frame.type === 'create_group');
  check(JSON.stringify(created.members) === JSON.stringify([CAT.id]), `create_group names cat: ${JSON.stringify(created)}`);
  await eventually('cat to see the group', async () => (await cat.locator('.room-name', { hasText: GROUP }).count()) === 1);
}

async function inviteFromTheMemberList(amy, bob, dan) {
  await amy.click('#members-toggle');
  await amy.waitForSelector('#members-panel:not([hidden])');
  check(await amy.isVisible('#invite-form'), 'a group shows the invite field');
  // Members already in are not offered.
  await amy.type('#invite-user', 'c', { delay: 30 });
  await amy.waitForTimeout(400);
  check((await suggestions(amy, 'invite-suggestions')).length === 0, 'cat, a member, is not offered');
  await amy.fill('#invite-user', '');
  await amy.type('#invite-user', 'd', { delay: 30 });
  await suggested(amy, 'invite-suggestions', ['dan']);
  await amy.click('#invite-suggestions .suggestion');
  await amy.waitForSelector(`#member-list .member[data-user="${DAN.id}"]`);
  await amy.waitForFunction(() => document.getElementById('room-info').textContent.includes('3 members'));
  await eventually('dan to see the group', async () => (await dan.locator('.room-name', { hasText: GROUP }).count()) === 1);
  // bob too, by a name typed in full.
  await amy.fill('#invite-user', 'Bob');
  await amy.press('#invite-user', 'Escape');
  await amy.click('#invite-form button[type="submit"]');
  await amy.waitForSelector(`#member-list .member[data-user="${BOB.id}"]`);
  await screenshot(amy, 'laptop-members');
  await eventually('bob to see the group', async () => (await bob.locator('.room-name', { hasText: GROUP }).count()) === 1);
  const names = await amy.$$eval('#member-list .member-name', (nodes) => nodes.map((node) => node.textContent));
  check(JSON.stringify(names) === JSON.stringify(['amy (you)', 'bob', 'cat', 'dan']), `the member list: ${names}`);
}

async function onlyTheOwnerKicks(amy, bob, cat) {
  const kickable = await amy.$$eval('#member-list .member', (nodes) => nodes.filter((node) => node.querySelector('.kick')).map((node) => node.dataset.user));
  check(!kickable.includes(await amy.evaluate(() => document.getElementById('me-id').textContent)), 'the owner has no Kick on herself');
  check(kickable.length === 3, `the owner may kick the three others: ${kickable}`);

  await openRoomNamed(bob, GROUP);
  await bob.click('#members-toggle');
  await bob.waitForSelector(`#member-list .member[data-user="${CAT.id}"]`);
  check((await bob.locator('#member-list .kick').count()) === 0, 'a member who is not the owner sees no Kick');
  check(await bob.isVisible('#invite-form'), 'any member may invite');

  await openRoomNamed(cat, GROUP);
  await amy.click(`#member-list .member[data-user="${CAT.id}"] .kick`);
  await amy.waitForSelector(`#member-list .member[data-user="${CAT.id}"]`, { state: 'detached' });
  await bob.waitForSelector(`#member-list .member[data-user="${CAT.id}"]`, { state: 'detached' });
  await eventually('the group to leave cat\'s list', async () => (await cat.locator('.room-name', { hasText: GROUP }).count()) === 0);
  await cat.waitForFunction((name) => document.getElementById('toast').textContent.includes(`no longer a member of ${name}`), GROUP);
  check(!(await cat.isVisible('#chat-view')), 'cat\'s open group closed');
}

async function leaving(amy, bob) {
  await sendMessage(bob, 'I cannot come, sorry. Leaving the group.');
  await bob.click('#leave-room');
  await eventually('the group to leave bob\'s list', async () => (await bob.locator('.room-name', { hasText: GROUP }).count()) === 0);
  check(!(await bob.isVisible('#chat-view')), 'bob\'s chat closed');
  await amy.waitForSelector(`#member-list .member[data-user="${BOB.id}"]`, { state: 'detached' });
  await amy.waitForFunction(() => document.getElementById('room-info').textContent.includes('2 members'));
  // bob's message stays; a direct room has no Leave and no invite field.
  await waitForBody(amy, 'I cannot come, sorry. Leaving the group.');
  await openRoomNamed(amy, 'bob');
  await amy.click('#members-toggle');
  await amy.waitForSelector(`#member-list .member[data-user="${BOB.id}"]`);
  check(!(await amy.isVisible('#leave-room')) && !(await amy.isVisible('#invite-form')), 'a direct chat offers no Leave and no invite');
}
