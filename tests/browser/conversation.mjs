// conversation.mjs: amy and bob in a group do what section 11 offers, in the web client:
// bob asks; amy answers it with Reply (the quote shows, and a click on it goes to the
// question); amy fixes a typo with Edit ("edited" on both pages); bob reacts with 👍 and
// amy adds hers (counts, her own highlighted, a click takes it back); bob mentions amy by
// picking "@amy" from the suggestions (highlighted for her, a badge in her room list while
// the room is not open); bob deletes his question (a tombstone on both pages); amy, away
// (her browser offline through a server restart) while bob edits and reacts, sees every
// change once she is back (`changes`); amy
// finds messages with the search box, Korean included, and a result opens the room at the
// message.
// Env: PALAVER_URL, PALAVER_ADMIN_TOKEN, AMY_TOKEN, AMY_ID, BOB_TOKEN, BOB_ID, SCREENSHOTS.

import { admin, check, crashAndRestartServer, eventually, openRoomNamed, pagesInRoom, requiredEnv, run, screenshot, sendMessage, waitForBody } from './lib.mjs';

const AMY = { token: requiredEnv('AMY_TOKEN'), id: requiredEnv('AMY_ID') };
const BOB = { token: requiredEnv('BOB_TOKEN'), id: requiredEnv('BOB_ID') };
const GROUP = 'geometry';
const QUESTION = 'What is the area of a triangle?';

await run(async (browser) => {
  await admin('POST', '/admin/rooms', { kind: 'group', name: GROUP, members: [AMY.id, BOB.id] });
  const [amy, bob] = await pagesInRoom(browser, GROUP, [['amy', AMY], ['bob', BOB]]);

  await sendMessage(bob, QUESTION);
  await waitForBody(amy, QUESTION);

  // Reply: the banner, then the quote on both pages; the frame names the answered message.
  await messageOf(amy, QUESTION).hover();
  await messageOf(amy, QUESTION).locator('.act-reply').click();
  await amy.waitForFunction(() => document.getElementById('reply-text').textContent.startsWith('Replying to bob'));
  await sendMessage(amy, 'Half the base times the hieght');
  const sent = amy.sentFrames.find((frame) => frame.type === 'send' && frame.body.startsWith('Half'));
  const questionId = await messageOf(amy, QUESTION).getAttribute('data-id');
  check(sent.reply_to === questionId, `the send answers the question: ${JSON.stringify(sent)}`);
  check(await amy.isHidden('#reply-banner'), 'the banner goes once sent');
  for (const page of [amy, bob]) {
    await waitForBody(page, 'Half the base times the hieght');
    const quoted = await messageOf(page, 'Half the base times the hieght').locator('.quote').textContent();
    check(quoted.includes('bob') && quoted.includes(QUESTION), `the quote: ${quoted}`);
  }
  await messageOf(bob, 'Half the base times the hieght').locator('.quote').click();
  await bob.waitForSelector('#message-list .msg.flash .text >> text=' + QUESTION);

  // Edit, in place.
  await messageOf(amy, 'Half the base times the hieght').hover();
  await messageOf(amy, 'Half the base times the hieght').locator('.act-edit').click();
  await amy.fill('.edit-field', 'Half the base times the height');
  await amy.press('.edit-field', 'Enter');
  for (const page of [amy, bob]) {
    await waitForBody(page, 'Half the base times the height');
    check(await messageOf(page, 'Half the base times the height').locator('.edited').isVisible(), 'marked edited');
  }
  check((await messageOf(bob, 'Half the base times the height').locator('.act-edit').count()) === 0, 'bob cannot edit amy\'s message');

  // Reactions: bob's 👍, then amy's; her own is highlighted; a click takes hers back.
  const answer = 'Half the base times the height';
  await messageOf(bob, answer).hover();
  await messageOf(bob, answer).locator('.act-react').click();
  await messageOf(bob, answer).locator('.emoji-picker .emoji[data-emoji="👍"]').click();
  await chip(amy, answer, '👍', '👍 1', false);
  await messageOf(amy, answer).locator('.reaction[data-emoji="👍"]').click();
  await chip(amy, answer, '👍', '👍 2', true);
  await chip(bob, answer, '👍', '👍 2', true);
  await screenshot(amy, 'laptop-conversation');
  await messageOf(amy, answer).locator('.reaction[data-emoji="👍"]').click();
  await chip(bob, answer, '👍', '👍 1', true);

  // A mention picked from the suggestions; amy's room list shows a badge while elsewhere.
  await amy.evaluate(() => document.getElementById('back').click());
  await bob.click('#body');
  await bob.type('#body', 'thanks @a', { delay: 20 });
  await bob.waitForSelector('#mention-suggestions .mention-suggestion >> text=@amy');
  await bob.press('#body', 'Enter');
  check((await bob.inputValue('#body')) === 'thanks @amy ', `the composer holds the mention: ${await bob.inputValue('#body')}`);
  await bob.type('#body', 'could you check question 3?');
  await bob.press('#body', 'Enter');
  await waitForBody(bob, 'thanks @amy could you check question 3?');
  const mentioning = bob.sentFrames.find((frame) => frame.type === 'send' && frame.body.startsWith('thanks'));
  check(JSON.stringify(mentioning.mentions) === JSON.stringify([AMY.id]), `mentions: ${JSON.stringify(mentioning)}`);
  await amy.waitForSelector(`#room-list .room:has(.room-name:text-is("${GROUP}")) .mention-badge`);
  const preview = await amy.locator(`#room-list .room:has(.room-name:text-is("${GROUP}")) .room-preview`).textContent();
  check(preview.startsWith('bob: thanks @amy'), `the room list shows the last message: ${preview}`);
  await openRoomNamed(amy, GROUP);
  await amy.waitForSelector('#message-list .msg.mentions-me .mention >> text=@amy');
  await eventually('the badge to go once read', async () => (await amy.locator('#room-list .mention-badge').count()) === 0);

  // Delete, in two clicks: a tombstone on both pages.
  await messageOf(bob, QUESTION).hover();
  await messageOf(bob, QUESTION).locator('.act-delete').click();
  await messageOf(bob, QUESTION).locator('.act-delete.armed').click();
  for (const page of [amy, bob]) {
    await page.waitForSelector('#message-list .msg.deleted .tombstone >> text=message deleted');
  }

  // Away and back: what changed meanwhile shows without reloading. amy's browser goes
  // offline and the server restarts (dropping every connection): bob is back at once,
  // amy only when her browser is online again.
  const bobJoins = joinsSent(bob);
  await amy.context().setOffline(true);
  await crashAndRestartServer();
  await amy.waitForSelector('#status[data-state="offline"]', { state: 'attached' });
  // bob's page may be offline for less than a frame (it reconnects at once to the restarted
  // server): the room it joins again is the proof that it went and came back.
  await eventually('bob to join again after the restart', async () => joinsSent(bob) > bobJoins, 30000);
  await bob.waitForSelector('#status[data-state="online"]', { state: 'attached', timeout: 30000 });
  await messageOf(bob, 'thanks @amy could you check question 3?').hover();
  await messageOf(bob, 'thanks @amy could you check question 3?').locator('.act-edit').click();
  await bob.fill('.edit-field', 'thanks @amy could you check question 4?');
  await bob.press('.edit-field', 'Enter');
  await waitForBody(bob, 'thanks @amy could you check question 4?');
  await messageOf(bob, answer).hover();
  await messageOf(bob, answer).locator('.act-react').click();
  await messageOf(bob, answer).locator('.emoji-picker .emoji[data-emoji="🙏"]').click();
  await chip(bob, answer, '🙏', '🙏 1', true);
  await amy.context().setOffline(false);
  await amy.waitForSelector('#status[data-state="online"]', { state: 'attached' });
  await waitForBody(amy, 'thanks @amy could you check question 4?');
  await chip(amy, answer, '🙏', '🙏 1', false);
  check(amy.sentFrames.some((frame) => frame.type === 'changes'), 'amy caught up with `changes`');

  // Search: the box finds what is said, in any script, and opens the room at it.
  await sendMessage(bob, '삼각형의 넓이는 밑변 곱하기 높이 나누기 2');
  await waitForBody(amy, '삼각형의 넓이는 밑변 곱하기 높이 나누기 2');
  await amy.evaluate(() => document.getElementById('back').click());
  await amy.fill('#search', '넓이');
  await amy.press('#search', 'Enter');
  await amy.waitForSelector('#search-results .search-result');
  const results = await amy.$$eval('#search-results .result-text', (nodes) => nodes.map((node) => node.textContent));
  check(results.length === 1 && results[0].includes('넓이'), `search results: ${results}`);
  await amy.fill('#search', 'triangle');
  await amy.press('#search', 'Enter');
  await amy.waitForSelector('#search-results .no-results');
  await amy.fill('#search', 'HEIGHT');
  await amy.press('#search', 'Enter');
  await amy.waitForSelector('#search-results .search-result');
  await amy.click('#search-results .search-result');
  await amy.waitForFunction((name) => document.getElementById('room-name').textContent === name, GROUP);
  await amy.waitForSelector('#message-list .msg.flash .text >> text=Half the base times the height');
  check(await amy.isHidden('#search-results'), 'the results close once one is opened');
});

/** How many `join` frames the page has sent: one more for each room it joins again. */
function joinsSent(page) {
  return page.sentFrames.filter((frame) => frame.type === 'join').length;
}

function messageOf(page, text) {
  return page.locator('#message-list .msg', { has: page.locator('.text', { hasText: text }) }).first();
}

/** Waits until the reaction chip of `emoji` on the message reads `label`, mine or not. */
async function chip(page, text, emoji, label, mine) {
  await eventually(`${label} (${mine ? 'mine' : 'not mine'}) on "${text}"`, async () => {
    const node = messageOf(page, text).locator(`.reaction[data-emoji="${emoji}"]`);
    if ((await node.count()) === 0) return false;
    return (await node.textContent()) === label && (await node.getAttribute('aria-pressed')) === String(mine);
  });
}
