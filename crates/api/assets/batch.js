// One batch: its mailboxes with live progress (polled every 2 s), the lifecycle actions and
// the report.
import { api, enc, token } from './api.js';
import { h, fill, badge, progress, num, bytes, when, pageHead, tableWrap, poll, errorBox, confirmDialog, toast } from './ui.js';

// Which actions make sense in which batch status (the server has the last word).
const ACTIONS = {
  start: (s) => ['Created', 'Stopped', 'Failed', 'SyncedWithErrors'].includes(s),
  stop: (s) => ['Syncing', 'Synced', 'SyncedWithErrors', 'Failed', 'Completing'].includes(s),
  sync: (s) => ['Synced', 'SyncedWithErrors', 'Stopped', 'Failed'].includes(s),
  complete: (s) => !['Completed', 'CompletedWithErrors', 'Completing', 'Removing'].includes(s),
  remove: (s) => s !== 'Removing',
};

export async function render(main, [name]) {
  document.title = `${name} · Batches · mailferry`;
  const path = '/batches/' + enc(name);
  const status = h('span', { class: 'head-badge', 'aria-live': 'polite' });
  const sub = h('p', { class: 'sub' });
  const notice = h('div');
  const stats = h('div', { class: 'stats' });
  const usersBox = h('div', { class: 'card' });
  const filter = h('input', { type: 'search', placeholder: 'Filter by address', 'aria-label': 'Filter mailboxes by address' });
  let current = null;

  const buttons = {};
  const act = async (key, label) => {
    if (key === 'complete' && !(await confirmDialog('Complete this batch?',
      'Each mailbox gets a final incremental sync and is then Completed; no sync runs after that. This cannot be undone.', 'Complete batch'))) return;
    if (key === 'remove' && !(await confirmDialog('Remove this batch?',
      'Everything recorded for it (progress, skipped items, report) is deleted. The copies on the target stay.', 'Remove batch', true))) return;
    for (const b of Object.values(buttons)) b.disabled = true;
    try {
      if (key === 'remove') {
        await api(path, { method: 'DELETE' });
        toast(`Batch ${name} removed`);
        location.hash = '#/batches';
        return;
      }
      const view = await api(`${path}/${key}`, { method: 'POST' });
      toast(`${label}: batch ${name} is ${view.status}`);
      fill(notice);
      update(view);
    } catch (err) {
      fill(notice, errorBox(err));
      if (current) setButtons(current.status);
    }
  };
  const mk = (key, label, cls = 'btn') => (buttons[key] = h('button', { type: 'button', class: cls, 'data-action': key, onclick: () => act(key, label) }, label));
  const report = h('button', { type: 'button', class: 'btn', onclick: () => download(name) }, 'Download report (CSV)');

  const setButtons = (s) => { for (const [k, b] of Object.entries(buttons)) b.disabled = !ACTIONS[k](s); };

  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/batches' }, 'Batches'), ' / ', name),
    pageHead(h('span', {}, name, ' ', status), sub,
      mk('start', 'Start', 'btn btn-primary'), mk('stop', 'Stop'), mk('sync', 'Sync now'), mk('complete', 'Complete'), report,
      mk('remove', 'Remove', 'btn btn-danger-quiet')),
    notice, stats,
    h('div', { class: 'section-head' }, h('h2', {}, 'Mailboxes'), filter),
    usersBox);

  const update = (b) => {
    current = b;
    fill(status, badge(b.status));
    fill(sub, 'From ', h('a', { href: '#/endpoints' }, b.source), ' to ', h('a', { href: '#/endpoints' }, b.target), ' · created ', when(b.created_at), optionsText(b.options));
    setButtons(b.status);
    const failed = (b.users || []).filter((u) => u.status === 'Failed').length;
    fill(stats,
      stat('Mailboxes', num(b.user_count), failed ? `${failed} failed` : null, failed ? 'bad' : null),
      h('div', { class: 'stat stat-wide' }, h('div', { class: 'stat-label' }, 'Items synced / in source'), progress(b.items_synced, b.items_source, 'Items synced in this batch', b.items_skipped)),
      stat('Skipped', num(b.items_skipped), b.items_skipped ? 'see each mailbox' : null, b.items_skipped ? 'warn' : null),
      stat('Copied', bytes(b.bytes_synced)));
    renderUsers();
  };

  const renderUsers = () => {
    const users = (current.users || []).filter((u) => u.email.toLowerCase().includes(filter.value.trim().toLowerCase()));
    if (!current.users.length) { fill(usersBox, h('p', { class: 'empty' }, 'This batch has no mailbox.')); return; }
    fill(usersBox, tableWrap(h('table', { class: 'table', id: 'users' },
      h('caption', { class: 'sr-only' }, `Mailboxes of batch ${name}`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Mailbox'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col', class: 'wide' }, 'Items synced / in source'),
        h('th', { scope: 'col', class: 'num' }, 'Skipped'), h('th', { scope: 'col', class: 'num' }, 'Copied'), h('th', { scope: 'col' }, 'Last sync'),
        h('th', { scope: 'col' }, 'Error'))),
      h('tbody', {}, users.length ? users.map((u) => h('tr', { 'data-user': u.email },
        h('td', {}, h('a', { href: '#/users/' + enc(u.email) }, u.email),
          u.source_login && u.source_login !== u.email ? h('div', { class: 'muted small' }, 'as ', u.source_login) : null),
        h('td', {}, badge(u.status)),
        h('td', {}, progress(u.items_synced, u.items_source, `Items synced for ${u.email}`, u.items_skipped)),
        h('td', { class: 'num' }, u.items_skipped ? h('span', { class: 'warn-text', title: `${u.items_skipped_bad} bad, ${u.items_skipped_large} large` }, num(u.items_skipped)) : '0'),
        h('td', { class: 'num' }, bytes(u.bytes_synced)),
        h('td', {}, when(u.last_sync)),
        h('td', { class: 'error-cell' }, u.error ? h('span', { class: 'bad-text', title: u.error }, u.error) : h('span', { class: 'muted' }, '—'))))
        : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No mailbox matches the filter.'))))));
  };
  filter.addEventListener('input', () => current && renderUsers());

  let first = true;
  return poll(async () => {
    try {
      update(await api(path));
      first = false;
    } catch (err) {
      if (first) { main.replaceChildren(errorBox(err), h('p', {}, h('a', { href: '#/batches' }, 'Back to the batches'))); throw err; }
      fill(notice, errorBox(err));
    }
  }, 2000);
}

function stat(label, value, note, tone) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value),
    note ? h('div', { class: `stat-note ${tone ? tone + '-text' : 'muted'}` }, note) : null);
}

function optionsText(o) {
  if (!o || typeof o !== 'object') return null;
  const parts = [];
  if (o.exclude_folders && o.exclude_folders.length) parts.push('excluding ' + o.exclude_folders.join(', '));
  if (o.include_folders && o.include_folders.length) parts.push('only ' + o.include_folders.join(', '));
  if (o.max_message_size) parts.push('messages over ' + bytes(o.max_message_size) + ' skipped');
  if (o.autocomplete) parts.push('completes by itself');
  return parts.length ? ' · ' + parts.join(' · ') : null;
}

/** The CSV report: fetched with the token, then saved through a temporary link. */
async function download(name) {
  try {
    const res = await api(`/batches/${enc(name)}/report?format=csv`, { raw: true });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `${name}-report.csv`, class: 'sr-only' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    if (token.get()) toast(err.message, 'bad');
  }
}
