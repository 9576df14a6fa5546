// chat.mjs: two people (amy on a laptop, bob on a phone) chat through the web client:
// a direct room and a group (create, invite), unread counts, typing, read marks, history
// loaded by scrolling up, bot templates (posted through the admin API, as no bot exists
// yet) rendered as buttons, cards, a carousel, an image and quick replies, and a server crash: amy stays offline while bob sends through
// the restarted server, then amy resumes and shows every message exactly once, in seq order.
// Env: PALAVER_URL, PALAVER_ADMIN_TOKEN, AMY_TOKEN, AMY_ID, BOB_TOKEN, BOB_ID, SCREENSHOTS.

import {
  LAPTOP, PHONE, admin, check, crashAndRestartServer, eventually, newPage, openRoomNamed, requiredEnv,
  run, screenshot, sendMessage, shownMessages, signIn, startChat, unreadOf, waitForBody,
} from './lib.mjs';

const AMY = { token: requiredEnv('AMY_TOKEN'), id: requiredEnv('AMY_ID') };
const BOB = { token: requiredEnv('BOB_TOKEN'), id: requiredEnv('BOB_ID') };
const HISTORY_SIZE = 130;

await run(async (browser) => {
  const amy = await newPage(browser, 'amy');
  const bob = await newPage(browser, 'bob', PHONE);

  await amy.goto(`${process.env.PALAVER_URL}/`);
  await screenshot(amy, 'signin');
  await amy.fill('#token', 'pv_not_a_token');
  await amy.click('#signin-submit');
  await amy.waitForFunction(() => document.getElementById('signin-error').textContent.includes('not accepted'));
  await signIn(amy, AMY.token);
  await signIn(bob, BOB.token);

  await directChat(amy, bob);
  await groupChat(amy, bob);
  await phoneScreens(bob);
  await historyOnScroll(amy);
  await templates(amy);
  await crashAndResume(amy, bob);
  await silentDrop(amy, bob);
  await signOutAndBack(amy);
});

async function directChat(amy, bob) {
  await startChat(amy, 'direct', () => amy.fill('#direct-user', BOB.id));
  await sendMessage(amy, 'Hi Bob! Did you finish the algebra homework?');
  check((await amy.isVisible('.sidebar')) && (await amy.isVisible('#chat-view')), 'on a laptop the rooms and the chat are side by side');

  // bob's list gets the room (room_added) with one unread message.
  await eventually('bob to see 1 unread from amy', async () => (await unreadOf(bob, 'amy')) === 1);
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
  await amy.waitForFunction(() => document.getElementById('room-name').textContent === 'algebra study');
  await amy.click('#members-toggle');
  await amy.fill('#invite-user', BOB.id);
  await amy.click('#invite-form button[type="submit"]');
  await amy.waitForFunction(() => document.getElementById('room-info').textContent.includes('2 members'));
  await amy.click('#members-toggle');

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
 * A small picture that works offline: the demo bot's picture, served by Palaver itself
 * (template URLs are http(s) or a path on the server; `data:` is refused). The label and
 * hue only tell the calls apart.
 */
function picture(label, hue) {
  return `/triangle.svg?for=${encodeURIComponent(label)}&hue=${hue}`;
}

/**
 * Every template kind of docs/protocol.md section 6, posted through the admin API into a room of
 * amy's (bots are not built yet, so the sender is `system`): each renders as real buttons,
 * cards, a carousel, an image and quick replies, and a click sends an `action` frame that
 * names the message and the button.
 */
async function templates(amy) {
  const { room } = await admin('POST', '/admin/rooms', { kind: 'group', name: 'Math helper (templates)', members: [AMY.id] });
  const post = (body, template) => admin('POST', `/admin/rooms/${room.id}/messages`, { body, template });
  await post('Hi amy! What shall we practise today?', { kind: 'text', text: 'Hi amy! What shall we practise today?' });
  await post('Topics: Algebra, Geometry, Calculus', {
    kind: 'carousel',
    cards: [
      { title: 'Algebra', text: 'Equations and unknowns', image_url: picture('x + 2 = 5', 250), buttons: [{ id: 'algebra', label: 'Start' }] },
      { title: 'Geometry', text: 'Triangles, circles, angles', image_url: picture('a² + b²', 160), buttons: [{ id: 'geometry', label: 'Start' }] },
      { title: 'Calculus', text: 'Rates of change', image_url: picture('dy/dx', 20), buttons: [{ id: 'calculus', label: 'Start' }] },
    ],
  });
  await post('Pythagoras: a² + b² = c²', {
    kind: 'card',
    title: 'Pythagoras',
    text: 'In a right triangle, a² + b² = c².',
    image_url: picture('c = 5', 200),
    buttons: [{ id: 'explain', label: 'Explain' }, { id: 'example', label: 'Example' }],
  });
  await post('A 3-4-5 triangle', { kind: 'image', url: picture('3, 4, 5', 300), alt: 'A 3-4-5 triangle' });
  await post('Ready for a quiz? Yes / No', { kind: 'buttons', text: 'Ready for a quiz?', buttons: [{ id: 'yes', label: 'Yes' }, { id: 'no', label: 'No' }] });
  const { message: last } = await post('How confident are you? Very / A bit / Not yet', {
    kind: 'quick_replies',
    text: 'How confident are you?',
    replies: [{ id: 'q_high', label: 'Very' }, { id: 'q_mid', label: 'A bit' }, { id: 'q_low', label: 'Not yet' }],
  });

  await eventually('amy to see the template room', async () => (await amy.locator('.room-name', { hasText: 'Math helper' }).count()) === 1);
  await openRoomNamed(amy, 'Math helper (templates)');
  await amy.waitForSelector('.quick-reply');
  check((await amy.locator('.tpl-carousel .tpl-card').count()) === 3, 'the carousel shows three cards');
  check((await amy.locator('.tpl-card-image').count()) === 4, 'cards show their images');
  check((await amy.locator('img.tpl-image[alt="A 3-4-5 triangle"]').count()) === 1, 'the image template is an <img> with its alt');
  check(await amy.isVisible('.tpl-button[data-action="yes"]'), 'buttons are real buttons');
  for (const label of ['Very', 'A bit', 'Not yet']) check(await amy.isVisible(`.quick-reply >> text="${label}"`), `quick reply ${label}`);
  await amy.setViewportSize({ width: LAPTOP.width, height: 1200 });
  await amy.$eval('#scroller', (node) => { node.scrollTop = node.scrollHeight; });
  await screenshot(amy, 'bot-templates');
  await amy.setViewportSize(LAPTOP);

  // A click sends {"type":"action","room":…,"message":<message id>,"action":<button id>}.
  await amy.click('.quick-reply >> text="A bit"');
  const actions = () => amy.sentFrames.filter((frame) => frame.type === 'action');
  await eventually('an action frame', async () => actions().length === 1);
  const [action] = actions();
  check(action.room === room.id && action.message === last.id && action.action === 'q_mid', `action frame ${JSON.stringify(action)}`);
  await amy.click('.tpl-card .tpl-button[data-action="example"]');
  await eventually('a second action frame', async () => actions().length === 2);
  check(actions()[1].action === 'example' && actions()[1].message !== last.id, 'a card button names its own message');

  // Quick replies belong to the newest message only.
  await post('Anything else?');
  await waitForBody(amy, 'Anything else?');
  check(!(await amy.isVisible('.quick-reply')), 'older quick replies are hidden');
}

/**
 * The server is killed and restarted on the same port. amy's browser is kept offline while
 * bob reconnects and sends; amy also writes while offline. Back online, amy's client sends
 * what she wrote (the library's outbox, with its client_msg_id), resumes with join +
 * after_seq from the last seq it has with no gap before it (her own message, acknowledged
 * first, is newer than bob's five), and shows every message once, in seq order.
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

  const missed = [
    'Did you get my notes? The server seemed to hiccup.',
    'The quiz covers chapters 3 and 4.',
    'Bring a calculator,',
    'and the formula sheet.',
    'See you on Friday!',
  ];
  for (const body of missed) await sendMessage(bob, body);
  await amy.fill('#body', 'Sorry, my Wi-Fi dropped for a moment.');
  await amy.press('#body', 'Enter');
  await amy.waitForSelector('#pending .msg');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  check(!(await shownMessages(amy)).some((m) => m.body === missed[0]), 'amy is really offline');

  await amy.context().setOffline(false);
  await amy.waitForSelector('#status[data-state="online"]', { state: 'attached', timeout: 30000 });
  await waitForBody(amy, 'Sorry, my Wi-Fi dropped for a moment.');
  await waitForBody(bob, 'Sorry, my Wi-Fi dropped for a moment.');
  // The outbox resends at once on reconnecting; the resume (join + after_seq) may answer after.
  await waitForBody(amy, missed.at(-1));
  await amy.waitForFunction(() => document.querySelectorAll('#pending .msg').length === 0);

  for (const page of [amy, bob]) {
    const shown = await shownMessages(page);
    const seqs = shown.map((m) => m.seq);
    const expected = Array.from({ length: 10 }, (_, i) => i + 1);
    check(JSON.stringify(seqs) === JSON.stringify(expected), `seqs 1..10 once each, in order; got ${seqs}`);
    for (const body of missed) check(shown.filter((m) => m.body === body).length === 1, `"${body}" shown once`);
    check(shown.filter((m) => m.body === 'Sorry, my Wi-Fi dropped for a moment.').length === 1, 'the offline message was sent once');
  }
  await sendMessage(amy, 'Back now, and I got all five messages. See you Friday!');
  await waitForBody(bob, 'Back now, and I got all five messages. See you Friday!');
  await sendMessage(bob, 'Great, see you then.');
  await waitForBody(amy, 'Great, see you then.');
  await screenshot(amy, 'laptop-chat');
}

/**
 * A connection that dies without a close (the page goes offline: no frame passes, no close
 * arrives): the client's own ping goes unanswered, it drops the connection, and once the
 * network is back it reconnects and catches up.
 */
async function silentDrop(amy, bob) {
  await amy.context().setOffline(true);
  await amy.waitForSelector('#status[data-state="offline"]', { state: 'attached', timeout: 20000 });
  await sendMessage(bob, 'Are you still there?');
  await amy.context().setOffline(false);
  await waitForBody(amy, 'Are you still there?');
  const seqs = (await shownMessages(amy)).map((m) => m.seq);
  check(seqs.every((seq, i) => seq === i + 1), `no gap and no repeat after a silent drop: ${seqs}`);
}

/** Reloading keeps the session (token in localStorage); signing out forgets it. */
async function signOutAndBack(amy) {
  await amy.reload();
  await amy.waitForSelector('#status[data-state="online"]', { state: 'attached' });
  await eventually('the four rooms after a reload', async () => (await amy.locator('#room-list .room').count()) === 4);
  await amy.click('#signout');
  await amy.waitForSelector('#signin:not([hidden])');
  check((await amy.evaluate(() => localStorage.getItem('palaver.token'))) === null, 'sign out forgets the token');
}
