// moderation.mjs: the moderators' page at /admin/ in Chromium. A wrong token is refused; the
// admin token opens it (and is kept through a reload of the tab). The open report amy made
// of bob's message shows with its reason, note, reporter and the message as reported, and
// what was said around it; "Delete message" resolves it (the message is a tombstone in its
// room, the report moves to "resolved"). The content rules are edited as JSON: a valid set
// is saved, an invalid one is refused with the server's reason and changes nothing. The
// audit log shows every action. Signing out forgets the token.
// Env: PALAVER_URL, PALAVER_ADMIN_TOKEN, ROOM, SCREENSHOTS.

import { ADMIN_TOKEN, BASE, admin, check, eventually, newPage, requiredEnv, run, screenshot } from './lib.mjs';

const ROOM = requiredEnv('ROOM');
const REPORTED = 'text me at 010-1234-5678';

await run(async (browser) => {
  const page = await newPage(browser, 'moderator');
  await page.goto(`${BASE}/admin/`);
  await page.waitForSelector('#admin-signin-form');
  await page.fill('#admin-token', 'not-the-token');
  await page.click('#admin-signin-form button[type="submit"]');
  await page.waitForFunction(() => document.getElementById('admin-signin-error').textContent.includes('not accepted'));
  check(await page.isHidden('#admin-app'), 'a wrong token opens nothing');
  await page.fill('#admin-token', ADMIN_TOKEN);
  await page.click('#admin-signin-form button[type="submit"]');
  await page.waitForSelector('#admin-app:not([hidden])');
  await page.reload();
  await page.waitForSelector('#admin-app:not([hidden])');

  // The open report, and what was said around it.
  const card = page.locator('#report-list .report-card').first();
  await card.waitFor();
  check((await page.locator('#report-list .report-card').count()) === 1, 'one open report');
  const text = await card.textContent();
  for (const part of ['abuse', 'amy', 'he wants my number', REPORTED]) check(text.includes(part), `the card shows ${part}: ${text}`);
  await card.locator('details summary').click();
  await eventually('the context', async () => (await card.locator('.context-message').count()) >= 3);
  const reported = await card.locator('.context-message.reported').textContent();
  check(reported.includes(REPORTED), `the reported message is marked in its context: ${reported}`);
  check((await card.locator('.report-context').textContent()).includes('what did you get for question 4'), 'an earlier message is shown');
  await screenshot(page, 'laptop-moderation');

  // Resolve it by deleting the message.
  await card.locator('.resolve-note').fill('a phone number to a student');
  await card.locator('.resolve-delete_message').click();
  await page.waitForFunction(() => document.getElementById('toast').textContent.includes('delete_message'));
  await page.waitForSelector('#reports-empty:not([hidden])');
  const messages = await admin('GET', `/admin/rooms/${ROOM}/messages`);
  const gone = messages.messages.find((message) => message.deleted);
  check(gone && gone.body === '', `the message is a tombstone: ${JSON.stringify(messages.messages)}`);
  await page.selectOption('#report-status', 'resolved');
  await page.waitForSelector('#report-list .report-card[data-status="resolved"]');
  const resolution = await page.locator('#report-list .report-resolution').textContent();
  check(resolution.includes('delete_message') && resolution.includes('a phone number to a student'), resolution);

  // Content rules as JSON.
  await page.click('[data-tab="rules"]');
  await page.waitForFunction(() => document.getElementById('rules-text').value.trim() === '[]');
  check((await page.locator('#builtin-list li').count()) === 3, 'the three built-ins are described');
  await page.fill('#rules-text', JSON.stringify([{ id: 'contact_phone', action: 'reject', applies_to: 'users' }]));
  await page.click('#rules-save');
  await page.waitForFunction(() => document.getElementById('rules-status').textContent.startsWith('Saved: 1 rule'));
  await page.fill('#rules-text', JSON.stringify([{ pattern: '(', action: 'reject' }]));
  await page.click('#rules-save');
  await page.waitForFunction(() => document.getElementById('rules-status').textContent.startsWith('Refused'));
  const rules = await admin('GET', '/admin/rules');
  check(rules.rules.length === 1 && rules.rules[0].id === 'contact_phone', `the refused set changed nothing: ${JSON.stringify(rules.rules)}`);
  await page.fill('#rules-text', 'not json');
  await page.click('#rules-save');
  await page.waitForFunction(() => document.getElementById('rules-status').textContent.startsWith('Not JSON'));

  // The audit log.
  await page.click('[data-tab="audit"]');
  await page.waitForSelector('#audit-rows tr');
  const actions = await page.$$eval('#audit-rows tr', (rows) => rows.map((row) => row.dataset.action));
  for (const action of ['rules', 'resolve', 'delete']) check(actions.includes(action), `the audit log has ${action}: ${actions}`);
  check(actions[0] === 'rules', `newest first: ${actions}`);

  await page.click('#admin-signout');
  await page.waitForSelector('#admin-signin:not([hidden])');
  await page.reload();
  await page.waitForSelector('#admin-signin:not([hidden])');
});
