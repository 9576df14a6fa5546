// bot.mjs: amy talks to the demo bot `mathbot` (bots/mathbot.json) through the web client,
// only by clicking: its buttons, a carousel card's button and a quiz's quick replies, then
// types an answer. Each click must send an `action` naming the bot's message and the button,
// show the button's label as amy's message, and bring the bot's next templates. Buttons of
// a state the conversation has left are shown as used: greyed, not clickable. Then amy opens
// the bot room afresh, on a phone and on a laptop, with a bot message she has not read: the
// room opens at the very bottom (once its images have loaded), the newest message and its
// live buttons are on screen, and it is marked read (no unread badge).
// Env: PALAVER_URL, AMY_TOKEN, SCREENSHOTS.

import { LAPTOP, PHONE, check, eventually, newPage, openRoomNamed, requiredEnv, run, screenshot, sendMessage, shownMessages, signIn, unreadOf } from './lib.mjs';

const AMY_TOKEN = requiredEnv('AMY_TOKEN');

await run(async (browser) => {
  const amy = await newPage(browser, 'amy');
  await signIn(amy, AMY_TOKEN);
  await openBot(amy, 'mathbot');
  await waitForText(amy, "Hi! I'm Mathbot, a small math tutor.");

  await clickChoice(amy, '.tpl-button', 'Browse topics');
  await amy.waitForSelector('.tpl-carousel');
  check((await amy.locator('.tpl-carousel').last().locator('.tpl-card').count()) === 3, 'the carousel has three cards');
  check(await buttonsUsed(amy, 'Take a quiz'), 'the greeting\'s buttons are used once amy pressed one');
  check(!(await buttonsUsed(amy, 'Learn geometry')), 'the carousel, the newest choice, is live');
  await screenshot(amy, 'bot-chat');

  await clickChoice(amy, '.tpl-carousel .tpl-button', 'Learn geometry');
  await amy.waitForSelector('img.tpl-image[alt="A right triangle"]');
  // amy's laptop tab goes to the background (it marks nothing read from now on) as she
  // presses on: the bot's question stays unread until she opens the room elsewhere.
  await amy.evaluate(() => Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' }));
  await clickChoice(amy, '.tpl-button', 'Quiz me');
  await waitForText(amy, 'Question 1: what is 7 × 8?');
  const laptop = await opensAtTheNewestMessage(browser, LAPTOP, 1);
  await laptop.context().close();
  const phone = await opensAtTheNewestMessage(browser, PHONE, 0);
  await screenshot(phone, 'bot-phone');
  await phone.context().close();

  await clickChoice(amy, '.quick-reply', '56');
  await waitForText(amy, 'Correct! 7 × 8 = 56.');
  check(!(await amy.isVisible('.quick-reply')), 'answered quick replies disappear');
  await sendMessage(amy, '4');
  await waitForText(amy, 'Yes! x = 4. Well done.');
  await amy.waitForSelector('.tpl-button >> text="Quiz again"');
  check(!(await buttonsUsed(amy, 'Quiz again')), 'the newest buttons are live');
  for (const label of ['Browse topics', 'Learn geometry', 'Back to the menu']) {
    check(await buttonsUsed(amy, label, 'first'), `${label}: an older state's button is used`);
  }
  // A used button does nothing when clicked.
  const before = amy.sentFrames.length;
  await amy.locator('.tpl-button', { hasText: /^Browse topics$/ }).first().click({ force: true });
  await amy.waitForTimeout(300);
  check(!amy.sentFrames.slice(before).some((frame) => frame.type === 'action'), 'a used button sends nothing');

  const shown = await shownMessages(amy);
  check(shown.every((message, index) => message.seq === index + 1), `seqs 1..${shown.length} in order, once each`);
  const mine = shown.filter((message) => message.sender !== 'mathbot').map((message) => message.body);
  check(JSON.stringify(mine) === JSON.stringify(['Browse topics', 'Learn geometry', 'Quiz me', '56', '4']), `amy's side: ${mine}`);
});

/**
 * amy signs in on a new page of this size, where the bot room shows `unread` unread
 * messages, and opens it: it scrolls to the very bottom, and stays there once the picture
 * just above has loaded (it has no size until then), so the newest message, the quiz
 * question, and its quick replies are on screen; the room is marked read (no badge).
 */
async function opensAtTheNewestMessage(browser, viewport, unread) {
  const page = await newPage(browser, `amy ${viewport.width}px`, viewport);
  await signIn(page, AMY_TOKEN);
  await eventually(`${viewport.width}px: ${unread} unread in the bot room`, async () => (await unreadOf(page, 'Mathbot')) === unread);
  await openRoomNamed(page, 'Mathbot');
  await page.waitForFunction(() => document.querySelector('img.tpl-image[alt="A right triangle"]')?.complete);
  await eventually(`${viewport.width}px: the room opened at the bottom, showing the quick replies`, () =>
    page.evaluate(() => {
      const scroller = document.getElementById('scroller');
      const box = scroller.getBoundingClientRect();
      const newest = document.querySelector('#message-list > .msg:last-child');
      if (!newest) return false;
      const shown = [...newest.querySelectorAll('.quick-reply')].filter((node) => node.getClientRects().length > 0);
      const within = (node) => {
        const rect = node.getBoundingClientRect();
        return rect.top >= box.top && rect.bottom <= box.bottom;
      };
      const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 1;
      return atBottom && shown.length > 0 && shown.every(within);
    }),
    3000,
  );
  await eventually(`${viewport.width}px: the bot room marked read`, async () => (await unreadOf(page, 'Mathbot')) === 0);
  check((await page.title()) === 'Palaver', `no unread count in the title: ${await page.title()}`);
  return page;
}

async function openBot(page, bot) {
  await page.click('#new-chat-toggle');
  await page.click('[data-tab="bot"]');
  await page.fill('#bot-id', bot);
  await page.click('#bot-form button[type="submit"]');
  await page.waitForSelector('#chat-view:not([hidden])');
}

/** Whether the message offering the button with this label shows its buttons as used. */
async function buttonsUsed(page, label, which = 'last') {
  const button = page.locator('.msg .tpl-button', { hasText: new RegExp(`^${label}$`) })[which]();
  return button.evaluate((node) => node.closest('.msg').classList.contains('used') && node.disabled);
}

/** Waits until `count` messages show this text. */
async function waitForText(page, text, count = 1) {
  await page.waitForFunction(
    ([wanted, count]) => [...document.querySelectorAll('#message-list .msg')].filter((node) => node.textContent.includes(wanted)).length >= count,
    [text, count],
  );
}

/**
 * Clicks the newest button with this label and checks the frame it sent: an `action` for
 * the bot message that offered it, then amy's message with the label.
 */
async function clickChoice(page, selector, label) {
  const button = page.locator(selector, { hasText: new RegExp(`^${label}$`) }).last();
  const messageId = await button.evaluate((node) => node.closest('.msg').dataset.id);
  const before = page.sentFrames.length;
  await button.click();
  const action = await eventually(`the action for ${label}`, async () =>
    page.sentFrames.slice(before).find((frame) => frame.type === 'action'),
  );
  check(action.message === messageId && typeof action.action === 'string' && action.room, `action ${JSON.stringify(action)}`);
  await page.waitForFunction(
    (wanted) => [...document.querySelectorAll('#message-list .msg.mine')].some((node) => node.querySelector('.bubble').textContent === wanted),
    label,
  );
}
