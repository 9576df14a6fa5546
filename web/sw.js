// sw.js: the web client's service worker. It shows a notification for each push the server
// sends while the app is closed (the payload of docs/notifications.md: room, message with
// its sender and excerpt, count, unread), one per room (a newer one replaces the older), and
// a click on it opens that room: in a window of the app already open if there is one, else
// in a new one (`/#room=r_…`).

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  event.waitUntil(showPush(event.data));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const room = event.notification.data && event.notification.data.room;
  if (room) event.waitUntil(openRoom(room));
});

/** Shows the notification a push carries; a push that is not ours says so plainly. */
async function showPush(data) {
  let payload = null;
  try {
    payload = data ? data.json() : null;
  } catch {
    payload = null;
  }
  if (!payload || payload.type !== 'message' || !payload.room) {
    await self.registration.showNotification('Palaver', { body: 'You have new messages.' });
    return;
  }
  const { title, options } = notificationOf(payload);
  await self.registration.showNotification(title, options);
}

/**
 * The title and options of a notification. A direct room is titled with the sender; a group
 * or bot room with its name and the sender before the text. With `--push-preview none` the
 * excerpt is empty and the text says how many messages came.
 */
function notificationOf({ room, message, count = 1, unread = 0 }) {
  const sender = (message && message.sender && message.sender.name) || 'Someone';
  const excerpt = (message && message.excerpt) || '';
  const many = count > 1 ? `${count} new messages` : 'New message';
  const text = excerpt || many;
  const direct = room.kind === 'direct';
  const title = direct ? sender : room.name;
  const body = direct ? text : `${sender}: ${text}`;
  return {
    title,
    options: {
      body: excerpt && count > 1 ? `${body} (${many})` : body,
      tag: room.id,
      renotify: true,
      timestamp: Date.now(),
      data: { room: room.id, seq: message && message.seq, unread },
    },
  };
}

/** Opens `room` in a focused window of the app, or a new one. */
async function openRoom(room) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const own = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (own) {
    own.postMessage({ type: 'open_room', room });
    return own.focus();
  }
  return self.clients.openWindow(`/#room=${encodeURIComponent(room)}`);
}
