// One migration user (its newest batch): status, counters, folders and skipped items. Live.
import { api, enc } from './api.js';
import { h, fill, badge, progress, num, bytes, when, pageHead, tableWrap, poll, errorBox } from './ui.js';

export async function render(main, [email]) {
  document.title = `${email} · mailferry`;
  const body = h('div');
  main.append(body);
  let first = true;
  let last = null;
  return poll(async () => {
    let u;
    try {
      u = await api('/users/' + enc(email));
    } catch (err) {
      if (first) fill(body, errorBox(err), h('p', {}, h('a', { href: '#/batches' }, 'Back to the batches')));
      throw err;
    }
    const json = JSON.stringify(u);
    if (json === last) return; // unchanged: keep the page (and the focus) as it is
    last = json;
    const focused = first;
    first = false;
    fill(body,
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/batches' }, 'Batches'), ' / ',
        h('a', { href: '#/batches/' + enc(u.batch) }, u.batch), ' / ', u.email),
      pageHead(h('span', {}, u.email, ' ', h('span', { class: 'head-badge' }, badge(u.status))),
        h('span', {}, 'Batch ', h('a', { href: '#/batches/' + enc(u.batch) }, u.batch), ' · source login ', h('code', {}, u.source_login))),
      u.error ? h('div', { class: 'notice notice-error', role: 'alert' }, h('strong', {}, 'Last error: '), h('span', { class: 'pre' }, u.error)) : null,
      h('div', { class: 'stats' },
        h('div', { class: 'stat stat-wide' }, h('div', { class: 'stat-label' }, 'Items synced / in source'), progress(u.items_synced, u.items_source, 'Items synced', u.items_skipped)),
        stat('Skipped', num(u.items_skipped), `${num(u.items_skipped_bad)} bad · ${num(u.items_skipped_large)} large`, u.items_skipped ? 'warn' : null),
        stat('Copied', bytes(u.bytes_synced)),
        stat('Last sync', when(u.last_sync))),
      h('h2', {}, 'Folders'),
      h('div', { class: 'card' }, u.folders.length ? tableWrap(h('table', { class: 'table', id: 'folders' },
        h('caption', { class: 'sr-only' }, 'Folders'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Source folder'), h('th', { scope: 'col' }, 'Target folder'),
          h('th', { scope: 'col', class: 'wide' }, 'Messages synced / in source'), h('th', { scope: 'col', class: 'num' }, 'Skipped'),
          h('th', { scope: 'col', class: 'num' }, 'Copied'), h('th', { scope: 'col' }, 'Subscribed'), h('th', { scope: 'col' }, 'Last sync'))),
        h('tbody', {}, u.folders.map((f) => h('tr', {},
          h('td', {}, f.source), h('td', {}, f.target ?? h('span', { class: 'muted' }, 'not yet')),
          h('td', {}, progress(f.messages_synced, f.messages_source, `Messages synced in ${f.source}`, f.messages_skipped)),
          h('td', { class: 'num' }, f.messages_skipped ? h('span', { class: 'warn-text' }, num(f.messages_skipped)) : '0'),
          h('td', { class: 'num' }, bytes(f.bytes_synced)),
          h('td', {}, f.subscribed ? 'yes' : h('span', { class: 'muted' }, 'no')),
          h('td', {}, when(f.last_sync)))))))
        : h('p', { class: 'empty' }, 'No folder copied yet.')),
      h('h2', {}, 'Skipped items ', h('span', { class: 'count' }, num(u.skipped_items.length))),
      h('div', { class: 'card' }, u.skipped_items.length ? tableWrap(h('table', { class: 'table', id: 'skipped' },
        h('caption', { class: 'sr-only' }, 'Skipped items'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Folder'), h('th', { scope: 'col', class: 'num' }, 'UID'), h('th', { scope: 'col', class: 'num' }, 'Size'),
          h('th', { scope: 'col' }, 'Date'), h('th', { scope: 'col' }, 'Subject'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Reason'))),
        h('tbody', {}, u.skipped_items.map((s) => h('tr', {},
          h('td', {}, s.folder), h('td', { class: 'num' }, s.uid), h('td', { class: 'num nowrap' }, bytes(s.size)),
          h('td', { class: 'nowrap' }, s.date ?? '—'), h('td', { class: 'subject' }, s.subject ?? h('span', { class: 'muted' }, '(no subject)')),
          h('td', {}, h('span', { class: `kind kind-${s.kind}` }, s.kind)), h('td', {}, s.reason))))))
        : h('p', { class: 'empty' }, 'Nothing was skipped.')));
    if (focused) body.querySelector('h1')?.focus({ preventScroll: true });
  }, 2000);
}

function stat(label, value, note, tone) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value),
    note ? h('div', { class: `stat-note ${tone ? tone + '-text' : 'muted'}` }, note) : null);
}
