// push.js: notifications while the app is closed (Web Push). "Turn on notifications" asks the
// browser's permission, registers the service worker (sw.js), subscribes with the server's
// VAPID key (`GET /push/vapid`) and registers the subscription as this user's device
// (`POST /devices`); turning them off, or signing out, deletes the device and unsubscribes.
// The device id is kept in localStorage so that a reload knows notifications are on.

const DEVICE_KEY = 'palaver.device';
const WORKER = '/sw.js';

/** Whether this browser can receive Web Push at all. */
export function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** Whether notifications are on for this browser: a device registered and permission kept. */
export function isOn() {
  return supported() && Notification.permission === 'granted' && Boolean(localStorage.getItem(DEVICE_KEY));
}

/** Registers the service worker only (it also opens rooms from a clicked notification). */
export async function registerWorker() {
  if (!supported()) return null;
  return navigator.serviceWorker.register(WORKER);
}

/** Turns notifications on for `token`'s user; throws an Error that says why not. */
export async function turnOn(token) {
  if (!supported()) throw new Error('This browser cannot show notifications.');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('Notifications are blocked in this browser’s settings for this site.');
  await registerWorker();
  const registration = await navigator.serviceWorker.ready;
  const { public_key: publicKey } = await json(fetch('/push/vapid'));
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription, publicKey)) {
    // Subscribed with another server key (the server's key changed): subscribe again.
    await subscription.unsubscribe();
    subscription = null;
  }
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(publicKey) });
  }
  const { endpoint, keys } = subscription.toJSON();
  const { device } = await json(
    fetch('/devices', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'webpush', endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } }),
    }),
  );
  localStorage.setItem(DEVICE_KEY, device.id);
  return device;
}

/**
 * Turns them off: the device is deleted on the server (so the next user of this browser is
 * not notified of this one's messages) and the subscription ended. Errors are reported to
 * the caller, after the local state is cleared either way.
 */
export async function turnOff(token) {
  const id = localStorage.getItem(DEVICE_KEY);
  localStorage.removeItem(DEVICE_KEY);
  if (supported()) {
    const registration = await navigator.serviceWorker.getRegistration();
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (subscription) await subscription.unsubscribe();
  }
  if (id && token) {
    const response = await fetch(`/devices/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    // 404: already gone (removed by the server when the push service dropped it).
    if (!response.ok && response.status !== 404) throw new Error(`The server did not remove this device (HTTP ${response.status}).`);
  }
}

/** Calls `open(roomId)` when a click on a notification asks an open page for a room. */
export function onOpenRoom(open) {
  if (!supported()) return;
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data && event.data.type === 'open_room') open(event.data.room);
  });
  // Messages from the worker are held until the page says it listens.
  navigator.serviceWorker.startMessages();
}

async function json(responsePromise) {
  const response = await responsePromise;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error?.message || `HTTP ${response.status}`);
  return body;
}

function sameKey(subscription, publicKey) {
  const key = subscription.options && subscription.options.applicationServerKey;
  return !key || toBase64Url(new Uint8Array(key)) === publicKey;
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

function toBase64Url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
