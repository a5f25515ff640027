// The batches list: status, endpoints, mailboxes, progress, skipped, last activity. Live.
import { api, enc } from './api.js';
import { h, fill, badge, progress, num, when, pageHead, tableWrap, poll, errorBox } from './ui.js';

export async function render(main) {
  document.title = 'Batches · mailferry';
  const body = h('div', { class: 'card' });
  main.append(
    pageHead('Migration batches', 'Mailboxes copied from a source to a target endpoint, first in full, then incrementally until completed.',
      h('a', { class: 'btn btn-primary', href: '#/batches/new' }, '+ New batch')),
    body);
  let first = true;
  return poll(async () => {
    let list;
    try {
      list = await api('/batches');
    } catch (err) {
      if (first) fill(body, errorBox(err));
      throw err;
    }
    // Last activity: the newest successful sync of any of a batch's mailboxes.
    const details = await Promise.all(list.slice(0, 50).map((b) => api('/batches/' + enc(b.name)).catch(() => null)));
    const last = {};
    for (const d of details) {
      if (!d) continue;
      last[d.name] = (d.users || []).map((u) => u.last_sync).filter(Boolean).sort().pop() || null;
    }
    first = false;
    if (!list.length) {
      fill(body, h('div', { class: 'empty' },
        h('h2', {}, 'No batch yet'),
        h('p', {}, 'A batch copies the mailboxes listed in a CSV file from a source endpoint to a target endpoint.'),
        h('p', {}, h('a', { class: 'btn btn-primary', href: '#/batches/new' }, 'Create the first batch'), ' ',
          h('a', { class: 'btn', href: '#/endpoints/new' }, 'Add an endpoint'))));
      return;
    }
    fill(body, tableWrap(h('table', { class: 'table', id: 'batches' },
      h('caption', { class: 'sr-only' }, 'Migration batches'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Source → target'),
        h('th', { scope: 'col', class: 'num' }, 'Mailboxes'), h('th', { scope: 'col', class: 'wide' }, 'Items synced / in source'),
        h('th', { scope: 'col', class: 'num' }, 'Skipped'), h('th', { scope: 'col' }, 'Last activity'))),
      h('tbody', {}, list.map((b) => h('tr', { 'data-batch': b.name },
        h('td', {}, h('a', { class: 'strong', href: '#/batches/' + enc(b.name) }, b.name)),
        h('td', {}, badge(b.status)),
        h('td', { class: 'nowrap' }, b.source, h('span', { class: 'arrow', 'aria-label': 'to' }, ' → '), b.target),
        h('td', { class: 'num' }, num(b.user_count)),
        h('td', {}, progress(b.items_synced, b.items_source, `Items synced in ${b.name}`, b.items_skipped)),
        h('td', { class: 'num' }, b.items_skipped ? h('span', { class: 'warn-text' }, num(b.items_skipped)) : '0'),
        h('td', {}, last[b.name] ? when(last[b.name]) : h('span', { class: 'muted' }, 'created '), last[b.name] ? null : when(b.created_at))))))));
  }, 3000);
}
