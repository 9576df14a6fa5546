// templates.js: renders a bot message's template (docs/protocol.md section 6) as real buttons,
// quick replies, cards, carousels and images. `act(id, button)` is called when the user
// clicks a button or a quick reply; it returns a promise, and the button stays disabled
// until it settles. An unknown or malformed template falls back to the plain body. A message
// whose buttons are used (a state the bot has left) shows them greyed and not clickable.

import { el, safeImageUrl } from './dom.js';

export function renderTemplate(template, body, act) {
  const render = RENDERERS[template && template.kind];
  const node = render ? render(template, act) : null;
  return node || el('p', { class: 'text' }, body || '');
}

const RENDERERS = {
  text: (t) => textBlock(t.text),
  buttons: (t, act) => el('div', { class: 'tpl tpl-buttons' }, textBlock(t.text), buttonRow(t.buttons, act)),
  quick_replies: (t, act) =>
    el('div', { class: 'tpl tpl-quick' }, textBlock(t.text), quickReplies(t.replies, act)),
  card: (t, act) => card(t, act),
  carousel: (t, act) => carousel(t.cards, act),
  image: (t) => image(t.url, t.alt, 'tpl-image'),
};

/** Whether a template offers something to press: buttons (also on cards) or quick replies. */
export function offersChoices(template) {
  if (!template || typeof template !== 'object') return false;
  if (template.kind === 'buttons' || template.kind === 'card') return list(template.buttons).length > 0;
  if (template.kind === 'quick_replies') return list(template.replies).length > 0;
  if (template.kind === 'carousel') return list(template.cards).some((item) => list(item.buttons).length > 0);
  return false;
}

function textBlock(text) {
  return typeof text === 'string' && text !== '' ? el('p', { class: 'text' }, text) : null;
}

function list(value) {
  return Array.isArray(value) ? value.filter((item) => item && typeof item === 'object') : [];
}

function actionButton(item, className, act) {
  const button = el('button', { type: 'button', class: className, dataset: { action: item.id } }, item.label);
  button.addEventListener('click', () => {
    button.disabled = true;
    Promise.resolve(act(String(item.id), button)).finally(() => {
      button.disabled = Boolean(button.closest('.used'));
    });
  });
  return button;
}

function buttonRow(buttons, act) {
  const items = list(buttons);
  if (items.length === 0) return null;
  return el('div', { class: 'tpl-button-row' }, items.map((item) => actionButton(item, 'tpl-button', act)));
}

/** Shown only under the newest message of the room (see style.css). */
function quickReplies(replies, act) {
  const items = list(replies);
  if (items.length === 0) return null;
  return el('div', { class: 'quick-replies' }, items.map((item) => actionButton(item, 'quick-reply', act)));
}

function image(url, alt, className) {
  const src = safeImageUrl(url);
  if (!src) return null;
  return el('img', { class: className, src, alt: alt || '', loading: 'lazy' });
}

function card(t, act) {
  if (!t || typeof t !== 'object') return null;
  return el(
    'article',
    { class: 'tpl tpl-card' },
    image(t.image_url, t.title, 'tpl-card-image'),
    el(
      'div',
      { class: 'tpl-card-body' },
      t.title ? el('h4', { class: 'tpl-card-title' }, t.title) : null,
      textBlock(t.text),
    ),
    buttonRow(t.buttons, act),
  );
}

function carousel(cards, act) {
  const items = list(cards).map((item) => card(item, act));
  if (items.length === 0) return null;
  return el('div', { class: 'tpl tpl-carousel', role: 'list' }, items);
}
