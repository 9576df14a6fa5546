// moderation.js: the moderators' page (admin.html, GET /admin/). With the admin token
// (entered once, kept in sessionStorage for the tab) it lists reports (open or resolved,
// page by page) with the message as reported and the messages around it in its room,
// resolves them (dismiss, delete the message, deactivate its sender, with a note), edits the
// content rules as JSON (a refused set shows the server's reason and changes nothing), and
// shows the audit log, newest first. Everything goes through the admin API (protocol
// sections 7 and 13); nothing here is trusted by the server.

import { byId, el, formatTime } from './dom.js';

const TOKEN_KEY = 'palaver-admin-token';
const PAGE = 20;
/** Messages shown before and after the reported one. */
const CONTEXT = 3;

const state = { token: sessionStorage.getItem(TOKEN_KEY), reportsNext: null, auditNext: null };

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function toast(text) {
  const node = byId('toast');
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (node.hidden = true), 5000);
}

function failed(error) {
  if (error.status === 401) return signOut('That token was not accepted.');
  toast(`Did not work: ${error.message}`);
}

// ---- signing in ---------------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  try {
    await api('GET', '/admin/rules');
  } catch (error) {
    return signOut(error.status === 401 ? 'That token was not accepted.' : error.message);
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  byId('admin-signin').hidden = true;
  byId('admin-app').hidden = false;
  showTab('reports');
}

function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  byId('admin-app').hidden = true;
  byId('admin-signin').hidden = false;
  byId('admin-signin-error').textContent = message;
}

function showTab(name) {
  for (const button of document.querySelectorAll('.admin-tabs [data-tab]')) {
    button.setAttribute('aria-pressed', String(button.dataset.tab === name));
  }
  for (const tab of ['reports', 'rules', 'audit']) byId(`tab-${tab}`).hidden = tab !== name;
  const load = { reports: () => loadReports(true), rules: loadRules, audit: () => loadAudit(true) }[name];
  load().catch(failed);
}

// ---- reports ------------------------------------------------------------------------

async function loadReports(fresh) {
  const status = byId('report-status').value;
  const after = fresh ? '' : `&after=${encodeURIComponent(state.reportsNext)}`;
  const page = await api('GET', `/admin/reports?status=${status}&limit=${PAGE}${after}`);
  const list = byId('report-list');
  if (fresh) list.replaceChildren();
  for (const report of page.reports) list.append(reportNode(report));
  state.reportsNext = page.next;
  byId('reports-more').hidden = !page.next;
  byId('reports-empty').hidden = list.children.length > 0;
}

function who(user) {
  return user ? `${user.name} (${user.id})` : 'a content rule';
}

function reportNode(report) {
  const message = report.message;
  const context = el('ol', { class: 'report-context', 'aria-label': 'Around the reported message' });
  const node = el(
    'li',
    { class: 'report-card', dataset: { report: report.id, status: report.status } },
    el('div', { class: 'report-head' },
      el('strong', { class: 'report-reason' }, report.reason),
      el('span', { class: 'hint' }, ` by ${who(report.reporter)} · ${report.room} · ${formatTime(report.created)}`)),
    report.note ? el('p', { class: 'report-note-text' }, `“${report.note}”`) : null,
    el('div', { class: 'reported-message' },
      el('div', { class: 'hint' }, `${message.sender.name} (${message.sender.id}) wrote, as reported:`),
      el('p', { class: 'reported-body' }, message.body || (message.deleted ? 'message deleted' : '(no text)'))),
    el('details', { class: 'report-around' }, el('summary', {}, 'What was said around it'), context),
    report.resolution ? resolutionNode(report.resolution) : resolveForm(report),
  );
  node.querySelector('details').addEventListener('toggle', () => loadContext(report, context).catch(failed), { once: true });
  return node;
}

/** The messages just before and after the reported one, as the room has them now. */
async function loadContext(report, list) {
  const seq = report.message.seq;
  const page = await api('GET', `/admin/rooms/${report.room}/messages?before_seq=${seq + CONTEXT + 1}&limit=${2 * CONTEXT + 1}`);
  list.replaceChildren(
    ...page.messages.map((message) =>
      el('li', { class: `context-message${message.seq === seq ? ' reported' : ''}`, dataset: { seq: String(message.seq) } },
        el('span', { class: 'context-sender' }, `${message.sender.name}: `),
        message.deleted ? el('em', {}, 'message deleted') : message.body),
    ),
  );
}

function resolutionNode(resolution) {
  return el('p', { class: 'report-resolution hint' },
    `Resolved: ${resolution.action}${resolution.note ? ` (“${resolution.note}”)` : ''} · ${formatTime(resolution.at)}`);
}

function resolveForm(report) {
  const note = el('input', { class: 'resolve-note', placeholder: 'Note for the audit log (optional)', 'aria-label': 'Note' });
  const act = (action) => async () => {
    try {
      await api('POST', `/admin/reports/${report.id}/resolve`, { action, ...(note.value.trim() ? { note: note.value.trim() } : {}) });
      toast(`Report ${report.id} resolved: ${action}.`);
      await loadReports(true);
    } catch (error) {
      failed(error);
    }
  };
  const button = (action, label, danger) =>
    el('button', { type: 'button', class: `small ${danger ? 'danger ghost' : 'ghost'} resolve-${action}`, onclick: act(action) }, label);
  return el('div', { class: 'resolve-form' },
    note,
    button('dismiss', 'Dismiss'),
    button('delete_message', 'Delete message', true),
    report.message.sender.kind === 'user' ? button('deactivate_sender', 'Deactivate sender', true) : null);
}

// ---- rules --------------------------------------------------------------------------

async function loadRules() {
  const data = await api('GET', '/admin/rules');
  byId('rules-text').value = JSON.stringify(data.rules, null, 2);
  byId('builtin-list').replaceChildren(
    ...data.builtins.map((builtin) => el('li', {}, el('code', {}, builtin.id), ` ${builtin.description}`)),
  );
  byId('rules-status').textContent = '';
}

async function saveRules() {
  let rules;
  try {
    rules = JSON.parse(byId('rules-text').value);
  } catch (error) {
    byId('rules-status').textContent = `Not JSON: ${error.message}`;
    return;
  }
  try {
    const data = await api('PUT', '/admin/rules', { rules });
    byId('rules-text').value = JSON.stringify(data.rules, null, 2);
    byId('rules-status').textContent = `Saved: ${data.rules.length} rule${data.rules.length === 1 ? '' : 's'} in force.`;
  } catch (error) {
    if (error.status === 401) return failed(error);
    byId('rules-status').textContent = `Refused, nothing changed: ${error.message}`;
  }
}

// ---- audit --------------------------------------------------------------------------

async function loadAudit(fresh) {
  const after = fresh ? '' : `&after=${encodeURIComponent(state.auditNext)}`;
  const page = await api('GET', `/admin/audit?limit=${PAGE}${after}`);
  const rows = byId('audit-rows');
  if (fresh) rows.replaceChildren();
  for (const entry of page.entries) {
    rows.append(
      el('tr', { dataset: { entry: entry.id, action: entry.action } },
        el('td', {}, formatTime(entry.at)),
        el('td', {}, entry.actor),
        el('td', {}, entry.action),
        el('td', {}, entry.room || ''),
        el('td', {}, entry.target || ''),
        el('td', {}, el('code', {}, JSON.stringify(entry.detail)))),
    );
  }
  state.auditNext = page.next;
  byId('audit-more').hidden = !page.next;
}

// ---- wiring -------------------------------------------------------------------------

byId('admin-signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  signIn(byId('admin-token').value.trim());
});
byId('admin-signout').addEventListener('click', () => signOut());
for (const button of document.querySelectorAll('.admin-tabs [data-tab]')) {
  button.addEventListener('click', () => showTab(button.dataset.tab));
}
byId('report-status').addEventListener('change', () => loadReports(true).catch(failed));
byId('reports-refresh').addEventListener('click', () => loadReports(true).catch(failed));
byId('reports-more').addEventListener('click', () => loadReports(false).catch(failed));
byId('rules-save').addEventListener('click', () => saveRules());
byId('audit-more').addEventListener('click', () => loadAudit(false).catch(failed));

if (state.token) signIn(state.token);
else signOut();
