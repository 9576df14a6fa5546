// conversation.js: what a message shows and offers beyond its text (protocol section 11):
// the quote of the message it answers (a click jumps to it), "edited", the tombstone of a
// deleted message, @mentions, the reactions under it (yours highlighted; a click toggles),
// and its actions: Reply, React (a few emojis), Edit (your own), Delete (your own; in a
// group the owner's too, in two clicks), Report (others', section 13: `safety.js`).

import { el } from './dom.js';

/** The emojis the React picker offers. */
export const QUICK_EMOJIS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const DELETE_CONFIRM_MS = 4000;

/**
 * The text of a body with each `@name` of a mentioned member marked, as nodes. `names` are
 * the names the message mentions (looked up by the caller from its ids).
 */
export function textWithMentions(body, names) {
  if (names.length === 0) return [body];
  const escaped = names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`@(${escaped.join('|')})(?![\\p{L}\\p{N}_])`, 'gu');
  const parts = [];
  let at = 0;
  for (const match of body.matchAll(pattern)) {
    if (match.index > at) parts.push(body.slice(at, match.index));
    parts.push(el('span', { class: 'mention' }, match[0]));
    at = match.index + match[0].length;
  }
  if (at < body.length) parts.push(body.slice(at));
  return parts;
}

/** The quote above a reply: who and what it answers; a click asks to go there. */
export function quote(replyTo, onJump) {
  return el(
    'button',
    {
      type: 'button',
      class: 'quote',
      dataset: { seq: String(replyTo.seq) },
      title: 'Show the message this answers',
      onclick: () => onJump(replyTo.seq),
    },
    el('span', { class: 'quote-sender' }, replyTo.sender.name),
    el('span', { class: 'quote-text' }, replyTo.excerpt || 'message deleted'),
  );
}

/** The reactions row: one chip per emoji with its count; mine highlighted; a click toggles. */
export function reactions(message, onReact) {
  if (!message.reactions || message.reactions.length === 0) return null;
  return el(
    'div',
    { class: 'reactions' },
    ...message.reactions.map((reaction) =>
      el(
        'button',
        {
          type: 'button',
          class: `reaction${reaction.me ? ' me' : ''}`,
          dataset: { emoji: reaction.emoji },
          'aria-pressed': String(reaction.me),
          title: reaction.me ? 'Take your reaction back' : 'React the same',
          onclick: () => onReact(message, reaction.emoji, !reaction.me),
        },
        `${reaction.emoji} ${reaction.count}`,
      ),
    ),
  );
}

/**
 * The actions of a message, shown on hover (and always on touch screens): Reply, React,
 * and Edit / Delete where `allowed` says so. Nothing for a deleted message.
 */
export function actions(message, allowed, handlers) {
  if (message.deleted) return null;
  const report = el('button', { type: 'button', class: 'act act-report' }, 'Report');
  report.onclick = () => handlers.report(message, report);
  // A message of someone the user blocks offers nothing but a report.
  if (message.blocked) return el('div', { class: 'msg-actions' }, allowed.report ? report : null);
  const picker = el(
    'span',
    { class: 'emoji-picker', hidden: true },
    ...QUICK_EMOJIS.map((emoji) =>
      el(
        'button',
        {
          type: 'button',
          class: 'emoji',
          dataset: { emoji },
          onclick: () => {
            picker.hidden = true;
            const mine = (message.reactions || []).some((reaction) => reaction.emoji === emoji && reaction.me);
            handlers.react(message, emoji, !mine);
          },
        },
        emoji,
      ),
    ),
  );
  const remove = el('button', { type: 'button', class: 'act act-delete' }, 'Delete');
  let armed = null;
  remove.onclick = () => {
    if (armed) {
      clearTimeout(armed);
      handlers.remove(message);
      return;
    }
    remove.textContent = 'Delete for everyone?';
    remove.classList.add('armed');
    armed = setTimeout(() => {
      armed = null;
      remove.textContent = 'Delete';
      remove.classList.remove('armed');
    }, DELETE_CONFIRM_MS);
  };
  return el(
    'div',
    { class: 'msg-actions' },
    el('button', { type: 'button', class: 'act act-reply', onclick: () => handlers.reply(message) }, 'Reply'),
    el('button', { type: 'button', class: 'act act-react', onclick: () => (picker.hidden = !picker.hidden) }, 'React'),
    picker,
    allowed.edit ? el('button', { type: 'button', class: 'act act-edit', onclick: () => handlers.edit(message) }, 'Edit') : null,
    allowed.remove ? remove : null,
    allowed.report ? report : null,
  );
}

/** The first line of a message as a reply banner or a search result shows it. */
export function excerptOf(message, length = 100) {
  if (message.deleted) return 'message deleted';
  const text = message.body || (message.files || []).map((file) => file.name).join(', ');
  return [...text].slice(0, length).join('');
}
