// The dashboard's router: hash routes (#/batches, #/batches/NAME, …), one view at a time.
// A view is `render(main, params, query)` and may return a cleanup (e.g. to stop polling).
import { token } from './api.js';
import { h } from './ui.js';
import * as signin from './signin.js';
import * as batches from './batches.js';
import * as batch from './batch.js';
import * as user from './user.js';
import * as newBatch from './new-batch.js';
import * as endpoints from './endpoints.js';
import * as wizard from './wizard.js';

const routes = [
  [/^\/signin$/, signin.render, null],
  [/^\/?$/, batches.render, 'batches'],
  [/^\/batches$/, batches.render, 'batches'],
  [/^\/batches\/new$/, newBatch.render, 'batches'],
  [/^\/batches\/([^/]+)$/, batch.render, 'batches'],
  [/^\/users\/([^/]+)$/, user.render, 'batches'],
  [/^\/endpoints$/, endpoints.render, 'endpoints'],
  [/^\/endpoints\/new$/, wizard.render, 'endpoints'],
  [/^\/workers$/, endpoints.renderWorkers, 'workers'],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signout = document.getElementById('signout');
let cleanup = null;
let generation = 0;

async function route() {
  const raw = location.hash.replace(/^#/, '') || '/batches';
  const [path, qs] = raw.split('?');
  const query = new URLSearchParams(qs || '');
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  const gen = ++generation;

  const signedIn = !!token.get();
  nav.hidden = !signedIn;
  signout.hidden = !signedIn;
  if (!signedIn && path !== '/signin') {
    location.replace('#/signin' + (path && path !== '/' ? '?next=' + encodeURIComponent(raw) : ''));
    return;
  }
  let match = null;
  for (const [re, view, section] of routes) {
    const m = path.match(re);
    if (m) { match = { view, section, params: m.slice(1).map(decodeURIComponent) }; break; }
  }
  for (const a of nav.querySelectorAll('a')) {
    if (match && a.dataset.nav === match.section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  if (!match) {
    main.append(h('div', { class: 'empty' }, h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, 'There is no such page. '), h('a', { href: '#/batches' }, 'Back to the batches')));
    return;
  }
  try {
    const c = await match.view(main, match.params, query);
    if (gen !== generation) { if (typeof c === 'function') c(); return; }
    cleanup = typeof c === 'function' ? c : null;
  } catch (err) {
    if (gen !== generation) return;
    if (err.status === 401) return; // on its way to sign-in
    main.replaceChildren(h('div', { class: 'notice notice-error', role: 'alert' }, err.message));
  }
  // Move focus to the page's heading, for keyboards and screen readers.
  const h1 = main.querySelector('h1');
  if (h1 && gen === generation && !main.contains(document.activeElement)) h1.focus({ preventScroll: true });
}

signout.addEventListener('click', () => { token.clear(); location.hash = '#/signin'; });
window.addEventListener('hashchange', route);
route();
