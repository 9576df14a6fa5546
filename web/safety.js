// safety.js: what the web client shows of protocol section 13 for a user: a message from
// someone they block (its content left out by the server), the Report form under a message
// (a reason and an optional note), and the Block / Unblock button of a person in the
// Members panel.

import { el } from './dom.js';

/** The reasons a user may give (`rule` is only the server's own). */
export const REPORT_REASONS = [
  ['abuse', 'Bullying or abuse'],
  ['sexual', 'Sexual content'],
  ['self_harm', 'Self-harm'],
  ['spam', 'Spam'],
  ['other', 'Something else'],
];
const MAX_NOTE_CHARS = 1000;

/** The content of a message whose sender the user blocks. */
export function blockedContent() {
  return [el('p', { class: 'text tombstone blocked-note' }, 'message from someone you blocked')];
}

/**
 * An inline form to report `message`, put in place of `anchor` until it is sent or
 * cancelled. `onSend(reason, note)` returns a promise; the form stays open if it fails.
 */
export function openReportForm(anchor, message, onSend) {
  const reason = el(
    'select',
    { class: 'report-reason', 'aria-label': 'Why are you reporting this message?' },
    ...REPORT_REASONS.map(([value, label]) => el('option', { value }, label)),
  );
  const note = el('textarea', {
    class: 'report-note',
    rows: '2',
    maxlength: String(MAX_NOTE_CHARS),
    placeholder: 'Anything the moderators should know (optional)',
    'aria-label': 'Note for the moderators',
  });
  const close = () => form.replaceWith(anchor);
  const send = el('button', { type: 'button', class: 'primary small report-send' }, 'Send report');
  send.onclick = () => {
    send.disabled = true;
    onSend(reason.value, note.value.trim() || null).then(close, () => {
      send.disabled = false;
    });
  };
  const form = el(
    'div',
    { class: 'report-form', role: 'group', 'aria-label': `Report ${message.sender.name}'s message` },
    el('p', { class: 'report-title' }, 'Report this message to the moderators'),
    reason,
    note,
    el('div', { class: 'edit-buttons' },
      el('button', { type: 'button', class: 'ghost small', onclick: close }, 'Cancel'),
      send),
  );
  anchor.replaceWith(form);
  reason.focus();
}

/** The Block / Unblock button of a member (not shown for oneself or a bot). */
export function blockButton(user, blocked, onToggle) {
  return el(
    'button',
    {
      type: 'button',
      class: `ghost small block-toggle${blocked ? '' : ' danger'}`,
      dataset: { blocked: String(blocked) },
      'aria-label': `${blocked ? 'Unblock' : 'Block'} ${user.name}`,
      title: blocked ? 'Show their messages and let them write to you again' : 'Hide their messages and stop them writing to you',
      onclick: () => onToggle(user, !blocked),
    },
    blocked ? 'Unblock' : 'Block',
  );
}
