// people.js: finding people (and bots) by name. A Picker turns a text field into a search of
// the server's directory (`users`, docs/protocol.md section 10): as the user types, it shows
// the matching names under the field; a click, or the arrow keys and Enter, picks one. A name
// typed in full (any case) or an id (`u_12`, `mathbot`) is taken without picking.

import { el, hue, initials } from './dom.js';

const SUGGESTIONS = 8;
const DEBOUNCE_MS = 120;
const ID_PATTERN = /^u_\d+$/;

export class Picker {
  /**
   * @param {HTMLInputElement} input the field the user types a name in
   * @param {HTMLElement} list an empty <ul> shown under it for the suggestions
   * @param {object} options
   *   search(query, limit) -> Promise<{users}>, the `users` command;
   *   kinds: the kinds offered (['user'] or ['bot']);
   *   exclude() -> Set of ids not to offer (yourself, members already in);
   *   onPick(user): a suggestion was chosen.
   */
  constructor(input, list, { search, kinds, exclude = () => new Set(), onPick }) {
    Object.assign(this, { input, list, search, kinds, exclude, onPick });
    this.shown = [];
    this.active = -1;
    this.asked = 0;
    this.timer = null;
    list.setAttribute('role', 'listbox');
    input.setAttribute('autocomplete', 'off');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', list.id);
    input.addEventListener('input', () => this.schedule());
    input.addEventListener('focus', () => this.schedule());
    input.addEventListener('keydown', (event) => this.onKey(event));
    input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
    this.close();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh().catch(() => this.close()), DEBOUNCE_MS);
  }

  /** Asks the directory for the typed prefix; an answer to an older question is dropped. */
  async refresh() {
    const query = this.input.value.trimStart();
    const asked = ++this.asked;
    if (!query) {
      this.close();
      return;
    }
    const users = await this.find(query);
    if (asked !== this.asked || document.activeElement !== this.input) return;
    this.render(users);
  }

  /** The offered entries whose name starts with `query`. */
  async find(query) {
    const { users } = await this.search(query, SUGGESTIONS + this.exclude().size);
    const excluded = this.exclude();
    return users.filter((user) => this.kinds.includes(user.kind) && !excluded.has(user.id)).slice(0, SUGGESTIONS);
  }

  render(users) {
    this.shown = users;
    this.active = users.length > 0 ? 0 : -1;
    this.list.replaceChildren(
      ...users.map((user, index) =>
        el(
          'li',
          { role: 'option', id: `${this.list.id}-${index}`, 'aria-selected': String(index === this.active) },
          el(
            'button',
            {
              type: 'button',
              class: 'suggestion',
              tabindex: '-1',
              dataset: { user: user.id },
              // mousedown, not click: the field's blur must not close the list first.
              onmousedown: (event) => {
                event.preventDefault();
                this.pick(user);
              },
            },
            badge(user.name),
            el('span', { class: 'suggestion-name' }, user.name),
            el('span', { class: 'suggestion-id' }, user.kind === 'bot' ? `bot · ${user.id}` : user.id),
          ),
        ),
      ),
    );
    this.list.hidden = users.length === 0;
    this.input.setAttribute('aria-expanded', String(users.length > 0));
  }

  onKey(event) {
    if (event.key === 'Escape') {
      this.close();
      return;
    }
    if (this.list.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.shown.length) % this.shown.length;
      [...this.list.children].forEach((item, index) => item.setAttribute('aria-selected', String(index === this.active)));
    } else if (event.key === 'Enter' && this.active >= 0) {
      event.preventDefault();
      this.pick(this.shown[this.active]);
    }
  }

  pick(user) {
    this.close();
    this.input.value = '';
    this.onPick(user);
  }

  close() {
    clearTimeout(this.timer);
    this.asked += 1;
    this.shown = [];
    this.active = -1;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.input.setAttribute('aria-expanded', 'false');
  }

  /**
   * The entry the typed text names without a pick: a name in full (any case), else the text
   * as an id. Null when nothing was typed; an Error saying so when no one has that name.
   */
  async resolve() {
    const text = this.input.value.trim();
    if (!text) return null;
    const exact = (await this.find(text)).filter((user) => user.name.toLowerCase() === text.toLowerCase());
    if (exact.length === 1) return exact[0];
    if (exact.length > 1) throw new Error(`More than one is called “${text}”: pick one from the list.`);
    if (ID_PATTERN.test(text) || (this.kinds.includes('bot') && !/\s/.test(text))) return { id: text, name: text };
    throw new Error(`No one called “${text}” was found.`);
  }
}

function badge(name) {
  const node = el('span', { class: 'avatar tiny', 'aria-hidden': 'true' }, initials(name));
  node.style.setProperty('--hue', hue(name));
  return node;
}

/** The chips of the people chosen for a new group, each with a button that removes it. */
export class Chips {
  constructor(container) {
    this.container = container;
    this.chosen = new Map();
  }

  add(user) {
    this.chosen.set(user.id, user);
    this.render();
  }

  ids() {
    return [...this.chosen.keys()];
  }

  clear() {
    this.chosen.clear();
    this.render();
  }

  render() {
    this.container.replaceChildren(
      ...[...this.chosen.values()].map((user) =>
        el(
          'span',
          { class: 'chip', dataset: { user: user.id } },
          user.name,
          el('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove ${user.name}`, onclick: () => this.remove(user.id) }, '×'),
        ),
      ),
    );
    this.container.hidden = this.chosen.size === 0;
  }

  remove(id) {
    this.chosen.delete(id);
    this.render();
  }
}
