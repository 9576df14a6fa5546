// files.js: files in the web client: uploading one over HTTP with progress (POST /files),
// the tray of attachments under the composer (attach button, paste, drag and drop), and how
// a message's files are drawn: image thumbnails that open full size, other files as a named
// download link with their size. URLs carry the token in `?token=` (an <img> cannot send a
// header); the server answers them only to people allowed to see the file.

import { byId, el } from './dom.js';

let token = null;

export function setFileToken(value) {
  token = value;
}

/** The URL of a file's bytes, or of its thumbnail. */
export function fileUrl(file, thumbnail = false) {
  const path = `/files/${encodeURIComponent(file.id)}${thumbnail ? '/thumbnail' : ''}`;
  return `${path}?token=${encodeURIComponent(token || '')}`;
}

/** "183 KB", "2.4 MB", "512 bytes". */
export function formatSize(bytes) {
  if (bytes < 1000) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * Uploads a File; resolves with the server's File object. `onProgress(fraction)` is called
 * as the bytes go out. XMLHttpRequest, because fetch() reports no upload progress.
 */
export function upload(file, onProgress) {
  return inTurn(() => send(file, onProgress));
}

/** Uploads at once; the server refuses a user's fifth (`--uploads-at-once`, default 4). */
const AT_ONCE = 4;
let running = 0;
const waiting = [];

/** Runs `start` (which returns a promise) when fewer than AT_ONCE run; the rest queue. */
function inTurn(start) {
  return new Promise((resolve, reject) => {
    const run = () => {
      running += 1;
      start().then(resolve, reject).finally(() => {
        running -= 1;
        const next = waiting.shift();
        if (next) next();
      });
    };
    if (running < AT_ONCE) run();
    else waiting.push(run);
  });
}

function send(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const name = file.name || 'pasted';
    xhr.open('POST', `/files?name=${encodeURIComponent(name)}`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 201 && xhr.response && xhr.response.file) resolve(xhr.response.file);
      else {
        const error = (xhr.response && xhr.response.error) || {};
        reject(Object.assign(new Error(error.message || `upload failed (${xhr.status})`), { code: error.code || 'upload' }));
      }
    });
    xhr.addEventListener('error', () => reject(Object.assign(new Error('the upload did not reach the server'), { code: 'disconnected' })));
    xhr.send(file);
  });
}

// ---- a message's files -------------------------------------------------------------------

/** The nodes for a message's files (none for `[]`). */
export function renderFiles(files) {
  if (!files || files.length === 0) return null;
  return el('div', { class: 'files' }, files.map((file) => (file.thumbnail ? imageTile(file) : downloadLink(file))));
}

function imageTile(file) {
  return el(
    'a',
    {
      class: 'file-image',
      href: fileUrl(file),
      title: file.name,
      onclick: (event) => {
        event.preventDefault();
        openFullSize(file);
      },
    },
    // width and height give the box its shape before the thumbnail arrives.
    el('img', { src: fileUrl(file, true), alt: file.name, loading: 'lazy', width: file.width, height: file.height }),
  );
}

function downloadLink(file) {
  return el(
    'a',
    { class: 'file-link', href: fileUrl(file), download: file.name },
    documentIcon(),
    el('span', { class: 'file-name' }, file.name),
    el('span', { class: 'file-size' }, formatSize(file.size)),
  );
}

/** A sheet with a folded corner, drawn as SVG (no icon font, no emoji font needed). */
function documentIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon file-icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5');
  svg.append(path);
  return svg;
}

/** The image at full size over the page; a click or Escape closes it. */
export function openFullSize(file) {
  const viewer = byId('viewer');
  const image = byId('viewer-image');
  image.src = fileUrl(file);
  image.alt = file.name;
  byId('viewer-name').textContent = file.name;
  byId('viewer-download').href = fileUrl(file);
  byId('viewer-download').setAttribute('download', file.name);
  viewer.hidden = false;
}

export function closeFullSize() {
  byId('viewer').hidden = true;
  byId('viewer-image').removeAttribute('src');
}

// ---- the tray of attachments under the composer -----------------------------------------

/** At most this many files in one message (the server's limit). */
export const MAX_FILES = 10;

/**
 * Attachments being uploaded or ready to send. Each is {local, file, progress, failed,
 * done}; `done` is a promise of the server's File.
 */
export class Tray {
  constructor(onError) {
    this.items = [];
    this.onError = onError;
  }

  add(localFiles) {
    for (const local of localFiles) {
      if (this.items.length >= MAX_FILES) {
        this.onError(new Error(`at most ${MAX_FILES} files in one message`));
        break;
      }
      const item = { local, file: null, progress: 0, failed: false };
      item.done = upload(local, (fraction) => {
        item.progress = fraction;
        this.render();
      }).then(
        (file) => {
          item.file = file;
          item.progress = 1;
          this.render();
          return file;
        },
        (error) => {
          this.remove(item);
          this.onError(error);
          return null;
        },
      );
      this.items.push(item);
    }
    this.render();
  }

  remove(item) {
    this.items = this.items.filter((other) => other !== item);
    this.render();
  }

  isEmpty() {
    return this.items.length === 0;
  }

  /** Waits for every upload; returns the Files that made it and empties the tray. */
  async take() {
    const items = this.items;
    this.items = [];
    this.render();
    const files = await Promise.all(items.map((item) => item.done));
    return files.filter(Boolean);
  }

  render() {
    const tray = byId('tray');
    tray.hidden = this.items.length === 0;
    tray.replaceChildren(
      ...this.items.map((item) =>
        el(
          'div',
          { class: `attachment${item.file ? ' uploaded' : ''}` },
          el('span', { class: 'file-name' }, item.local.name || 'pasted'),
          el('span', { class: 'file-size' }, formatSize(item.local.size)),
          el('progress', { max: '1', value: String(item.progress), 'aria-label': `uploading ${item.local.name || 'pasted'}` }),
          el('button', { type: 'button', class: 'ghost small remove', 'aria-label': 'Remove', onclick: () => this.remove(item) }, '×'),
        ),
      ),
    );
  }
}

/** Files from a paste or a drop (images copied from a page or a screenshot tool included). */
export function filesOf(dataTransfer) {
  if (!dataTransfer) return [];
  const files = [...(dataTransfer.files || [])];
  if (files.length > 0) return files;
  return [...(dataTransfer.items || [])]
    .filter((item) => item.kind === 'file')
    .map((item) => item.getAsFile())
    .filter(Boolean);
}
