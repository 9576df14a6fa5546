// chat.mjs: two people (amy on a laptop, bob on a phone) chat through the web client:
// a direct room and a group (create, invite), unread counts, typing, read marks, history
// loaded by scrolling up, and a server crash: amy stays offline while bob sends through
// the restarted server, then amy resumes and shows every message exactly once, in seq order.
// Env: PALAVER_URL, PALAVER_ADMIN_TOKEN, AMY_TOKEN, AMY_ID, BOB_TOKEN, BOB_ID, SCREENSHOTS.

import {
  PHONE, admin, check, crashAndRestartServer, eventually, newPage, openRoomNamed, requiredEnv,
  run, screenshot, sendMessage, shownMessages, signIn, unreadOf, waitForBody,
} from './lib.mjs';

const AMY = { token: requiredEnv('AMY_TOKEN'), id: requiredEnv('AMY_ID') };
const BOB = { token: requiredEnv('BOB_TOKEN'), id: requiredEnv('BOB_ID') };
const HISTORY_SIZE = 130;

await run(async (browser) => {
  const amy = await newPage(browser, 'amy');
  const bob = await newPage(browser, 'bob', PHONE);

  await amy.goto(`${process.env.PALAVER_URL}/`);
  await screenshot(amy, 'signin');
  await signIn(amy, AMY.token);
  await signIn(bob, BOB.token);
  await screenshot(bob, 'phone-empty');

  await directChat(amy, bob);
  await groupChat(amy, bob);
  await screenshot(amy, 'laptop-chat');
  await phoneScreens(bob);
  await historyOnScroll(amy);
  await crashAndResume(amy, bob);
  await signOutAndBack(amy);
});

async function startChat(page, tab, fill) {
  await page.click('#new-chat-toggle');
  await page.click(`[data-tab="${tab}"]`);
  await fill();
  await page.click(`#${tab}-form button[type="submit"]`);
  await page.waitForSelector('#chat-view:not([hidden])');
}

async function directChat(amy, bob) {
  await startChat(amy, 'direct', () => amy.fill('#direct-user', BOB.id));
  await sendMessage(amy, 'Hi Bob! Did you finish the algebra homework?');

  // bob's list gets the room (room_added) with one unread message.
  await eventually('bob to see 1 unread from amy', async () => (await unreadOf(bob, 'amy').catch(() => 0)) === 1);
  await openRoomNamed(bob, 'amy');
  await waitForBody(bob, 'Hi Bob! Did you finish the algebra homework?');
  check(!(await bob.isVisible('.sidebar')), 'on a phone the room list hides while a chat is open');
  await eventually('the read mark to clear bob\'s unread count', async () => (await bob.$eval('#room-list .room', (n) => n.dataset.unread)) === '0');
  await amy.waitForFunction(() => document.getElementById('seen').textContent === 'Seen by bob');

  // Typing shows on the other side; then bob answers.
  await bob.type('#body', 'Almost', { delay: 20 });
  await amy.waitForFunction(() => document.getElementById('typing').textContent === 'bob is typing…');
  await bob.fill('#body', '');
  await sendMessage(bob, 'Almost. Question 4 is hard: is x = 3 right?');
  await waitForBody(amy, 'Almost. Question 4 is hard: is x = 3 right?');
  await amy.waitForFunction(() => document.getElementById('typing').textContent === '');
  await sendMessage(amy, 'Yes, 2x + 1 = 7 gives x = 3.');
  await waitForBody(bob, 'Yes, 2x + 1 = 7 gives x = 3.');
  await sendMessage(bob, 'Thanks!');
  await waitForBody(amy, 'Thanks!');
}

async function groupChat(amy, bob) {
  await startChat(amy, 'group', () => amy.fill('#group-name', 'algebra study'));
  await amy.click('#invite-toggle');
  await amy.fill('#invite-user', BOB.id);
  await amy.click('#invite-form button[type="submit"]');
  await amy.waitForFunction(() => document.getElementById('room-info').textContent.includes('2 members'));

  await bob.click('#back');
  await eventually('bob to see the group', async () => (await bob.locator('.room-name', { hasText: 'algebra study' }).count()) === 1);
  await sendMessage(amy, 'Welcome to algebra study! Quiz on Friday.');
  await eventually('bob to see 1 unread in the group', async () => (await unreadOf(bob, 'algebra study')) === 1);
  await openRoomNamed(bob, 'algebra study');
  await waitForBody(bob, 'Welcome to algebra study! Quiz on Friday.');
  await sendMessage(bob, 'Great, I will bring the exercises from chapter 3.');
  await waitForBody(amy, 'Great, I will bring the exercises from chapter 3.');
  await sendMessage(amy, 'Perfect. Can you also share your notes on quadratic equations?');
  await waitForBody(bob, 'Perfect. Can you also share your notes on quadratic equations?');
  await sendMessage(bob, 'Sure, I will post them tonight.');
  await waitForBody(amy, 'Sure, I will post them tonight.');
  const seqs = (await shownMessages(amy)).map((m) => m.seq);
  check(JSON.stringify(seqs) === '[1,2,3,4]', `the group shows seqs 1..4, got ${seqs}`);
}

async function phoneScreens(bob) {
  await screenshot(bob, 'phone-chat');
  await bob.click('#back');
  check(await bob.isVisible('.sidebar'), 'back shows the room list on a phone');
  await screenshot(bob, 'phone-rooms');
}

/**
 * 130 messages posted through the admin API before amy is added to the room (so that none
 * reaches her live); scrolling up loads them all, once each.
 */
async function historyOnScroll(amy) {
  const { room } = await admin('POST', '/admin/rooms', { kind: 'group', name: 'announcements', members: [] });
  for (let n = 1; n <= HISTORY_SIZE; n += 1) {
    await admin('POST', `/admin/rooms/${room.id}/messages`, { body: `announcement ${n}` });
  }
  await admin('POST', `/admin/rooms/${room.id}/members`, { user: AMY.id });
  await eventually('amy to see the new room', async () => (await amy.locator('.room-name', { hasText: 'announcements' }).count()) === 1);
  await openRoomNamed(amy, 'announcements');
  await waitForBody(amy, `announcement ${HISTORY_SIZE}`);
  const first = await shownMessages(amy);
  check(first.length < HISTORY_SIZE, `the first page is not everything (${first.length})`);
  await eventually('the whole history after scrolling up', async () => {
    await amy.$eval('#scroller', (node) => { node.scrollTop = 0; });
    return (await amy.textContent('#older')) === 'This is the beginning of the conversation.';
  }, 30000);
  const all = await shownMessages(amy);
  const expected = Array.from({ length: HISTORY_SIZE }, (_, i) => i + 1);
  check(JSON.stringify(all.map((m) => m.seq)) === JSON.stringify(expected), 'history shows seqs 1..130 once each, in order');
  check(all.every((m) => m.body === `announcement ${m.seq}`), 'each history message has its body');
}

/**
 * The server is killed and restarted on the same port. amy's browser is kept offline while
 * bob reconnects and sends; amy also writes while offline. Back online, amy's client
 * resumes with join + after_seq and shows every message once, in seq order.
 */
async function crashAndResume(amy, bob) {
  await openRoomNamed(amy, 'bob');
  await openRoomNamed(bob, 'amy');
  const before = await shownMessages(amy);
  check(before.length === 4, `4 messages before the crash, got ${before.length}`);

  await amy.context().setOffline(true);
  await crashAndRestartServer();
  await amy.waitForSelector('#status[data-state="offline"]', { state: 'attached' });
  await bob.waitForSelector('#status[data-state="online"]', { state: 'attached', timeout: 30000 });

  const missed = ['After the restart: one', 'two', 'three', 'four', 'five'];
  for (const body of missed) await sendMessage(bob, body);
  await amy.fill('#body', 'Written while offline');
  await amy.press('#body', 'Enter');
  await amy.waitForSelector('#pending .msg');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  check(!(await shownMessages(amy)).some((m) => m.body === 'five'), 'amy is really offline');

  await amy.context().setOffline(false);
  await amy.waitForSelector('#status[data-state="online"]', { state: 'attached', timeout: 30000 });
  await waitForBody(amy, 'Written while offline');
  await waitForBody(bob, 'Written while offline');
  await amy.waitForFunction(() => document.querySelectorAll('#pending .msg').length === 0);

  for (const page of [amy, bob]) {
    const shown = await shownMessages(page);
    const seqs = shown.map((m) => m.seq);
    const expected = Array.from({ length: 10 }, (_, i) => i + 1);
    check(JSON.stringify(seqs) === JSON.stringify(expected), `seqs 1..10 once each, in order; got ${seqs}`);
    for (const body of missed) check(shown.filter((m) => m.body === body).length === 1, `"${body}" shown once`);
    check(shown.filter((m) => m.body === 'Written while offline').length === 1, 'the offline message was sent once');
  }
  await sendMessage(amy, 'Back online, got all five.');
  await waitForBody(bob, 'Back online, got all five.');
}

/** Reloading keeps the session (token in localStorage); signing out forgets it. */
async function signOutAndBack(amy) {
  await amy.reload();
  await amy.waitForSelector('#status[data-state="online"]', { state: 'attached' });
  check((await amy.locator('#room-list .room').count()) === 3, 'the three rooms are listed after a reload');
  await amy.click('#signout');
  await amy.waitForSelector('#signin:not([hidden])');
  check((await amy.evaluate(() => localStorage.getItem('palaver.token'))) === null, 'sign out forgets the token');
}
