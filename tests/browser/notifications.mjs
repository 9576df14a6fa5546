// notifications.mjs: amy turns on notifications in the web client, closes it, and learns of
// bob's message from a notification; clicking it opens the room. The parts:
// - the browser's push service is Google's for Chromium, which a test cannot reach: the
//   page's PushManager.subscribe is replaced (before the app loads) by one that answers a
//   subscription whose endpoint is this script's own push service on loopback and whose
//   keys are a P-256 key pair made here. Everything else is the real path: the client asks
//   the permission, registers sw.js, subscribes with the key of GET /push/vapid (checked)
//   and registers the device with POST /devices;
// - the server (`--push-insecure-endpoints`) sends its Web Push request to that push service,
//   which checks the request (TTL, Topic, Content-Encoding, VAPID authorization with the
//   server's key) and decrypts the body (RFC 8291) with amy's private key;
// - the decrypted payload is delivered to amy's service worker through the DevTools
//   protocol (ServiceWorker.deliverPushMessage), as the browser would on a real push: the
//   worker shows the notification (checked: title, body, tag);
// - the worker's click path opens the room in amy's open window;
// - the room's menu sets the level (`notify`), kept by the server across a reload;
// - turning notifications off deletes the device.
// Env: PALAVER_URL, AMY_TOKEN, BOB_TOKEN, SCREENSHOTS.

import { createECDH, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { BASE, check, eventually, newPage, openRoomNamed, requiredEnv, run, screenshot, sendMessage, signIn, startChat, waitForBody, watch } from './lib.mjs';

const AMY = requiredEnv('AMY_TOKEN');
const BOB = requiredEnv('BOB_TOKEN');
const TEXT = 'The area of the triangle is 12 cm²: see question 3';

// amy's subscription keys, as a browser makes them.
const amyKeys = createECDH('prime256v1');
amyKeys.generateKeys();
const AUTH = randomBytes(16);

await run(async (browser) => {
  const pushService = await startPushService();
  try {
    await scenario(browser, pushService);
  } finally {
    pushService.server.close();
  }
});

async function scenario(browser, pushService) {
  const vapidKey = (await (await fetch(`${BASE}/push/vapid`)).json()).public_key;
  const bob = await newPage(browser, 'bob');
  await signIn(bob, BOB);
  const amy = await newPage(browser, 'amy');
  await amy.context().grantPermissions(['notifications'], { origin: BASE });
  await amy.addInitScript(fakeSubscribe, {
    endpoint: `${pushService.url}/push/amy`,
    p256dh: amyKeys.getPublicKey().toString('base64url'),
    auth: AUTH.toString('base64url'),
  });
  await signIn(amy, AMY);

  // Turning notifications on registers this browser as amy's device.
  await amy.click('#notify-toggle');
  await amy.waitForFunction(() => document.getElementById('notify-toggle').textContent === 'Notifications on');
  const asked = await amy.evaluate(() => window.__subscribedWith);
  check(asked === vapidKey, `the client subscribed with the server's VAPID key: ${asked} vs ${vapidKey}`);
  const devices = await api('GET', '/devices', AMY);
  check(devices.devices.length === 1 && devices.devices[0].kind === 'webpush', `amy has one webpush device: ${JSON.stringify(devices)}`);
  const deviceId = devices.devices[0].id;

  // A direct room with bob; amy's level for it is shown, "all" by default for a direct room.
  await startChat(bob, 'direct', async () => {
    await bob.fill('#direct-user', 'amy');
    await bob.press('#direct-user', 'Escape'); // the suggestions would cover the button
  });
  await sendMessage(bob, 'Hello amy');
  await openRoomNamed(amy, 'bob');
  await waitForBody(amy, 'Hello amy');
  check((await amy.inputValue('#notify-level')) === 'all', 'a direct room notifies of every message by default');

  // amy closes the app (her only window): bob's next message is a notification.
  const context = amy.context();
  await amy.close();
  // Only once the server has seen her window go (bob is told she is offline): a message
  // committed while her connection was still joined to the room would not notify her.
  await eventually('bob to see amy go offline', async () =>
    bob.receivedFrames.some(
      (text) => text.includes('"type":"presence"') && text.includes('"name":"amy"') && text.endsWith('"online":false}'),
    ),
  );
  await sendMessage(bob, TEXT);
  // A push for "Hello amy" may come first (if it committed before amy's page had joined
  // the new room): the one wanted is the one that carries TEXT.
  let push = null;
  let payload = null;
  for (let pushes = 0; pushes < 3 && payload?.message?.excerpt !== TEXT; pushes += 1) {
    push = await pushService.next();
    payload = JSON.parse(decrypt(push.body));
  }
  check(push.headers['content-encoding'] === 'aes128gcm', `Content-Encoding: ${push.headers['content-encoding']}`);
  check(Number(push.headers.ttl) > 0, `TTL: ${push.headers.ttl}`);
  check(/^[A-Za-z0-9_-]{1,32}$/.test(push.headers.topic || ''), `Topic: ${push.headers.topic}`);
  check(push.headers.authorization?.startsWith('vapid t=') && push.headers.authorization.includes(`k=${vapidKey}`), `VAPID authorization: ${push.headers.authorization}`);
  check(payload.type === 'message' && payload.room.kind === 'direct', `payload: ${JSON.stringify(payload)}`);
  check(payload.message.sender.name === 'bob' && payload.message.excerpt === TEXT, `payload message: ${JSON.stringify(payload.message)}`);

  // The browser hands the push to the service worker, which shows it.
  const again = watch(await context.newPage(), 'amy-again');
  await again.goto(`${BASE}/`);
  await again.waitForSelector('#app:not([hidden])');
  const shown = await deliverPush(again, JSON.stringify(payload));
  check(shown.length === 1, `one notification shown: ${JSON.stringify(shown)}`);
  check(shown[0].title === 'bob' && shown[0].body.startsWith(TEXT), `the notification names bob and says the text: ${JSON.stringify(shown[0])}`);
  check(shown[0].tag === payload.room.id && shown[0].data.room === payload.room.id, `the notification is the room's: ${JSON.stringify(shown[0])}`);

  // A click on it opens the room in the open window (the worker's click path).
  await closeRoomIfOpen(again);
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  await worker.evaluate((room) => openRoom(room).catch(() => null), payload.room.id);
  await again.waitForFunction(() => document.getElementById('room-name').textContent === 'bob');
  await waitForBody(again, TEXT);
  await screenshot(again, 'laptop-notifications');

  // The room's level, set from its menu, is the server's: it is there after a reload.
  await again.selectOption('#notify-level', 'mentions');
  const notify = await eventually('the notify command to be sent', async () => again.sentFrames.find((frame) => frame.type === 'notify' && frame.level === 'mentions'));
  // Answered (stored) before the page goes away.
  await eventually('the notify command to be answered', async () =>
    again.receivedFrames.some((text) => text.includes('"type":"ok"') && new RegExp(`"id":${notify.id}[,}]`).test(text)),
  );
  await again.reload();
  await again.waitForSelector('#app:not([hidden])');
  await openRoomNamed(again, 'bob');
  await again.waitForFunction(() => document.getElementById('notify-level').value === 'mentions');

  // Turning notifications off removes the device.
  await again.click('#notify-toggle');
  await again.waitForFunction(() => document.getElementById('notify-toggle').textContent === 'Turn on notifications');
  const left = await api('GET', '/devices', AMY);
  check(!left.devices.some((device) => device.id === deviceId), `the device is gone: ${JSON.stringify(left)}`);
}

/** Runs in the page before the app: PushManager.subscribe answers the test's subscription. */
function fakeSubscribe({ endpoint, p256dh, auth }) {
  let current = null;
  const toBase64Url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  PushManager.prototype.subscribe = async function subscribe(options) {
    window.__subscribedWith = toBase64Url(options.applicationServerKey);
    current = {
      endpoint,
      options: { applicationServerKey: options.applicationServerKey },
      toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
      unsubscribe: async () => {
        current = null;
        return true;
      },
    };
    return current;
  };
  PushManager.prototype.getSubscription = async function getSubscription() {
    return current;
  };
}

/** The push service on loopback: each request is answered 201 and queued for `next()`. */
async function startPushService() {
  const received = [];
  const waiting = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      response.writeHead(201).end();
      const push = { path: request.url, headers: request.headers, body: Buffer.concat(chunks) };
      const waiter = waiting.shift();
      if (waiter) waiter(push);
      else received.push(push);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${server.address().port}`,
    next: () =>
      new Promise((resolve, reject) => {
        if (received.length) return resolve(received.shift());
        const timer = setTimeout(() => reject(new Error('no push reached the push service within 15 s')), 15000);
        waiting.push((push) => {
          clearTimeout(timer);
          resolve(push);
        });
      }),
  };
}

/** RFC 8291 (aes128gcm) decryption with amy's key pair and auth secret. */
function decrypt(body) {
  const salt = body.subarray(0, 16);
  const idLength = body[20];
  const serverKey = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  const shared = amyKeys.computeSecret(serverKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), amyKeys.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, AUTH, keyInfo, 32));
  const key = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', key, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02 and optional zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  check(padded[end] === 2, 'the record ends with the last-record delimiter');
  return padded.subarray(0, end).toString('utf8');
}

/** Delivers `data` to the page's service worker as a push and answers what it shows. */
async function deliverPush(page, data) {
  const cdp = await page.context().newCDPSession(page);
  const registration = new Promise((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((entry) => !entry.isDeleted && entry.scopeURL.startsWith(BASE));
      if (ours) resolve(ours.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  const registrationId = await registration;
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(BASE).origin, registrationId, data });
  return eventually('the notification to show', async () => {
    const shown = await page.evaluate(async () => {
      const ready = await navigator.serviceWorker.ready;
      return (await ready.getNotifications()).map(({ title, body, tag, data }) => ({ title, body, tag, data }));
    });
    return shown.length > 0 && shown;
  });
}

async function closeRoomIfOpen(page) {
  if (await page.isVisible('#chat-view')) {
    // The phone layout's back button, or any room shown: start from the room list.
    await page.evaluate(() => document.getElementById('back').click());
  }
}

async function api(method, path, token) {
  const response = await fetch(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
