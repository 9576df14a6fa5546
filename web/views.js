// views.js: everything that draws: the sign-in form, the room list, the chat header, the
// message list (kept in seq order, one element per seq), pending sends, typing and read
// marks, the connection status and toasts. It holds no state of its own beyond the DOM and
// whether the message list is held at its bottom (see followBottom).

import * as convo from './conversation.js';
import * as safety from './safety.js';
import { byId, el, formatTime, hue, initials } from './dom.js';
import { renderFiles } from './files.js';
import { renderTemplate } from './templates.js';

const GROUPING_MS = 5 * 60 * 1000;
const NEAR_BOTTOM_PX = 80;

// ---- screens ----------------------------------------------------------------------------

export function showSignin(error = '', token = '') {
  byId('app').hidden = true;
  byId('signin').hidden = false;
  byId('signin-error').textContent = error;
  byId('token').value = token;
  setSigninBusy(false);
  byId('token').focus();
}

export function setSigninBusy(busy) {
  const button = byId('signin-submit');
  button.disabled = busy;
  button.textContent = busy ? 'Signing in…' : 'Sign in';
}

export function showApp(me) {
  byId('signin').hidden = true;
  byId('app').hidden = false;
  byId('me-name').textContent = me.name;
  byId('me-id').textContent = me.id;
  paintAvatar(byId('me-avatar'), me.name);
}

/** `kind` is `online`, `connecting` or `offline`. */
export function setStatus(text, kind) {
  const status = byId('status');
  status.textContent = text;
  status.dataset.state = kind;
  document.body.dataset.connection = kind;
}

/** "(3) Palaver" while 3 messages are unread. */
export function setUnreadTotal(total) {
  document.title = total > 0 ? `(${total}) Palaver` : 'Palaver';
}

/** The composer grows with its text, up to its CSS max-height. */
export function fitComposer() {
  const body = byId('body');
  body.style.height = 'auto';
  body.style.height = `${body.scrollHeight + 2}px`;
}

export function toast(text, ms = 4000) {
  const node = byId('toast');
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    node.hidden = true;
  }, ms);
}

/** Coloured by name, so a person's direct room and their messages share a colour. */
function paintAvatar(node, name) {
  node.textContent = initials(name);
  node.style.setProperty('--hue', hue(name));
}

function avatar(name, extraClass = '') {
  const node = el('span', { class: `avatar ${extraClass}`, 'aria-hidden': 'true' });
  paintAvatar(node, name);
  return node;
}

// ---- room list --------------------------------------------------------------------------

const KIND_LABEL = { group: 'Group', direct: 'Direct', bot: 'Bot' };

export function renderRoomList(rooms, currentId, onOpen) {
  const list = byId('room-list');
  list.replaceChildren(...rooms.map((room) => roomItem(room, room.id === currentId, onOpen)));
  byId('no-rooms').hidden = rooms.length > 0;
}

function roomItem(room, current, onOpen) {
  const unread = Math.max(0, room.unread || 0);
  const button = el(
    'button',
    {
      type: 'button',
      class: `room${unread > 0 ? ' has-unread' : ''}`,
      'aria-current': current ? 'true' : null,
      dataset: { room: room.id, unread: String(unread), kind: room.kind },
      onclick: () => onOpen(room.id),
    },
    avatar(room.name, `kind-${room.kind}`),
    el(
      'span',
      { class: 'room-main' },
      el('span', { class: 'room-name' }, room.name),
      el('span', { class: 'room-preview' }, room.preview || KIND_LABEL[room.kind] || ''),
    ),
    room.mentions_unread > 0 ? el('span', { class: 'mention-badge', 'aria-label': `${room.mentions_unread} mentions of you` }, '@') : null,
    unread > 0 ? el('span', { class: 'badge', 'aria-label': `${unread} unread` }, unread > 99 ? '99+' : unread) : null,
  );
  return el('li', {}, button);
}

// ---- chat header and layout -------------------------------------------------------------

export function showChat(open) {
  document.body.classList.toggle('chat-open', open);
  byId('chat-empty').hidden = open;
  byId('chat-view').hidden = !open;
}

export function renderChatHeader(room, members, me) {
  byId('room-name').textContent = room.name;
  byId('room-info').textContent = roomInfo(room, members, me);
  paintAvatar(byId('room-avatar'), room.name);
  byId('room-avatar').className = `avatar kind-${room.kind}`;
  byId('members-toggle').hidden = room.kind === 'bot';
  if (room.kind === 'bot') showMembers(false);
  byId('notify-level').value = room.notify || (room.kind === 'group' ? 'mentions' : 'all');
}

/** The sidebar's notifications button: hidden where the browser has no Web Push. */
export function renderNotifyToggle(supported, on) {
  const button = byId('notify-toggle');
  button.hidden = !supported;
  button.textContent = on ? 'Notifications on' : 'Turn on notifications';
  button.setAttribute('aria-pressed', String(on));
}

/** Opens or closes the room's member panel. */
export function showMembers(open) {
  byId('members-panel').hidden = !open;
  byId('members-toggle').setAttribute('aria-expanded', String(open));
}

export function membersShown() {
  return !byId('members-panel').hidden;
}

/** How long a moderator may mute someone for, as the Mute menu offers it (minutes). */
export const MUTE_CHOICES = [
  [10, '10 minutes'],
  [60, '1 hour'],
  [1440, '1 day'],
  [10080, '7 days'],
];

/** Until when (a Date) `member` is muted now, or null (a mute ends by itself). */
export function mutedUntil(member) {
  if (!member || !member.muted_until) return null;
  const until = new Date(member.muted_until);
  return until.getTime() > Date.now() ? until : null;
}

/**
 * Whether `actor` may moderate `target` in a group (docs/safety.md): the owner acts on
 * everyone else, a moderator on members only, no one on the owner or on themselves.
 */
export function mayModerate(actor, target) {
  if (!actor || !target || actor.id === target.id) return false;
  const role = target.role || 'member';
  if (role === 'owner') return false;
  if (actor.role === 'owner') return true;
  return actor.role === 'moderator' && role === 'member';
}

/**
 * The member panel. `actions`: `kick(user)`, `setRole(user, role)`, `mute(user, minutes)`,
 * `ban(user)`; each button shows only to whom the server would allow it. `blocked` (the ids
 * I block) and `block(user, on)` give every other person a Block / Unblock button.
 */
export function renderMembers(room, members, me, actions) {
  const group = room.kind === 'group';
  // An entry from `member_joined` has no role yet: the owner is the room's, others members.
  const roleOf = (user) => (group && user ? user.role || (user.id === room.owner ? 'owner' : 'member') : null);
  const mine = members.get(me.id) && { ...members.get(me.id), role: roleOf(members.get(me.id)) };
  const owner = group && mine?.role === 'owner';
  const sorted = [...members.values()].sort((a, b) => a.name.localeCompare(b.name));
  byId('member-list').replaceChildren(
    ...sorted.map((user) => {
      const role = roleOf(user);
      const muted = group ? mutedUntil(user) : null;
      const moderate = group && mayModerate(mine, { ...user, role });
      return el(
        'li',
        { class: 'member', dataset: { user: user.id, role: role || '' } },
        avatar(user.name, 'tiny'),
        el('span', { class: 'member-name' }, user.id === me.id ? `${user.name} (you)` : user.name),
        role && role !== 'member' ? el('span', { class: 'member-note role' }, role) : null,
        muted ? el('span', { class: 'member-note muted', title: muted.toLocaleString() }, `muted until ${formatTime(muted.toISOString())}`) : null,
        el('span', { class: 'online-dot', dataset: { online: String(Boolean(user.online)) }, title: user.online ? 'online' : 'offline' }),
        moderate ? memberActions(user, role, muted, owner, actions) : null,
        user.id !== me.id && user.kind === 'user' ? safety.blockButton(user, actions.blocked.has(user.id), actions.block) : null,
      );
    }),
  );
  byId('invite-form').hidden = !group;
  byId('leave-room').hidden = !group;
}

function memberActions(user, role, muted, owner, actions) {
  const mute = el(
    'select',
    {
      class: 'mute',
      'aria-label': `Mute ${user.name}`,
      onchange: (event) => {
        const minutes = Number(event.target.value);
        event.target.value = '';
        if (!Number.isNaN(minutes)) actions.mute(user, minutes);
      },
    },
    el('option', { value: '' }, muted ? 'Muted…' : 'Mute…'),
    ...MUTE_CHOICES.map(([minutes, label]) => el('option', { value: String(minutes) }, label)),
    muted ? el('option', { value: '0' }, 'Unmute') : null,
  );
  return el(
    'span',
    { class: 'member-actions' },
    owner
      ? el(
          'button',
          {
            type: 'button',
            class: 'ghost small role',
            onclick: () => actions.setRole(user, role === 'moderator' ? 'member' : 'moderator'),
          },
          role === 'moderator' ? 'Remove moderator' : 'Make moderator',
        )
      : null,
    mute,
    el('button', { type: 'button', class: 'ghost small danger ban', 'aria-label': `Ban ${user.name} from the group`, onclick: () => actions.ban(user) }, 'Ban'),
    el('button', { type: 'button', class: 'ghost small danger kick', 'aria-label': `Remove ${user.name} from the group`, onclick: () => actions.kick(user) }, 'Kick'),
  );
}

let mutedTimer = null;

/** Says above the composer why a muted member cannot send, and until when; hides it once not. */
export function renderMuted(until) {
  clearTimeout(mutedTimer);
  if (until) mutedTimer = setTimeout(() => renderMuted(null), Math.min(until.getTime() - Date.now(), 2 ** 31 - 1));
  const banner = byId('muted-banner');
  banner.hidden = !until;
  banner.textContent = until ? `A moderator muted you in this group until ${until.toLocaleString()}: you can read, but not send, edit, react or type until then.` : '';
}

function roomInfo(room, members, me) {
  const others = [...members.values()].filter((user) => user.id !== me.id);
  if (room.kind === 'group') {
    const names = others.map((user) => user.name).slice(0, 4).join(', ');
    const count = `${room.members_count} member${room.members_count === 1 ? '' : 's'}`;
    return [room.public ? 'public group' : 'group', count, names && `with ${names}`].filter(Boolean).join(' · ');
  }
  if (room.kind === 'bot') return 'bot';
  const other = others[0];
  if (!other) return 'direct chat';
  return `${other.id} · ${other.online ? 'online' : 'offline'}`;
}

// ---- messages ---------------------------------------------------------------------------

export function clearMessages() {
  byId('message-list').replaceChildren();
  byId('pending').replaceChildren();
  renderTyping([]);
  renderSeen([]);
}

/**
 * One message. `ctx`: `me`; `answerBot(message, actionId)`; the section 11 handlers
 * `reply`, `edit`, `remove`, `react`, `jump(seq)`; `report(message, button)` (section 13);
 * `names(ids)` (the names of mentioned members) and `mayDelete(message)`.
 */
function messageNode(message, ctx) {
  const { me } = ctx;
  const mine = message.sender.id === me.id;
  const kind = message.sender.kind;
  const mentionsMe = (message.mentions || []).includes(me.id);
  let content;
  if (message.deleted) {
    content = [el('p', { class: 'text tombstone' }, 'message deleted')];
  } else if (message.blocked) {
    content = safety.blockedContent();
  } else if (message.template) {
    content = renderTemplate(message.template, message.body, (actionId) => ctx.answerBot(message, actionId));
  } else {
    const text = message.body ? el('p', { class: 'text' }, ...convo.textWithMentions(message.body, ctx.names(message.mentions || []))) : null;
    content = [text, renderFiles(message.files)];
  }
  const allowed = { edit: mine && kind === 'user' && !message.template && !message.blocked, remove: ctx.mayDelete(message), report: !mine };
  const classes = ['msg', mine ? 'mine' : '', `sender-${kind}`, message.template ? 'has-template' : '', message.action ? 'is-action' : '', message.deleted ? 'deleted' : '', message.blocked ? 'blocked' : '', mentionsMe ? 'mentions-me' : ''];
  return el(
    'div',
    {
      class: classes.filter(Boolean).join(' '),
      dataset: { seq: String(message.seq), id: message.id, sender: message.sender.id, ts: message.ts, rev: String(message.rev || 0) },
    },
    mine ? null : avatar(message.sender.name, `msg-avatar kind-${kind}`),
    el(
      'div',
      { class: 'msg-main' },
      el(
        'div',
        { class: 'msg-meta' },
        mine ? null : el('span', { class: 'sender' }, message.sender.name),
        el('time', { datetime: message.ts, title: message.ts }, formatTime(message.ts)),
        message.edited && !message.deleted ? el('span', { class: 'edited', title: `edited ${message.edited}` }, 'edited') : null,
      ),
      el('div', { class: 'bubble' }, message.reply_to ? convo.quote(message.reply_to, ctx.jump) : null, content),
      convo.reactions(message, ctx.react),
      convo.actions(message, allowed, ctx),
    ),
  );
}

/** Puts a message where its seq belongs; the caller made sure it is not there yet. */
export function insertMessage(message, ctx) {
  const list = byId('message-list');
  const node = messageNode(message, ctx);
  const after = [...list.children].find((child) => Number(child.dataset.seq) > message.seq) || null;
  list.insertBefore(node, after);
  markContinuation(node);
  if (node.nextElementSibling) markContinuation(node.nextElementSibling);
}

/** Draws a message again after a change (an edit, a delete, reactions), if it is shown. */
export function replaceMessage(message, ctx) {
  const old = byId('message-list').querySelector(`.msg[data-seq="${message.seq}"]`);
  if (!old) return;
  const node = messageNode(message, ctx);
  old.replaceWith(node);
  markContinuation(node);
}

/** Swaps a message's text for a field to edit it in place: Enter saves, Escape cancels. */
export function beginEdit(message, onSave) {
  const node = byId('message-list').querySelector(`.msg[data-seq="${message.seq}"]`);
  const text = node && node.querySelector('.bubble .text');
  if (!text) return;
  const field = el('textarea', { class: 'edit-field', rows: '2', 'aria-label': 'Edit your message' });
  field.value = message.body;
  const done = () => form.replaceWith(text);
  const save = () => {
    const body = field.value;
    if (!body.trim() || body === message.body) return done();
    onSave(body).then(done, () => field.focus());
  };
  field.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') done();
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      save();
    }
  });
  const form = el(
    'div',
    { class: 'edit-form' },
    field,
    el('div', { class: 'edit-buttons' },
      el('button', { type: 'button', class: 'ghost small', onclick: done }, 'Cancel'),
      el('button', { type: 'button', class: 'primary small edit-save', onclick: save }, 'Save')),
  );
  text.replaceWith(form);
  field.focus();
  field.setSelectionRange(field.value.length, field.value.length);
}

/** Scrolls to a message and marks it for a moment; false when it is not shown. */
export function highlightMessage(seq) {
  const node = byId('message-list').querySelector(`.msg[data-seq="${seq}"]`);
  if (!node) return false;
  node.scrollIntoView({ block: 'center' });
  node.classList.add('flash');
  setTimeout(() => node.classList.remove('flash'), 2000);
  return true;
}

/** The banner above the composer while a reply is being written; null hides it. */
export function showReplying(message) {
  byId('reply-banner').hidden = !message;
  byId('reply-text').textContent = message ? `Replying to ${message.sender.name}: ${convo.excerptOf(message, 80)}` : '';
}

/** Search results in place of the room list; null shows the room list again. */
export function renderSearch(results, roomName, onOpen) {
  const list = byId('search-results');
  list.hidden = results === null;
  byId('room-list').hidden = results !== null;
  byId('no-rooms').hidden = results !== null || byId('room-list').children.length > 0;
  if (results === null) {
    list.replaceChildren();
    return;
  }
  list.replaceChildren(
    ...(results.length === 0
      ? [el('li', { class: 'no-results' }, 'Nothing found.')]
      : results.map((message) =>
          el(
            'li',
            {},
            el(
              'button',
              { type: 'button', class: 'search-result', dataset: { room: message.room, seq: String(message.seq) }, onclick: () => onOpen(message) },
              el('span', { class: 'result-room' }, roomName(message.room)),
              el('span', { class: 'result-text' }, `${message.sender.name}: ${convo.excerptOf(message, 120)}`),
              el('time', { datetime: message.ts }, formatTime(message.ts)),
            ),
          ),
        )),
  );
}

/**
 * Greys out, and makes unclickable, the buttons of the messages `isLive(id)` says no to (a
 * state the conversation has left: the bot would only answer them with its fallback).
 */
export function setLiveButtons(isLive) {
  for (const node of byId('message-list').querySelectorAll('.msg.has-template')) {
    const used = !isLive(node.dataset.id);
    node.classList.toggle('used', used);
    for (const button of node.querySelectorAll('button[data-action]')) {
      button.disabled = used;
      button.title = used ? 'Already answered' : '';
    }
  }
}

/** A message right after another of the same sender, soon after, hides its name and avatar. */
function markContinuation(node) {
  const previous = node.previousElementSibling;
  const gap = previous ? Date.parse(node.dataset.ts) - Date.parse(previous.dataset.ts) : Infinity;
  const sameSender = previous && previous.dataset.sender === node.dataset.sender;
  node.classList.toggle('cont', Boolean(sameSender && gap < GROUPING_MS));
}

export function renderPending(items) {
  byId('pending').replaceChildren(
    ...items.map((item) =>
      el(
        'div',
        { class: 'msg mine pending', dataset: { client: item.clientMsgId } },
        el(
          'div',
          { class: 'msg-main' },
          el('div', { class: 'msg-meta' }, el('time', {}, 'sending…')),
          el(
            'div',
            { class: 'bubble' },
            item.body ? el('p', { class: 'text' }, item.body) : null,
            item.files.length ? el('p', { class: 'text' }, item.files.map((file) => file.name).join('\n')) : null,
          ),
        ),
      ),
    ),
  );
}

export function setOlderState(timeline) {
  const node = byId('older');
  if (timeline.loadingOlder) node.textContent = 'Loading earlier messages…';
  else if (timeline.hasOlder) node.textContent = '';
  else node.textContent = timeline.bySeq.size > 0 ? 'This is the beginning of the conversation.' : 'No messages yet. Say hello!';
  node.dataset.state = timeline.loadingOlder ? 'loading' : timeline.hasOlder ? 'more' : 'start';
}

export function renderTyping(names) {
  const node = byId('typing');
  if (names.length === 0) node.textContent = '';
  else if (names.length === 1) node.textContent = `${names[0]} is typing…`;
  else node.textContent = `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`;
}

export function renderSeen(names) {
  byId('seen').textContent = names.length ? `Seen by ${names.join(', ')}` : '';
}

// ---- scrolling --------------------------------------------------------------------------

function scroller() {
  return byId('scroller');
}

export function isNearBottom() {
  const node = scroller();
  return node.scrollHeight - node.scrollTop - node.clientHeight < NEAR_BOTTOM_PX;
}

/** The view is held at the bottom: it follows when what is shown grows or shrinks. */
let pinned = true;
let lastTop = 0;

export function scrollToBottom() {
  const node = scroller();
  node.scrollTop = node.scrollHeight;
  pinned = true;
  lastTop = node.scrollTop;
}

/**
 * Keeps the view at the bottom once it is there: a picture that loads after the room was
 * drawn (a bot's image has no size until then), quick replies, the composer growing or the
 * window resizing change the heights without a scroll, and would leave the newest message
 * below the fold. Scrolling up lets go; scrolling back to the bottom holds it again.
 */
export function followBottom() {
  const node = scroller();
  node.addEventListener(
    'scroll',
    () => {
      const atBottom = node.scrollHeight - node.scrollTop - node.clientHeight <= 2;
      if (atBottom) pinned = true;
      else if (node.scrollTop < lastTop) pinned = false;
      lastTop = node.scrollTop;
    },
    { passive: true },
  );
  const follow = new ResizeObserver(() => {
    if (pinned && node.scrollHeight - node.scrollTop - node.clientHeight > 0) scrollToBottom();
  });
  for (const watched of [node, byId('message-list'), byId('pending')]) follow.observe(watched);
}

export function isNearTop() {
  return scroller().scrollTop < 200;
}

/** The viewport is not full yet: older messages could be loaded without scrolling. */
export function hasRoomAbove() {
  const node = scroller();
  return node.scrollHeight <= node.clientHeight + 200;
}

/** Runs `change` (which adds messages above) and keeps what the user looks at in place. */
export function keepPosition(change) {
  const node = scroller();
  const fromBottom = node.scrollHeight - node.scrollTop;
  change();
  node.scrollTop = node.scrollHeight - fromBottom;
}

/** The newest message is at least partly on screen. */
export function newestVisible() {
  const newest = byId('message-list').lastElementChild;
  if (!newest) return false;
  const box = scroller().getBoundingClientRect();
  const rect = newest.getBoundingClientRect();
  return rect.bottom > box.top && rect.top < box.bottom && box.height > 0;
}
