// Sign-in: the API token is asked once, checked, and kept in localStorage.
import { api, token, ApiError } from './api.js';
import { h, field } from './ui.js';

export async function render(main, _params, query) {
  document.title = 'Sign in · mailferry';
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: 'false', placeholder: 'mf_…' });
  const msg = h('div', { class: 'form-error', role: 'alert' });
  const button = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true },
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', { class: 'sub' }, 'Paste an API token. Create one on the server with ', h('code', {}, 'mailferry token create NAME'), '.'),
    field('API token', input, 'Kept in this browser only; sent with every request as a bearer token.', 'token'),
    msg, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    msg.textContent = '';
    if (!t) { msg.textContent = 'Enter a token.'; input.focus(); return; }
    button.disabled = true;
    button.textContent = 'Checking…';
    try {
      await api('/endpoints', { auth: t });
      token.set(t);
      const next = query.get('next');
      location.hash = '#' + (next && next.startsWith('/') && !next.startsWith('/signin') ? next : '/batches');
    } catch (err) {
      msg.textContent = err instanceof ApiError && err.status === 401
        ? 'This token is not valid (or was revoked).'
        : err.message;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  });
  main.append(h('div', { class: 'center' }, form));
  input.focus();
}
