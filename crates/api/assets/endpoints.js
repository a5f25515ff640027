// The endpoints list (with a stored-settings test and removal), and the workers page.
import { api, enc } from './api.js';
import { h, fill, num, when, pageHead, tableWrap, errorBox, confirmDialog, toast, testSteps, poll } from './ui.js';

export async function render(main) {
  document.title = 'Endpoints · mailferry';
  const body = h('div', { class: 'card' });
  const result = h('div', { 'aria-live': 'polite' });
  main.append(pageHead('Migration endpoints', 'Mail servers and the administrator who acts for their mailboxes.',
    h('a', { class: 'btn btn-primary', href: '#/endpoints/new' }, '+ New endpoint')), result, body);

  const load = async () => {
    const list = await api('/endpoints');
    if (!list.length) {
      fill(body, h('div', { class: 'empty' }, h('h2', {}, 'No endpoint yet'),
        h('p', {}, 'The wizard finds a server’s settings from an email address, tests them, and saves the endpoint.'),
        h('a', { class: 'btn btn-primary', href: '#/endpoints/new' }, 'Add an endpoint')));
      return;
    }
    fill(body, tableWrap(h('table', { class: 'table', id: 'endpoints' },
      h('caption', { class: 'sr-only' }, 'Endpoints'),
      h('thead', {}, h('tr', {}, ['Name', 'Server', 'Security', 'Administrator', 'Impersonation', 'Test mailbox', 'Settings', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, list.map((e) => h('tr', { 'data-endpoint': e.name },
        h('td', { class: 'strong' }, e.name),
        h('td', { class: 'nowrap' }, h('code', {}, `${e.host}:${e.port}`), e.has_ca ? h('span', { class: 'tag', title: 'An extra CA certificate is stored' }, 'own CA') : null),
        h('td', {}, e.security),
        h('td', {}, e.admin ?? h('span', { class: 'muted' }, 'none (per-user passwords)')),
        h('td', {}, e.impersonation, e.master_separator ? h('span', { class: 'muted' }, ` (${e.master_separator})`) : null),
        h('td', {}, e.test_mailbox ?? h('span', { class: 'muted' }, '—')),
        h('td', { class: 'small' }, e.discovered_from ? h('span', { title: e.discovered_from }, 'discovered') : 'by hand', h('div', { class: 'muted' }, 'updated ', when(e.updated_at))),
        h('td', {}, e.verified ? h('span', { class: 'badge badge-ok' }, 'Verified') : h('span', { class: 'badge badge-warn' }, 'Unverified')),
        h('td', { class: 'row-actions' },
          h('button', { class: 'btn btn-small', type: 'button', onclick: (ev) => test(e.name, ev.currentTarget) }, 'Test'),
          h('button', { class: 'btn btn-small btn-danger-quiet', type: 'button', onclick: () => remove(e.name) }, 'Remove'))))))));
  };

  const test = async (name, button) => {
    button.disabled = true;
    button.textContent = 'Testing…';
    try {
      const r = await api(`/endpoints/${enc(name)}/test`, { method: 'POST' });
      fill(result, h('div', { class: `notice ${r.passed ? 'notice-ok' : 'notice-error'}` },
        h('strong', {}, `${name}: the test ${r.passed ? 'passed' : 'failed'}`), testSteps(r.report)));
    } catch (err) {
      fill(result, errorBox(err));
    } finally {
      button.disabled = false;
      button.textContent = 'Test';
    }
  };
  const remove = async (name) => {
    if (!(await confirmDialog(`Remove endpoint ${name}?`, 'Its settings and stored password are deleted. A batch that uses it prevents this.', 'Remove endpoint', true))) return;
    try {
      await api('/endpoints/' + enc(name), { method: 'DELETE' });
      toast(`Endpoint ${name} removed`);
      fill(result);
      await load();
    } catch (err) {
      fill(result, errorBox(err));
    }
  };
  await load();
}

export async function renderWorkers(main) {
  document.title = 'Workers · mailferry';
  const body = h('div');
  main.append(pageHead('Workers', 'The processes that copy mailboxes, and the mailboxes they hold now.'), body);
  return poll(async () => {
    const w = await api('/workers');
    fill(body,
      h('div', { class: 'card' }, w.workers.length ? tableWrap(h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Worker', 'Host', 'Version', 'Started', 'Heartbeat', 'Mailboxes now'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, w.workers.map((x) => h('tr', {}, h('td', {}, h('code', {}, x.id)), h('td', {}, x.host), h('td', {}, x.version ?? '—'),
          h('td', {}, when(x.started_at)), h('td', {}, when(x.heartbeat_at)), h('td', { class: 'num' }, num(x.leases)))))))
        : h('p', { class: 'empty' }, 'No worker registered.')),
      h('h2', {}, 'Mailboxes being copied'),
      h('div', { class: 'card' }, w.leases.length ? tableWrap(h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Mailbox', 'Batch', 'Worker', 'Lease until'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, w.leases.map((l) => h('tr', {}, h('td', {}, h('a', { href: '#/users/' + enc(l.email) }, l.email)),
          h('td', {}, h('a', { href: '#/batches/' + enc(l.batch) }, l.batch)), h('td', {}, h('code', {}, l.owner)), h('td', {}, new Date(l.expires_at).toLocaleTimeString()))))))
        : h('p', { class: 'empty' }, 'None right now.')));
  }, 3000);
}
