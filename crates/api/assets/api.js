// The one way the dashboard talks to the server: /api/v1 with the bearer token.
// A 401 forgets the token and sends the browser back to the sign-in form.

const KEY = 'mailferry.token';

export const token = {
  get: () => localStorage.getItem(KEY),
  set: (t) => localStorage.setItem(KEY, t),
  clear: () => localStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.rows = e.rows || null;
    this.report = e.report || null;
  }
}

/** Where a 401 goes: the sign-in form, remembering the page to come back to. */
export function toSignIn() {
  const here = location.hash.startsWith('#/signin') ? '' : location.hash.slice(1);
  location.hash = '#/signin' + (here && here !== '/' ? '?next=' + encodeURIComponent(here) : '');
}

/**
 * Calls /api/v1{path}. Options: method, json (a body to send as JSON), form (a FormData),
 * raw (return the Response), auth (a token to use instead of the stored one; no redirect on 401).
 */
export async function api(path, opts = {}) {
  const headers = { Accept: 'application/json' };
  const t = opts.auth ?? token.get();
  if (t) headers.Authorization = 'Bearer ' + t;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    body = opts.form; // the browser sets multipart/form-data with its boundary
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, { method: opts.method || (body ? 'POST' : 'GET'), headers, body, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, { error: { code: 'network', message: 'The server cannot be reached: ' + err.message } });
  }
  if (res.status === 401 && opts.auth === undefined) {
    token.clear();
    toSignIn();
  }
  if (!res.ok) {
    let parsed = null;
    try { parsed = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, parsed);
  }
  if (opts.raw) return res;
  return res.json();
}

export const enc = encodeURIComponent;
