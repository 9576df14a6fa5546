// mentions.js: @mentions in the composer. Typing `@` and the start of a member's name shows
// the room's members whose name starts so (at most five, never yourself); a click, Enter or
// Tab puts `@name ` in the text. On sending, the members whose `@name` is still in the text
// are the message's `mentions` (at most 20, as the protocol allows).

import { el } from './dom.js';

const SHOWN = 5;
export const MAX_MENTIONS = 20;

export class Mentions {
  /**
   * @param {HTMLTextAreaElement} field the composer
   * @param {HTMLElement} list an empty <ul> for the suggestions
   * @param {() => Array<{id: string, name: string}>} members the open room's members but me
   */
  constructor(field, list, members) {
    Object.assign(this, { field, list, members });
    this.shown = [];
    this.active = 0;
    field.addEventListener('input', () => this.refresh());
    field.addEventListener('click', () => this.refresh());
    field.addEventListener('blur', () => setTimeout(() => this.close(), 150));
    // Capture: the suggestions take Enter before the composer sends.
    field.addEventListener('keydown', (event) => this.onKey(event), true);
    list.setAttribute('role', 'listbox');
    this.close();
  }

  /** The `@prefix` right before the caret, or null. */
  typed() {
    const before = this.field.value.slice(0, this.field.selectionStart);
    const match = /(^|\s)@([\p{L}\p{N}_.-]*)$/u.exec(before);
    return match ? { prefix: match[2], start: before.length - match[2].length - 1 } : null;
  }

  refresh() {
    const typed = this.typed();
    if (!typed) return this.close();
    const prefix = typed.prefix.toLowerCase();
    this.shown = this.members()
      .filter((member) => member.name.toLowerCase().startsWith(prefix))
      .sort((a, b) => a.name.localeCompare(b.name))
      .slice(0, SHOWN);
    this.active = 0;
    this.render();
  }

  render() {
    this.list.replaceChildren(
      ...this.shown.map((member, index) =>
        el(
          'li',
          { role: 'option', 'aria-selected': String(index === this.active) },
          el(
            'button',
            {
              type: 'button',
              class: 'mention-suggestion',
              tabindex: '-1',
              dataset: { user: member.id },
              onmousedown: (event) => {
                event.preventDefault();
                this.pick(member);
              },
            },
            `@${member.name}`,
          ),
        ),
      ),
    );
    this.list.hidden = this.shown.length === 0;
  }

  onKey(event) {
    if (this.list.hidden) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      this.close();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.shown.length) % this.shown.length;
      this.render();
    } else if ((event.key === 'Enter' || event.key === 'Tab') && !event.shiftKey) {
      event.preventDefault();
      event.stopImmediatePropagation();
      this.pick(this.shown[this.active]);
    }
  }

  /** Replaces the typed `@prefix` with `@name `. */
  pick(member) {
    const typed = this.typed();
    if (!typed || !member) return this.close();
    const { value } = this.field;
    const end = this.field.selectionStart;
    const inserted = `@${member.name} `;
    this.field.value = value.slice(0, typed.start) + inserted + value.slice(end);
    const caret = typed.start + inserted.length;
    this.field.setSelectionRange(caret, caret);
    this.field.dispatchEvent(new Event('input'));
    this.close();
  }

  close() {
    this.shown = [];
    this.list.hidden = true;
    this.list.replaceChildren();
  }
}

/** The ids of the members whose `@name` is in `body`, at most [`MAX_MENTIONS`]. */
export function mentionedIn(body, members) {
  return members
    .filter((member) => new RegExp(`@${escape(member.name)}(?![\\p{L}\\p{N}_])`, 'u').test(body))
    .map((member) => member.id)
    .slice(0, MAX_MENTIONS);
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
