// roles.mjs: group moderation in the web client (section 13). In a class group amy owns,
// amy makes bob a moderator from the Members panel; bob hears it, and sees Mute, Ban and Kick
// for cat (a member) but none for amy (the owner); bob mutes cat for 10 minutes and cat sees
// why she cannot send, and until when, above the composer; bob deletes cat's message as a
// moderator (a tombstone on every page); bob lifts the mute and the notice goes; bob bans
// cat and she leaves everyone's member list. The audit log holds each act.
// Env: PALAVER_URL, PALAVER_ADMIN_TOKEN, AMY_TOKEN, BOB_TOKEN, BOB_ID, CAT_TOKEN, CAT_ID,
// SCREENSHOTS.

import { admin, check, eventually, pagesInRoom, requiredEnv, run, screenshot, sendMessage, waitForBody } from './lib.mjs';

const AMY = { token: requiredEnv('AMY_TOKEN') };
const BOB = { token: requiredEnv('BOB_TOKEN'), id: requiredEnv('BOB_ID') };
const CAT = { token: requiredEnv('CAT_TOKEN'), id: requiredEnv('CAT_ID') };
const GROUP = 'class';
const RUDE = 'you are all stupid';

await run(async (browser) => {
  const people = await pagesInRoom(browser, GROUP, [['amy', AMY], ['bob', BOB], ['cat', CAT]]);
  for (const page of people) await page.click('#members-toggle');
  const [amy, bob, cat] = people;

  // The owner makes bob a moderator; only the owner has the button.
  check((await bob.locator('#member-list button.role').count()) === 0, 'a member sees no Make moderator');
  await row(amy, BOB.id).locator('button.role').click();
  await amy.waitForFunction(() => document.getElementById('toast').textContent.includes('bob is now a moderator'));
  check(amy.sentFrames.some((frame) => frame.type === 'set_role' && frame.user === BOB.id && frame.role === 'moderator'), 'the client sent set_role');
  await bob.waitForFunction(() => document.getElementById('toast').textContent.includes('You are now a moderator'));
  for (const page of [amy, bob, cat]) {
    await eventually('bob shown as a moderator', async () => (await row(page, BOB.id).getAttribute('data-role')) === 'moderator');
  }
  check((await row(bob, CAT.id).locator('select.mute').count()) === 1, 'a moderator may mute a member');
  check((await row(bob, CAT.id).locator('button.ban').count()) === 1, 'a moderator may ban a member');
  check((await row(bob, CAT.id).locator('button.role').count()) === 0, 'only the owner makes moderators');
  const owner = bob.locator('#member-list .member[data-role="owner"]');
  check((await owner.locator('.member-actions').count()) === 0, 'no one moderates the owner');

  // A rude message; bob mutes cat for 10 minutes and deletes it.
  await sendMessage(cat, RUDE);
  await waitForBody(bob, RUDE);
  await row(bob, CAT.id).locator('select.mute').selectOption('10');
  await bob.waitForFunction(() => document.getElementById('toast').textContent.includes('cat is muted'));
  check(bob.sentFrames.some((frame) => frame.type === 'mute' && frame.user === CAT.id && frame.minutes === 10), 'the client sent mute for 10 minutes');
  await cat.waitForSelector('#muted-banner:not([hidden])');
  const banner = await cat.locator('#muted-banner').textContent();
  check(banner.includes('A moderator muted you in this group until'), `cat sees why: ${banner}`);
  await eventually('cat shown as muted', async () => (await row(amy, CAT.id).locator('.member-note.muted').count()) === 1);
  await screenshot(cat, 'laptop-muted');
  const rude = bob.locator('#message-list .msg', { has: bob.locator('.text', { hasText: RUDE }) }).first();
  await rude.hover();
  await rude.locator('.act-delete').click();
  await rude.locator('.act-delete.armed').click();
  for (const page of [amy, bob, cat]) {
    await page.waitForSelector('#message-list .msg.deleted .tombstone >> text=message deleted');
  }
  await screenshot(bob, 'laptop-roles');

  // The mute lifted: the notice goes.
  await row(bob, CAT.id).locator('select.mute').selectOption('0');
  await bob.waitForFunction(() => document.getElementById('toast').textContent.includes('cat may speak again'));
  await cat.waitForSelector('#muted-banner', { state: 'hidden' });

  // A ban (after a confirmation): cat leaves every member list.
  bob.once('dialog', (dialog) => dialog.accept());
  await row(bob, CAT.id).locator('button.ban').click();
  check(await eventually('the ban sent', async () => bob.sentFrames.some((frame) => frame.type === 'ban' && frame.user === CAT.id)), 'the client sent ban');
  for (const page of [amy, bob]) {
    await eventually('cat gone from the member list', async () => (await row(page, CAT.id).count()) === 0);
  }

  // Every act is in the audit log, by whom it was done.
  const audit = await admin('GET', '/admin/audit?limit=50');
  const actions = audit.entries.map((entry) => entry.action);
  for (const action of ['set_role', 'mute', 'delete', 'ban']) {
    check(actions.includes(action), `the audit log holds ${action}: ${actions}`);
  }
});

function row(page, id) {
  return page.locator(`#member-list .member[data-user="${id}"]`);
}
