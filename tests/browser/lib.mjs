// lib.mjs: what every browser test shares: Debian's Chromium driven by playwright-core
// (never a downloaded browser), a page signed in as a user, small waiting helpers, the
// screenshots, and the line protocol through which a script asks tests/browser.rs to
// crash and restart the server.

import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = requiredEnv('PALAVER_URL');
export const ADMIN_TOKEN = process.env.PALAVER_ADMIN_TOKEN || '';
const SCREENSHOT_DIR = process.env.SCREENSHOTS || '';
const WAIT_MS = 15000;
/** Frames kept per page for the report of a failed test. */
const FRAMES_KEPT = 40;
/** Every page opened, by name: a failed test reports what each one showed and exchanged. */
const PAGES = new Map();

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function requiredEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/browser.rs sets it)`);
  return value;
}

/** Chromium from Debian, headless; Playwright gives it a fresh temporary user-data dir. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page in its own context (its own localStorage), with console errors reported. */
export async function newPage(browser, name, viewport = LAPTOP) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  return watch(page, name);
}

/**
 * Sets a page up as every test's pages are: the default wait, the frames it sends (parsed,
 * so a test can check what went over the wire) and receives (for the report of a failed
 * test), its errors on stderr. For pages a test opens itself in an existing context.
 */
export function watch(page, name) {
  page.setDefaultTimeout(WAIT_MS);
  // Every frame the page sends, parsed, so a test can check what went over the wire.
  page.sentFrames = [];
  // The last frames the page received, for the report of a failed test.
  page.receivedFrames = [];
  page.on('websocket', (socket) => {
    socket.on('framesent', (frame) => page.sentFrames.push(parseFrame(frame.payload)));
    socket.on('framereceived', (frame) => {
      page.receivedFrames.push(String(frame.payload).slice(0, 300));
      if (page.receivedFrames.length > FRAMES_KEPT) page.receivedFrames.shift();
    });
  });
  PAGES.set(name, page);
  page.on('pageerror', (error) => console.error(`[${name}] page error: ${error.message}`));
  page.on('console', (message) => {
    // Failed reconnection attempts while the server is down or the page offline are expected.
    if (message.type() === 'error' && !/^WebSocket connection .* failed/.test(message.text())) console.error(`[${name}] console: ${message.text()}`);
  });
  return page;
}

function parseFrame(payload) {
  try {
    return JSON.parse(String(payload));
  } catch {
    return { unparsed: String(payload) };
  }
}

/** Opens the client and signs in with a token through the form. */
export async function signIn(page, token) {
  await page.goto(`${BASE}/`);
  await page.fill('#token', token);
  await page.click('#signin-submit');
  await page.waitForSelector('#app:not([hidden])');
  await page.waitForSelector('#status[data-state="online"]', { state: 'attached' });
}

/** Starts a chat from the "New chat" panel: `tab` is direct, group or bot. */
export async function startChat(page, tab, fill) {
  await page.click('#new-chat-toggle');
  await page.click(`[data-tab="${tab}"]`);
  await fill();
  await page.click(`#${tab}-form button[type="submit"]`);
  await page.waitForSelector('#chat-view:not([hidden])');
  await newChatClosed(page);
}

/**
 * Waits until the "New chat" panel has closed after a chat opened from it: the room shows
 * (its name in the header) before the panel closes, once its messages are loaded, so a
 * click on the toggle in between would close the panel and leave it closed.
 */
export async function newChatClosed(page) {
  await page.waitForSelector('#new-chat-panel', { state: 'hidden' });
}

export async function openRoomNamed(page, name) {
  await page.locator('#room-list .room', { has: page.locator('.room-name', { hasText: exact(name) }) }).click();
  await page.waitForFunction((n) => document.getElementById('room-name').textContent === n, name);
}

/** A page per `[name, user]`, each signed in with the user's token and in the room `room`. */
export async function pagesInRoom(browser, room, people) {
  const pages = [];
  for (const [name, user] of people) {
    const page = await newPage(browser, name);
    await signIn(page, user.token);
    await openRoomNamed(page, room);
    pages.push(page);
  }
  return pages;
}

export async function sendMessage(page, body) {
  await page.fill('#body', body);
  await page.press('#body', 'Enter');
  await waitForBody(page, body);
}

/** Waits until a message with this body is shown (acknowledged, with a seq). */
export async function waitForBody(page, body) {
  await page.waitForFunction(
    // The text itself (a reply's bubble also holds the quote of what it answers).
    (text) =>
      [...document.querySelectorAll('#message-list .msg')].some(
        (node) => (node.querySelector('.bubble .text') || node.querySelector('.bubble')).textContent === text,
      ),
    body,
  );
}

/** The shown messages of the open room: [{seq, body, sender}] in DOM order. */
export async function shownMessages(page) {
  return page.$$eval('#message-list .msg', (nodes) =>
    nodes.map((node) => ({
      seq: Number(node.dataset.seq),
      sender: node.dataset.sender,
      body: node.querySelector('.bubble').textContent,
    })),
  );
}

/** The unread count shown for a room, or null while the room is not listed. */
export async function unreadOf(page, name) {
  return page.evaluate((wanted) => {
    const room = [...document.querySelectorAll('#room-list .room')].find(
      (node) => node.querySelector('.room-name').textContent === wanted,
    );
    return room ? Number(room.dataset.unread) : null;
  }, name);
}

export function exact(text) {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

export async function eventually(what, probe, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Saves a PNG under docs/screenshots when SCREENSHOTS names that folder. The focused field
 * is blurred first (no caret in the picture) unless `keepFocus`: a field whose suggestions
 * are shown keeps them only while it has the focus.
 */
export async function screenshot(page, name, { keepFocus = false } = {}) {
  if (!SCREENSHOT_DIR) return;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.mouse.move(0, 0);
  await page.evaluate((keep) => {
    if (!keep) document.activeElement?.blur();
    document.getElementById('toast').hidden = true;
  }, keepFocus);
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
  console.log(`screenshot: ${name}.png`);
}

/** An admin API call from the script (to seed history); returns the JSON body. */
export async function admin(method, path, body) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Asks tests/browser.rs to kill -9 the server and start it again on the same port. */
export async function crashAndRestartServer() {
  console.log('@@palaver crash_and_restart');
  const { value, done } = await stdinLines.next();
  if (done || value.trim() !== 'restarted') throw new Error(`the test harness answered ${JSON.stringify(value)}`);
}

/** What each page showed (its toast) and its last frames sent and received, on stderr. */
async function reportPages() {
  for (const [name, page] of PAGES) {
    const toast = await page.evaluate(() => document.getElementById('toast')?.textContent ?? '').catch((error) => `(${error.message})`);
    console.error(`[${name}] toast: ${JSON.stringify(toast)}`);
    for (const frame of page.sentFrames.slice(-FRAMES_KEPT)) console.error(`[${name}] sent: ${JSON.stringify(frame).slice(0, 300)}`);
    for (const frame of page.receivedFrames) console.error(`[${name}] received: ${frame}`);
  }
}

/** Runs a test body, closes the browser, and exits non-zero on any failure. */
export async function run(body) {
  const started = Date.now();
  const browser = await launchBrowser();
  try {
    await body(browser);
    console.log(`browser test passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.error(error && error.stack ? error.stack : error);
    process.exitCode = 1;
    await reportPages();
  } finally {
    await browser.close();
    stdinLines.return?.();
    process.stdin.destroy();
  }
}
