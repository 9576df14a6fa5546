// dom.js: small helpers to build DOM nodes and format values for display.
// Text always goes in through textContent, never as HTML, so no message can inject markup.

/** Builds an element: el('button', {class: 'x', onclick: fn}, 'label', childNode). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The element with this id (they all exist in index.html). */
export function byId(id) {
  return document.getElementById(id);
}

/** Up to two letters for an avatar: "algebra study" -> "AS". */
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[1][0] : (words[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

/** A stable hue for a name, so each person's avatar keeps its colour. */
export function hue(text) {
  let hash = 2166136261;
  for (const char of String(text)) hash = Math.imul(hash ^ char.codePointAt(0), 16777619) >>> 0;
  return Math.round((hash % 1000) * 137.508) % 360;
}

/** "09:15" today, "Mon 09:15" this week, "24 Nov 09:15" before. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const ageDays = (Date.now() - date.getTime()) / 86400000;
  if (ageDays < 1 && new Date().getDate() === date.getDate()) return time;
  if (ageDays < 7) return `${date.toLocaleDateString([], { weekday: 'short' })} ${time}`;
  return `${date.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

/** An http(s) or data:image URL that an <img> may load, or null. */
export function safeImageUrl(url) {
  if (typeof url !== 'string') return null;
  try {
    const parsed = new URL(url, location.href);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed.href;
    if (parsed.protocol === 'data:' && /^data:image\//i.test(url)) return url;
  } catch {
    return null;
  }
  return null;
}
