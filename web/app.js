// app.js: the web client's entry point and its state. It signs in with a token (kept in
// localStorage), keeps the room list with unread counts, subscribes to every room (`join`),
// loads history as the user scrolls up, sends messages, typing and read marks, answers bot
// buttons, and after a dropped connection resumes every room with `join` + `after_seq`
// (messages are kept by seq, so nothing shows twice and nothing is missed). The connection
// is the client library (client/, clients/typescript): it reconnects with back-off, pings,
// waits out `rate_limited`, and keeps sends in its outbox until acknowledged, sending them
// again with their `client_msg_id` after a drop. People are found
// by name (people.js); a room's member panel invites, leaves, and for the group's owner and
// moderators kicks, mutes and bans (the owner also makes moderators).
// Notifications while the app is closed (push.js, sw.js) are turned on from the sidebar;
// each room's header sets its notification level (`notify`). Conversations (section 11):
// replies, edits, deletes and reactions on each message (conversation.js), @mentions in the
// composer (mentions.js), `message_updated` applied as it comes and `changes` caught up
// after a reconnect, and the search box over the rooms. Safety (section 13, safety.js):
// Block / Unblock in the member panel, a blocked person's messages shown without content,
// and Report under others' messages.

import { PalaverClient, PalaverError, newClientMsgId } from './client/index.js';
import { excerptOf } from './conversation.js';
import { byId } from './dom.js';
import * as files from './files.js';
import { Mentions, mentionedIn } from './mentions.js';
import { Chips, Picker } from './people.js';
import * as push from './push.js';
import * as safety from './safety.js';
import { offersChoices } from './templates.js';
import { Timeline } from './timeline.js';
import * as view from './views.js';

const TOKEN_KEY = 'palaver.token';
const PAGE = 50;
const RESUME_PAGE = 200;
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 5000;
const SIGNIN_ATTEMPTS = 3;
/** The reconnect back-off: from 0.4 s to 10 s, jittered. */
const RECONNECT = { initialMs: 400, maxMs: 10_000 };

const state = {
  connection: null,
  token: null,
  remembered: false,
  me: null,
  /** Room id -> Room, with the client's own `preview` and `activity` added. */
  rooms: new Map(),
  /** Room id -> Timeline. */
  timelines: new Map(),
  /** Room id -> Map(user id -> User). */
  members: new Map(),
  /** Ids of the people I block (section 13), read on every (re)connect. */
  blocked: new Set(),
  /** The open room's id, or null. */
  current: null,
  /** My sends not acknowledged yet (the library's outbox has them): {room, body, files, clientMsgId}. */
  pending: [],
  typingSent: { room: null, at: 0 },
  /** Room id -> Map(user id -> {name, timer}). */
  typists: new Map(),
  /** Room id -> Map(user id -> {name, seq}): other members' read marks seen this session. */
  reads: new Map(),
  activityClock: 0,
  /** The message the composer's next send answers, or null. */
  replyTo: null,
};

// ---- sign-in and the connection ---------------------------------------------------------

function signIn(token, remembered) {
  state.token = token;
  files.setFileToken(token);
  state.remembered = remembered;
  const connection = new PalaverClient({ url: location.origin, token, reconnect: RECONNECT });
  state.connection = connection;
  let everConnected = false;
  let attempts = 0;
  connection.on('open', ({ hello }) => {
    everConnected = true;
    attempts = 0;
    onHello(hello);
  });
  connection.on('event', (event) => onServerEvent(event));
  connection.on('close', ({ delayMs }) => {
    if (delayMs === undefined) return;
    attempts += 1;
    onDown(everConnected, attempts, delayMs);
  });
  connection.on('unauthorized', () => {
    if (everConnected) signOut('Your session was ended by the server. Sign in again.');
    else refused(token);
  });
  view.setSigninBusy(true);
  connection.connect().catch(() => {});
}

/** The token never got a connection: back to the sign-in form, the token kept in it. */
function refused(token) {
  if (state.connection) state.connection.close();
  view.showSignin('That token was not accepted, or the server cannot be reached.', token);
}

function signOut(message = '') {
  if (state.connection) state.connection.close();
  // This browser stops receiving this user's notifications (the device goes on the server).
  if (push.isOn()) push.turnOff(state.token).catch(reportError).finally(renderNotifyToggle);
  localStorage.removeItem(TOKEN_KEY);
  resetState();
  view.showChat(false);
  view.setUnreadTotal(0);
  view.showSignin(message);
}

function resetState() {
  Object.assign(state, {
    connection: null,
    token: null,
    me: null,
    current: null,
    pending: [],
  });
  for (const map of [state.rooms, state.timelines, state.members, state.typists, state.reads, state.blocked]) map.clear();
}

function onHello(hello) {
  const first = state.me === null;
  state.me = hello.user;
  localStorage.setItem(TOKEN_KEY, state.token);
  view.setStatus('Online', 'online');
  if (first) {
    view.showApp(hello.user);
    view.showChat(false);
    renderNotifyToggle();
  }
  synchronize()
    .then(() => first && openRoomOfAddress())
    .catch(reportSyncError);
}

/** `/#room=r_…` (a notification clicked while no window was open) opens that room once. */
async function openRoomOfAddress() {
  const match = /^#room=(r_\d+)$/.exec(decodeURIComponent(location.hash));
  if (!match) return;
  history.replaceState(null, '', location.pathname);
  await openRoom(match[1]);
}

/** The connection dropped (or could not be made); the library tries again after `delayMs`. */
function onDown(everConnected, attempts, delayMs) {
  if (everConnected) {
    view.setStatus(`Offline, retrying in ${Math.ceil(delayMs / 1000)} s…`, 'offline');
    return;
  }
  if (!state.remembered || attempts >= SIGNIN_ATTEMPTS) refused(state.token);
}

/**
 * A command: answered, or refused at once with `disconnected` while offline (what the user
 * asked for did not happen; the toast says so). `rate_limited` is waited out by the library.
 */
function request(type, fields) {
  const connection = state.connection;
  if (!connection) return Promise.reject(new Error('signed out'));
  if (connection.state !== 'open') return Promise.reject(new PalaverError('disconnected', 'not connected'));
  return connection.request(type, fields);
}

/** A failed action the user asked for: it did not happen, and the toast says why. */
function reportError(error) {
  if (error && error.code === 'disconnected') {
    view.toast('Not connected: that did not go through. Try again once you are back online.');
    return;
  }
  view.toast(error && error.message ? error.message : String(error));
}

/**
 * A failed step of keeping in sync (joining, read marks, sending what is queued): when the
 * connection dropped, the resume after reconnecting redoes it, so only other errors show.
 */
function reportSyncError(error) {
  if (error && error.code === 'disconnected') return;
  reportError(error);
}

// ---- keeping in sync: the room list, subscriptions, resuming ----------------------------

/** After every hello: refresh the room list, (re)join every room (the outbox resends by itself). */
async function synchronize() {
  const { users: blocked } = await request('blocks');
  state.blocked = new Set(blocked.map((user) => user.id));
  const { rooms } = await request('rooms');
  reconcileRooms(rooms);
  for (const room of rooms) await subscribe(room);
  // An open room whose messages were loaded got what it missed through `join` above.
  if (state.current && !timelineOf(state.current).loaded) await showRoomMessages(state.current);
  markReadIfSeen();
  view.setStatus('Online', 'online');
}

function reconcileRooms(rooms) {
  const fresh = new Set(rooms.map((room) => room.id));
  for (const id of [...state.rooms.keys()]) if (!fresh.has(id)) forgetRoom(id);
  for (const room of rooms) updateRoom(room);
  renderRoomList();
}

function updateRoom(room) {
  const known = state.rooms.get(room.id) || { activity: 0, preview: '' };
  const preview = room.last_message ? previewOf(room.last_message) : known.preview;
  state.rooms.set(room.id, { ...known, ...room, preview });
  if (room.id === state.current) renderHeader();
}

function forgetRoom(id) {
  state.rooms.delete(id);
  state.timelines.delete(id);
  state.members.delete(id);
  state.pending = state.pending.filter((item) => item.room !== id);
  if (state.current === id) closeRoom();
}

function timelineOf(roomId) {
  if (!state.timelines.has(roomId)) state.timelines.set(roomId, new Timeline());
  return state.timelines.get(roomId);
}

/**
 * Joins a room to get its live events. A room whose messages are loaded resumes after the
 * last seq it has, page by page, so nothing is missed; any other room only subscribes.
 */
async function subscribe(room) {
  const timeline = timelineOf(room.id);
  if (!timeline.loaded) {
    // Live messages kept from an earlier connection may have a gap now: drop them, the
    // newest page is loaded when the room is opened.
    timeline.bySeq.clear();
    absorbJoin(await request('join', { room: room.id, after_seq: room.last_seq, limit: 1 }));
    return;
  }
  let after = timeline.resumeSeq();
  for (;;) {
    const data = await request('join', { room: room.id, after_seq: after, limit: RESUME_PAGE });
    absorbJoin(data);
    if (!data.has_more || data.messages.length === 0) break;
    after = data.messages.at(-1).seq;
  }
  await catchUpChanges(room.id, timeline);
}

/**
 * Edits, deletes and reactions made while this client was away (`changes` after the last
 * `rev` it knows), applied to the messages it has; page by page.
 */
async function catchUpChanges(roomId, timeline) {
  // Until the last page, live changes are applied but do not move `lastRev`: a drop half-way
  // starts the next catch-up from where this one started.
  timeline.revisions.beginCatchUp();
  let after = timeline.revisions.lastRev ?? 0;
  for (;;) {
    const data = await request('changes', { room: roomId, after_rev: after, limit: RESUME_PAGE });
    for (const message of data.messages) applyUpdate(message, false);
    if (!data.has_more || data.messages.length === 0) {
      timeline.revisions.endCatchUp(data.last_rev);
      return;
    }
    after = data.messages.at(-1).rev;
  }
}

function absorbJoin(data) {
  updateRoom(data.room);
  state.members.set(data.room.id, new Map(data.members.map((user) => [user.id, user])));
  for (const message of data.messages) addMessage(message, false);
  if (data.room.id === state.current) renderHeader();
  renderRoomList();
}

// ---- server events ----------------------------------------------------------------------

const EVENT_HANDLERS = {
  message: (event) => addMessage(event.message, true),
  typing: (event) => onTyping(event.room, event.user),
  read: (event) => onRead(event.room, event.user, event.seq),
  presence: (event) => onPresence(event.user, event.online),
  message_updated: (event) => onMessageUpdated(event),
  member_joined: (event) => onMembership(event.room, event.user, true),
  member_left: (event) => onMembership(event.room, event.user, false),
  member_updated: (event) => onMemberUpdated(event),
  room_added: (event) => onRoomAdded(event.room),
  room_removed: (event) => onRoomRemoved(event.room),
  notice: (event) => view.toast(`Notice: ${event.body}`, 8000),
};

function onServerEvent(event) {
  const handler = EVENT_HANDLERS[event.type];
  if (handler) handler(event);
}

function onMessageUpdated(event) {
  const room = state.rooms.get(event.room);
  if (room) room.last_rev = Math.max(room.last_rev || 0, event.rev);
  applyUpdate(event.message, true);
}

/**
 * A message's new state (from `message_updated`, `changes` or the answer to one's own
 * change) replaces the one kept, unless that one is as new; a state of a message not here
 * yet waits for it (`addMessage`); the room's preview follows. Only a live event moves the
 * room's `lastRev` (outside a catch-up): an answer to one's own change may come before the
 * events of earlier changes.
 */
function applyUpdate(message, live) {
  const timeline = state.timelines.get(message.room);
  const kept = timeline && timeline.get(message.seq);
  if (timeline && !timeline.revisions.change(message, Boolean(kept), live) && kept) return;
  if (kept && (kept.rev || 0) >= (message.rev || 0)) return;
  if (kept) timeline.bySeq.set(message.seq, message);
  const room = state.rooms.get(message.room);
  if (room && message.seq === room.last_seq) {
    room.preview = previewOf(message);
    renderRoomList();
  }
  if (kept && message.room === state.current && timeline.loaded) view.replaceMessage(message, messageContext());
}

/** What drawing a message needs: who I am, and what its buttons do. */
function messageContext() {
  const room = state.rooms.get(state.current);
  const members = state.members.get(state.current) || new Map();
  return {
    me: state.me,
    answerBot,
    reply: startReply,
    edit: startEdit,
    remove: deleteMessage,
    react: reactTo,
    report: (message, button) =>
      safety.openReportForm(button, message, (reason, note) =>
        request('report', { room: message.room, message: message.id, reason, ...(note ? { note } : {}) }).then(
          () => view.toast('Thank you. The moderators will look at it.'),
          (error) => {
            reportError(error);
            throw error;
          },
        ),
      ),
    jump: (seq) => openRoomAt(state.current, seq).catch(reportError),
    names: (ids) => ids.map((id) => members.get(id)?.name).filter(Boolean),
    // The sender, or in a group its owner and moderators (a moderator: members' messages).
    mayDelete: (message) =>
      message.sender.id === state.me.id ||
      Boolean(
        room &&
          room.kind === 'group' &&
          view.mayModerate(withRole(room, members.get(state.me.id)), withRole(room, members.get(message.sender.id) || message.sender)),
      ),
  };
}

function addMessage(arrived, live) {
  const timeline = timelineOf(arrived.room);
  if (timeline.get(arrived.seq)) return;
  // A change that came before the message (it was on its way) shows at once.
  const message = timeline.revisions.handOut(arrived);
  timeline.add(message);
  const room = state.rooms.get(message.room);
  if (room) noteMessageInRoom(room, message, live);
  state.pending = state.pending.filter((item) => !isAck(item, message));
  clearTypist(message.room, message.sender.id);
  if (message.room === state.current && timeline.loaded) {
    const stick = view.isNearBottom() || message.sender.id === state.me.id;
    view.insertMessage(message, messageContext());
    renderButtons();
    view.setOlderState(timeline);
    renderPendingAndMarks();
    if (stick) view.scrollToBottom();
    markReadIfSeen();
  }
  renderRoomList();
}

function noteMessageInRoom(room, message, live) {
  room.last_seq = Math.max(room.last_seq || 0, message.seq);
  if (message.sender.id === state.me.id) room.read_seq = Math.max(room.read_seq || 0, message.seq);
  room.unread = Math.max(0, room.last_seq - room.read_seq);
  if (message.seq === room.last_seq) room.preview = previewOf(message);
  if (live) room.activity = ++state.activityClock;
  const mentionsMe = (message.mentions || []).includes(state.me.id) && message.sender.id !== state.me.id;
  if (live && mentionsMe && message.seq > (room.read_seq || 0)) room.mentions_unread = (room.mentions_unread || 0) + 1;
}

function previewOf(message) {
  const who = message.sender.id === state.me.id ? 'You' : message.sender.name;
  return `${who}: ${excerptOf(message, 120)}`;
}

function isAck(item, message) {
  return item.room === message.room && message.sender.id === state.me.id && item.clientMsgId === message.client_msg_id;
}

function onTyping(roomId, user) {
  if (user.id === state.me.id) return;
  const typists = state.typists.get(roomId) || new Map();
  state.typists.set(roomId, typists);
  clearTimeout(typists.get(user.id)?.timer);
  const timer = setTimeout(() => clearTypist(roomId, user.id), TYPING_SHOWN_MS);
  typists.set(user.id, { name: user.name, timer });
  if (roomId === state.current) renderPendingAndMarks();
}

function clearTypist(roomId, userId) {
  const typists = state.typists.get(roomId);
  if (!typists || !typists.has(userId)) return;
  clearTimeout(typists.get(userId).timer);
  typists.delete(userId);
  if (roomId === state.current) renderPendingAndMarks();
}

function onRead(roomId, user, seq) {
  const room = state.rooms.get(roomId);
  if (user.id === state.me.id) {
    if (!room) return;
    room.read_seq = Math.max(room.read_seq || 0, seq);
    room.unread = Math.max(0, room.last_seq - room.read_seq);
    renderRoomList();
    return;
  }
  const reads = state.reads.get(roomId) || new Map();
  state.reads.set(roomId, reads);
  reads.set(user.id, { name: user.name, seq: Math.max(seq, reads.get(user.id)?.seq || 0) });
  if (roomId === state.current) renderPendingAndMarks();
}

function onPresence(user, online) {
  for (const members of state.members.values()) {
    const member = members.get(user.id);
    if (member) member.online = online;
  }
  if (state.current) renderHeader();
}

function onMembership(roomId, user, joined) {
  const members = state.members.get(roomId);
  const room = state.rooms.get(roomId);
  if (members && joined) members.set(user.id, user);
  if (members && !joined) members.delete(user.id);
  if (room && members) room.members_count = members.size;
  if (roomId === state.current) renderHeader();
}

/** A member's role or mute changed (`member_updated`): the member list and, if it is me, the composer. */
function onMemberUpdated(event) {
  const members = state.members.get(event.room);
  const member = members?.get(event.user.id);
  if (member) Object.assign(member, { role: event.role, muted_until: event.muted_until });
  if (event.user.id === state.me?.id && event.room === state.current) {
    if (event.muted_until) view.toast(`You were muted in this group until ${new Date(event.muted_until).toLocaleString()}.`, 8000);
    else view.toast(event.role === 'moderator' ? 'You are now a moderator of this group.' : 'Your role or mute in this group changed.');
  }
  if (event.room !== state.current) return;
  renderHeader();
  // My own role decides which messages show Delete: draw them again.
  const timeline = timelineOf(event.room);
  if (event.user.id === state.me?.id && timeline.loaded) {
    const ctx = messageContext();
    for (const message of timeline.bySeq.values()) view.replaceMessage(message, ctx);
  }
}

/** `member` with its role, which an entry from `member_joined` does not carry yet. */
function withRole(room, member) {
  if (!member) return member;
  return { ...member, role: member.role || (member.id === room.owner ? 'owner' : 'member') };
}

function onRoomAdded(room) {
  updateRoom(room);
  state.rooms.get(room.id).activity = ++state.activityClock;
  renderRoomList();
  subscribe(room).catch(reportSyncError);
}

function onRoomRemoved(roomId) {
  const room = state.rooms.get(roomId);
  if (roomId === state.current && room) view.toast(`You are no longer a member of ${room.name}.`);
  forgetRoom(roomId);
  renderRoomList();
}

// ---- the open room ----------------------------------------------------------------------

async function openRoom(roomId) {
  if (!state.rooms.has(roomId)) return;
  if (state.current !== roomId) {
    view.showMembers(false);
    setReplyTo(null);
  }
  state.current = roomId;
  view.showChat(true);
  view.clearMessages();
  renderHeader();
  renderRoomList();
  await showRoomMessages(roomId);
  byId('body').focus({ preventScroll: true });
}

/** Loads the newest page if needed, draws the timeline, fills the screen, marks it read. */
async function showRoomMessages(roomId) {
  const timeline = timelineOf(roomId);
  if (!timeline.loaded) await loadNewest(roomId, timeline);
  if (state.current !== roomId) return;
  view.clearMessages();
  const seqs = [...timeline.bySeq.keys()].sort((a, b) => a - b);
  const context = messageContext();
  for (const seq of seqs) view.insertMessage(timeline.get(seq), context);
  renderButtons();
  renderPendingAndMarks();
  view.setOlderState(timeline);
  view.scrollToBottom();
  await fillScreen(roomId);
  markReadIfSeen();
}

async function loadNewest(roomId, timeline) {
  // Changes after this `rev` are caught up after a reconnect; the page is at least as new.
  if (timeline.revisions.lastRev === null) timeline.revisions.endCatchUp(state.rooms.get(roomId)?.last_rev || 0);
  const data = await request('history', { room: roomId, limit: PAGE });
  for (const message of data.messages) addMessage(message, false);
  timeline.hasOlder = data.has_more;
  timeline.loaded = true;
}

async function fillScreen(roomId) {
  const timeline = timelineOf(roomId);
  while (state.current === roomId && timeline.hasOlder && view.hasRoomAbove()) {
    const before = timeline.bySeq.size;
    await loadOlder(roomId);
    if (timeline.bySeq.size === before) return;
  }
}

async function loadOlder(roomId) {
  const timeline = timelineOf(roomId);
  if (!timeline.loaded || !timeline.hasOlder || timeline.loadingOlder) return;
  timeline.loadingOlder = true;
  view.setOlderState(timeline);
  try {
    const fields = { room: roomId, limit: PAGE };
    const first = timeline.firstSeq();
    if (first !== null) fields.before_seq = first;
    const data = await request('history', fields);
    const fresh = data.messages.filter((message) => timeline.add(message));
    if (state.current === roomId) {
      const context = messageContext();
      view.keepPosition(() => fresh.forEach((message) => view.insertMessage(message, context)));
      renderButtons();
    }
    timeline.hasOlder = data.has_more;
  } catch (error) {
    reportError(error);
  } finally {
    timeline.loadingOlder = false;
    if (state.current === roomId) view.setOlderState(timeline);
  }
}

function closeRoom() {
  state.current = null;
  view.showChat(false);
  view.clearMessages();
  renderRoomList();
}

function renderHeader() {
  const room = state.rooms.get(state.current);
  if (!room) return;
  const members = state.members.get(room.id) || new Map();
  view.renderChatHeader(room, members, state.me);
  view.renderMuted(room.kind === 'group' ? view.mutedUntil(members.get(state.me.id)) : null);
  if (view.membersShown()) {
    view.renderMembers(room, members, state.me, { kick, setRole, mute, ban, block: setBlock, blocked: state.blocked });
  }
}

function renderRoomList() {
  const rooms = [...state.rooms.values()].sort(byActivity);
  view.renderRoomList(rooms, state.current, (id) => openRoom(id).catch(reportError));
  view.setUnreadTotal(rooms.reduce((total, room) => total + Math.max(0, room.unread || 0), 0));
}

function byActivity(a, b) {
  if (a.activity !== b.activity) return b.activity - a.activity;
  return roomNumber(b.id) - roomNumber(a.id);
}

function roomNumber(id) {
  return Number(String(id).replace(/\D/g, '')) || 0;
}

/**
 * In a bot room only the newest bot message that offers buttons keeps them live, until one
 * of them is pressed: the others belong to states the conversation has left.
 */
function renderButtons() {
  const room = state.rooms.get(state.current);
  const timeline = state.timelines.get(state.current);
  if (!room || !timeline) return;
  if (room.kind !== 'bot') {
    view.setLiveButtons(() => true);
    return;
  }
  const live = liveButtonsOf(timeline);
  view.setLiveButtons((id) => id === live);
}

function liveButtonsOf(timeline) {
  const seqs = [...timeline.bySeq.keys()].sort((a, b) => b - a);
  const newest = seqs.map((seq) => timeline.get(seq)).find((message) => message.sender.kind === 'bot' && offersChoices(message.template));
  if (!newest) return null;
  const pressed = seqs.some((seq) => seq > newest.seq && timeline.get(seq).action?.message === newest.id);
  return pressed ? null : newest.id;
}

/** Pending sends, who is typing and who has seen the newest message, for the open room. */
function renderPendingAndMarks() {
  const roomId = state.current;
  view.renderPending(state.pending.filter((item) => item.room === roomId));
  const typists = state.typists.get(roomId) || new Map();
  view.renderTyping([...typists.values()].map((typist) => typist.name));
  const newest = timelineOf(roomId).lastSeq();
  const reads = [...(state.reads.get(roomId) || new Map()).values()];
  view.renderSeen(newest > 0 ? reads.filter((read) => read.seq >= newest).map((read) => read.name) : []);
}

/** Sends `read` once the newest message of the open room is on screen. */
function markReadIfSeen() {
  const roomId = state.current;
  const room = state.rooms.get(roomId);
  const timeline = state.timelines.get(roomId);
  if (!room || !timeline || !timeline.loaded || document.visibilityState !== 'visible') return;
  const newest = timeline.lastSeq();
  if (newest <= (room.read_seq || 0) || !view.newestVisible()) return;
  room.read_seq = newest;
  room.unread = Math.max(0, room.last_seq - newest);
  if (room.unread === 0) room.mentions_unread = 0;
  renderRoomList();
  request('read', { room: roomId, seq: newest }).catch(reportSyncError);
}

// ---- what the user does -----------------------------------------------------------------

/** The attachments waiting under the composer. */
const tray = new files.Tray((error) => reportError(error));

/** Sends the composer's text with the tray's files, once they are uploaded. */
async function sendComposed(body) {
  const room = state.current;
  const attached = tray.isEmpty() ? [] : await tray.take();
  if (!body.trim() && attached.length === 0) return;
  sendMessage(body, attached, room);
}

function sendMessage(body, attached, room) {
  const replyTo = state.replyTo && state.replyTo.room === room ? state.replyTo.id : null;
  const mentions = mentionedIn(body, othersIn(room));
  setReplyTo(null);
  const connection = state.connection;
  if (!connection) return;
  const clientMsgId = newClientMsgId();
  // The library's outbox holds it until the server's `ok`, across drops.
  const sent = connection.send(room, body, {
    clientMsgId,
    files: attached.map((file) => file.id),
    ...(replyTo ? { replyTo } : {}),
    mentions,
  });
  const item = { room, body, files: attached, clientMsgId };
  state.pending.push(item);
  renderPendingAndMarks();
  view.scrollToBottom();
  sent.then(
    (message) => addMessage(message, true),
    (error) => {
      // `closed`: signed out; the send goes with the session.
      if (error.code !== 'closed') reportError(error);
    },
  ).finally(() => {
    state.pending = state.pending.filter((other) => other !== item);
    if (item.room === state.current) renderPendingAndMarks();
  });
}

function noteTyping() {
  const now = Date.now();
  const sent = state.typingSent;
  if (sent.room === state.current && now - sent.at < TYPING_EVERY_MS) return;
  state.typingSent = { room: state.current, at: now };
  request('typing', { room: state.current }).catch(() => {});
}

/** The members of a room other than me, for @mentions. */
function othersIn(roomId) {
  const members = state.members.get(roomId) || new Map();
  return [...members.values()].filter((user) => user.id !== state.me?.id && user.kind !== 'bot');
}

function setReplyTo(message) {
  state.replyTo = message;
  view.showReplying(message);
}

/** Reply: the composer's next message answers this one. */
function startReply(message) {
  setReplyTo(message);
  byId('body').focus();
}

/** Edit: the text becomes a field in place; Enter saves with `edit`. */
function startEdit(message) {
  view.beginEdit(message, async (body) => {
    try {
      const data = await request('edit', { room: message.room, message: message.id, body, mentions: mentionedIn(body, othersIn(message.room)) });
      applyUpdate(data.message, false);
    } catch (error) {
      reportError(error);
      throw error;
    }
  });
}

async function deleteMessage(message) {
  try {
    const data = await request('delete', { room: message.room, message: message.id });
    applyUpdate(data.message, false);
  } catch (error) {
    reportError(error);
  }
}

async function reactTo(message, emoji, on) {
  try {
    const data = await request('react', { room: message.room, message: message.id, emoji, on });
    applyUpdate(data.message, false);
  } catch (error) {
    reportError(error);
  }
}

/** Opens a room at a message: older pages are loaded until it is there, then it is shown. */
async function openRoomAt(roomId, seq) {
  if (state.current !== roomId) await openRoom(roomId);
  const timeline = timelineOf(roomId);
  while (state.current === roomId && !timeline.get(seq) && timeline.hasOlder) {
    const before = timeline.bySeq.size;
    await loadOlder(roomId);
    if (timeline.bySeq.size === before) break;
  }
  if (state.current === roomId && !view.highlightMessage(seq)) view.toast('That message is no longer here.');
}

/** The search box: results replace the room list until the box is emptied. */
async function search(query) {
  if ([...query].length < 2) {
    view.renderSearch(null);
    return;
  }
  try {
    const data = await request('search', { query, limit: 20 });
    if (byId('search').value.trim() !== query) return; // typed on meanwhile
    view.renderSearch(data.messages, (id) => state.rooms.get(id)?.name || id, (message) => {
      view.renderSearch(null);
      byId('search').value = '';
      openRoomAt(message.room, message.seq).catch(reportError);
    });
  } catch (error) {
    reportError(error);
  }
}

/** A click on a bot's button or quick reply. */
async function answerBot(message, actionId) {
  try {
    const data = await request('action', { room: message.room, message: message.id, action: actionId });
    addMessage(data.message, true);
  } catch (error) {
    reportError(error);
  }
}

async function openAndShow(type, fields) {
  const { room } = await request(type, fields);
  updateRoom(room);
  state.rooms.get(room.id).activity = ++state.activityClock;
  await subscribe(state.rooms.get(room.id));
  await openRoom(room.id);
}

// ---- wiring the page --------------------------------------------------------------------

function onSubmit(id, handler) {
  byId(id).addEventListener('submit', (event) => {
    event.preventDefault();
    handler(event.target);
  });
}

function field(form, name) {
  return form.elements[name].value.trim();
}

function wireForms() {
  onSubmit('signin-form', (form) => {
    const token = field(form, 'token');
    if (token) signIn(token, false);
  });
  wirePeople();
  onSubmit('composer', (form) => {
    const body = form.elements.body.value;
    if ((!body.trim() && tray.isEmpty()) || !state.current) return;
    form.elements.body.value = '';
    view.fitComposer();
    sendComposed(body).catch(reportSyncError);
  });
}

/** Opens a new chat; true when it worked (an error is shown otherwise). */
async function startChat(form, type, fields) {
  try {
    await openAndShow(type, fields);
    form.reset();
    toggleNewChat(false);
    return true;
  } catch (error) {
    reportError(error);
    return false;
  }
}

/** The directory, for the pickers: a page of `users` whose name starts with `query`. */
function searchPeople(query, limit) {
  return request('users', { query, limit: Math.min(50, limit) });
}

function notMe() {
  return new Set(state.me ? [state.me.id] : []);
}

/** Runs `action` with what the picker's typed text names; says so when it names no one. */
async function withTyped(picker, action) {
  try {
    const user = await picker.resolve();
    if (user) await action(user);
  } catch (error) {
    reportError(error);
  }
}

/** The new-chat forms and the invite field: names typed, suggestions picked. */
function wirePeople() {
  const directForm = byId('direct-form');
  const openDirect = (user) => startChat(directForm, 'open_direct', { user: user.id });
  const direct = new Picker(byId('direct-user'), byId('direct-suggestions'), {
    search: searchPeople, kinds: ['user'], exclude: notMe, onPick: openDirect,
  });
  onSubmit('direct-form', () => withTyped(direct, openDirect));

  const botForm = byId('bot-form');
  const openBot = (bot) => startChat(botForm, 'open_bot', { bot: bot.id });
  const bots = new Picker(byId('bot-id'), byId('bot-suggestions'), {
    search: searchPeople, kinds: ['bot'], onPick: openBot,
  });
  onSubmit('bot-form', () => withTyped(bots, openBot));

  const chips = new Chips(byId('group-chips'));
  const members = new Picker(byId('group-members'), byId('group-suggestions'), {
    search: searchPeople,
    kinds: ['user'],
    exclude: () => new Set([...notMe(), ...chips.ids()]),
    onPick: (user) => chips.add(user),
  });
  onSubmit('group-form', async (form) => {
    const typed = form.elements.members;
    if (typed.value.trim()) {
      try {
        chips.add(await members.resolve());
        typed.value = '';
      } catch (error) {
        reportError(error);
        return;
      }
    }
    const fields = { name: field(form, 'name'), members: chips.ids(), public: form.elements.public.checked };
    if (await startChat(form, 'create_group', fields)) chips.clear();
  });

  const invitePicker = new Picker(byId('invite-user'), byId('invite-suggestions'), {
    search: searchPeople,
    kinds: ['user'],
    exclude: () => new Set((state.members.get(state.current) || new Map()).keys()),
    onPick: (user) => invite(user),
  });
  onSubmit('invite-form', () => withTyped(invitePicker, (user) => invite(user)));
}

async function invite(user) {
  try {
    await request('invite', { room: state.current, user: user.id });
    byId('invite-form').reset();
    view.toast(`Invited ${user.name}.`);
  } catch (error) {
    reportError(error);
  }
}

/**
 * Blocks (`on`) or unblocks a person (section 13); the rooms' messages are read again, as
 * the server now shows them (a blocked person's with their content left out).
 */
async function setBlock(user, on) {
  try {
    await request('block', { user: user.id, on });
    if (on) state.blocked.add(user.id);
    else state.blocked.delete(user.id);
    view.toast(on ? `You blocked ${user.name}. They are not told.` : `You unblocked ${user.name}.`);
    for (const timeline of state.timelines.values()) timeline.loaded = false;
    state.timelines.clear();
    const { rooms } = await request('rooms');
    reconcileRooms(rooms);
    if (state.current) await showRoomMessages(state.current);
    renderHeader();
  } catch (error) {
    reportError(error);
  }
}

/** The owner or a moderator removes a member; the member list follows `member_left`. */
async function kick(user) {
  try {
    await request('kick', { room: state.current, user: user.id });
    view.toast(`${user.name} is no longer in the group.`);
  } catch (error) {
    reportError(error);
  }
}

/** The owner makes a member a moderator, or a member again; the list follows `member_updated`. */
async function setRole(user, role) {
  try {
    await request('set_role', { room: state.current, user: user.id, role });
    view.toast(role === 'moderator' ? `${user.name} is now a moderator.` : `${user.name} is no longer a moderator.`);
  } catch (error) {
    reportError(error);
  }
}

/** The owner or a moderator mutes a member for `minutes` (0 lifts it). */
async function mute(user, minutes) {
  try {
    await request('mute', { room: state.current, user: user.id, minutes });
    view.toast(minutes > 0 ? `${user.name} is muted.` : `${user.name} may speak again.`);
  } catch (error) {
    reportError(error);
  }
}

/** The owner or a moderator bans a member: removed, and kept out until the ban is lifted. */
async function ban(user) {
  if (!window.confirm(`Ban ${user.name}? They are removed from the group and cannot come back.`)) return;
  try {
    await request('ban', { room: state.current, user: user.id });
    view.toast(`${user.name} is banned from the group.`);
  } catch (error) {
    reportError(error);
  }
}

/** Leaves the open group for good (`forget`): it goes from the list on every device. */
async function leaveGroup() {
  const roomId = state.current;
  const room = state.rooms.get(roomId);
  if (!room || room.kind !== 'group') return;
  try {
    await request('leave', { room: roomId, forget: true });
    forgetRoom(roomId);
    renderRoomList();
    view.toast(`You left ${room.name}.`);
  } catch (error) {
    reportError(error);
  }
}

function toggleMembers() {
  const open = !view.membersShown();
  view.showMembers(open);
  if (!open) return;
  renderHeader();
  const room = state.rooms.get(state.current);
  if (room && room.kind === 'group') byId('invite-user').focus();
}

/** "Turn on notifications" / "Notifications on": registers or removes this browser. */
async function toggleNotifications() {
  const button = byId('notify-toggle');
  button.disabled = true;
  try {
    if (push.isOn()) {
      await push.turnOff(state.token);
      view.toast('Notifications are off in this browser.');
    } else {
      await push.turnOn(state.token);
      view.toast('Notifications are on: you will hear of new messages while Palaver is closed.');
    }
  } catch (error) {
    reportError(error);
  } finally {
    button.disabled = false;
    renderNotifyToggle();
  }
}

function renderNotifyToggle() {
  view.renderNotifyToggle(push.supported(), push.isOn());
}

/** The open room's notification level, from its header's menu. */
async function setNotifyLevel(level) {
  const room = state.rooms.get(state.current);
  if (!room) return;
  const before = room.notify;
  room.notify = level;
  try {
    await request('notify', { room: room.id, level });
  } catch (error) {
    room.notify = before;
    reportError(error);
  }
  if (room.id === state.current) renderHeader();
}

function toggleNewChat(open) {
  byId('new-chat-panel').hidden = !open;
  byId('new-chat-toggle').setAttribute('aria-expanded', String(open));
}

function wireControls() {
  byId('signout').addEventListener('click', () => signOut());
  byId('back').addEventListener('click', () => closeRoom());
  byId('new-chat-toggle').addEventListener('click', () => toggleNewChat(byId('new-chat-panel').hidden));
  for (const tab of document.querySelectorAll('[data-tab]')) {
    tab.addEventListener('click', () => selectTab(tab.dataset.tab));
  }
  byId('members-toggle').addEventListener('click', () => toggleMembers());
  byId('reply-cancel').addEventListener('click', () => setReplyTo(null));
  new Mentions(byId('body'), byId('mention-suggestions'), () => othersIn(state.current));
  onSubmit('search-form', () => search(byId('search').value.trim()));
  byId('search').addEventListener('input', () => {
    if (!byId('search').value.trim()) view.renderSearch(null);
  });
  byId('notify-toggle').addEventListener('click', () => toggleNotifications());
  byId('notify-level').addEventListener('change', (event) => setNotifyLevel(event.target.value));
  push.onOpenRoom((roomId) => openRoom(roomId).catch(reportError));
  byId('leave-room').addEventListener('click', () => leaveGroup());
  const body = byId('body');
  body.addEventListener('input', () => {
    view.fitComposer();
    if (body.value) noteTyping();
  });
  body.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      byId('composer').requestSubmit();
    }
  });
  byId('scroller').addEventListener('scroll', onScroll, { passive: true });
  view.followBottom();
  wireAttachments();
}

/** The attach button, paste into the composer, drag and drop onto the chat, the viewer. */
function wireAttachments() {
  const input = byId('attach');
  input.addEventListener('change', () => {
    tray.add([...input.files]);
    input.value = '';
  });
  byId('body').addEventListener('paste', (event) => {
    const pasted = files.filesOf(event.clipboardData);
    if (pasted.length === 0) return;
    event.preventDefault();
    tray.add(pasted);
  });
  const chat = byId('chat-view');
  const hint = byId('drop-hint');
  chat.addEventListener('dragover', (event) => {
    if (![...(event.dataTransfer?.types || [])].includes('Files')) return;
    event.preventDefault();
    hint.hidden = false;
  });
  chat.addEventListener('dragleave', (event) => {
    if (!chat.contains(event.relatedTarget)) hint.hidden = true;
  });
  chat.addEventListener('drop', (event) => {
    event.preventDefault();
    hint.hidden = true;
    tray.add(files.filesOf(event.dataTransfer));
  });
  byId('viewer').addEventListener('click', (event) => {
    if (event.target.id !== 'viewer-download') files.closeFullSize();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !byId('viewer').hidden) files.closeFullSize();
  });
}

function selectTab(name) {
  for (const tab of document.querySelectorAll('[data-tab]')) {
    tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  }
  for (const form of document.querySelectorAll('[data-panel]')) form.hidden = form.dataset.panel !== name;
}

function onScroll() {
  if (!state.current) return;
  if (view.isNearTop()) loadOlder(state.current);
  markReadIfSeen();
}

function wireWindow() {
  window.addEventListener('online', () => state.connection && state.connection.reconnectNow());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    if (state.connection) state.connection.reconnectNow();
    markReadIfSeen();
  });
  window.addEventListener('resize', () => markReadIfSeen());
}

function boot() {
  wireForms();
  wireControls();
  wireWindow();
  selectTab('direct');
  // Registered on every visit, so that a click on a notification can open a room.
  if (push.isOn()) push.registerWorker().catch(reportError);
  const token = localStorage.getItem(TOKEN_KEY);
  view.showSignin('', token || '');
  if (token) signIn(token, true);
}

boot();
