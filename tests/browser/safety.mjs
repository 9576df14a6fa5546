// safety.mjs: what section 13 offers a user in the web client. In a class group, amy blocks
// bob from the Members panel: his messages, the one before and the ones after, show on her
// page as "message from someone you blocked" with nothing but Report under them, while cat
// still sees them whole and bob sees amy's; amy reports one of them (a reason and a note)
// and the report reaches the moderators with the real message; amy unblocks bob and his
// messages show again.
// Env: PALAVER_URL, PALAVER_ADMIN_TOKEN, AMY_TOKEN, AMY_ID, BOB_TOKEN, BOB_ID, CAT_TOKEN,
// CAT_ID, SCREENSHOTS.

import { admin, check, eventually, pagesInRoom, requiredEnv, run, screenshot, sendMessage, waitForBody } from './lib.mjs';

const AMY = { token: requiredEnv('AMY_TOKEN'), id: requiredEnv('AMY_ID') };
const BOB = { token: requiredEnv('BOB_TOKEN'), id: requiredEnv('BOB_ID') };
const CAT = { token: requiredEnv('CAT_TOKEN'), id: requiredEnv('CAT_ID') };
const GROUP = 'class 3-2';
const BEFORE = 'did anyone do the homework';
const AFTER = 'send me your number';

await run(async (browser) => {
  await admin('POST', '/admin/rooms', { kind: 'group', name: GROUP, members: [AMY.id, BOB.id, CAT.id] });
  const [amy, bob, cat] = await pagesInRoom(browser, GROUP, [['amy', AMY], ['bob', BOB], ['cat', CAT]]);
  await sendMessage(bob, BEFORE);
  await waitForBody(amy, BEFORE);

  // Block from the Members panel.
  await amy.click('#members-toggle');
  const bobInList = amy.locator('#member-list .member', { has: amy.locator('.member-name', { hasText: 'bob' }) });
  check((await amy.locator('#member-list .member', { has: amy.locator('.member-name', { hasText: 'amy (you)' }) }).locator('.block-toggle').count()) === 0, 'no Block for oneself');
  await bobInList.locator('.block-toggle').click();
  await amy.waitForFunction(() => document.getElementById('toast').textContent.includes('You blocked bob'));
  check(amy.sentFrames.some((frame) => frame.type === 'block' && frame.user === BOB.id && frame.on === true), 'the client sent block');
  await eventually('bob\'s older message hidden on amy\'s page', async () => (await blockedCount(amy)) === 1);
  check((await amy.locator('#message-list').textContent()).includes(BEFORE) === false, 'his words are not on her page');
  check((await bobInList.locator('.block-toggle').textContent()) === 'Unblock', 'the button now says Unblock');

  // A new message of bob's: hidden for amy, whole for cat; amy's reach bob.
  await sendMessage(bob, AFTER);
  await waitForBody(cat, AFTER);
  await eventually('bob\'s new message hidden on amy\'s page', async () => (await blockedCount(amy)) === 2);
  await sendMessage(amy, 'I did, it was hard');
  await waitForBody(bob, 'I did, it was hard');
  const hidden = amy.locator('#message-list .msg.blocked').last();
  await hidden.hover();
  check((await hidden.locator('.act-reply, .act-react, .act-edit').count()) === 0, 'a hidden message offers no Reply or React');
  await screenshot(amy, 'laptop-safety-blocked');

  // Report it: a reason and a note; the moderators get the real message.
  await hidden.locator('.act-report').click();
  await amy.selectOption('.report-form .report-reason', 'abuse');
  await amy.fill('.report-form .report-note', 'he keeps asking for my number');
  await screenshot(amy, 'laptop-safety-report', { keepFocus: true });
  await amy.click('.report-form .report-send');
  await amy.waitForFunction(() => document.getElementById('toast').textContent.includes('moderators will look'));
  check((await amy.locator('.report-form').count()) === 0, 'the form closes once sent');
  const reports = await eventually('the report', async () => {
    const body = await admin('GET', '/admin/reports?status=open');
    return body.reports.length > 0 && body.reports;
  });
  check(reports[0].reason === 'abuse' && reports[0].note === 'he keeps asking for my number', `the report: ${JSON.stringify(reports[0])}`);
  check(reports[0].message.body === AFTER, `the report holds the real message: ${JSON.stringify(reports[0].message)}`);
  check(reports[0].reporter.id === AMY.id, 'reported by amy');

  // Unblock: bob's messages show again.
  await bobInList.locator('.block-toggle').click();
  await amy.waitForFunction(() => document.getElementById('toast').textContent.includes('You unblocked bob'));
  await waitForBody(amy, BEFORE);
  await waitForBody(amy, AFTER);
  check((await blockedCount(amy)) === 0, 'nothing hidden any more');
});

async function blockedCount(page) {
  return page.locator('#message-list .msg.blocked').count();
}
