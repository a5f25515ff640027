// DOM helpers, formatting, badges, progress bars, dialogs and toasts.

/** h('a', {href, class, onclick}, child, …): an element; children may be strings, nodes, arrays, null. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const nf = new Intl.NumberFormat();
export const num = (n) => (n === null || n === undefined ? '—' : nf.format(n));

/** Sizes in binary units, as the server reads them (8KB = 8192 bytes). */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v : v.toFixed(v < 10 && v % 1 !== 0 ? 1 : 0)) + ' ' + units[i];
}

/** A time as "3 min ago" in a <time> whose title is the exact local time. */
export function when(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  return h('time', { datetime: iso, title: d.toLocaleString() }, ago(d));
}

export function ago(d) {
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  if (s < 86400 * 7) return Math.floor(s / 86400) + ' d ago';
  return d.toLocaleDateString();
}

const TONES = {
  Created: 'neutral', Queued: 'neutral', Removing: 'neutral',
  Syncing: 'info', IncrementalSyncing: 'info', Completing: 'info',
  Synced: 'ok', Completed: 'done',
  SyncedWithErrors: 'warn', CompletedWithErrors: 'warn', Stopping: 'warn', Stopped: 'warn',
  Failed: 'bad',
};

const LABELS = {
  SyncedWithErrors: 'Synced with errors', CompletedWithErrors: 'Completed with errors',
  IncrementalSyncing: 'Incremental sync',
};

/** A colored status badge; the status name itself stays readable (data-status). */
export function badge(status) {
  const tone = TONES[status] || 'neutral';
  const busy = tone === 'info' ? ' badge-busy' : '';
  return h('span', { class: `badge badge-${tone}${busy}`, 'data-status': status }, LABELS[status] || status);
}

/** A progress bar with its figures: synced / total; skipped items show as an amber segment after the synced ones. */
export function progress(done, total, label, skipped = 0) {
  const pct = (n) => (total > 0 ? Math.min(100, (n / total) * 100) : 0);
  const donePct = total > 0 ? pct(done) : (done > 0 ? 100 : 0);
  const fillEl = h('span', { class: 'bar-fill' });
  fillEl.style.width = donePct.toFixed(1) + '%';
  const skipEl = skipped > 0 && total > 0 ? h('span', { class: 'bar-skip', title: `${num(skipped)} skipped` }) : null;
  if (skipEl) skipEl.style.width = Math.min(pct(skipped), 100 - donePct).toFixed(1) + '%';
  return h('div', { class: 'progress' },
    h('div', {
      class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total || 0, 'aria-valuenow': done,
      'aria-label': label || 'Items synced',
      'aria-valuetext': `${num(done)} of ${num(total)} items synced${skipped ? `, ${num(skipped)} skipped` : ''}`,
    }, fillEl, skipEl),
    h('span', { class: 'progress-text' }, `${num(done)} / ${num(total)}`, h('span', { class: 'muted' }, total > 0 ? ` · ${Math.floor(donePct)}%` : '')));
}

export function toast(message, tone = 'ok') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${tone}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), 5000);
}

/** A modal confirmation (native <dialog>): resolves true when confirmed. */
export function confirmDialog(title, text, confirmLabel = 'Confirm', danger = false) {
  return new Promise((resolve) => {
    const ok = h('button', { class: danger ? 'btn btn-danger' : 'btn btn-primary', type: 'submit', value: 'yes' }, confirmLabel);
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        h('p', {}, text),
        h('div', { class: 'actions' },
          h('button', { class: 'btn', type: 'submit', value: 'no' }, 'Cancel'), ok)));
    dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'yes'); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}

/** An error box for an ApiError (or any error). */
export function errorBox(err, extra) {
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('strong', {}, err.code && err.code !== 'network' ? `${err.code.replaceAll('_', ' ')}: ` : ''),
    h('span', { class: 'pre' }, err.message), err.report ? testSteps(err.report) : null, extra || null);
}

/** The endpoint test, step by step: ok/fail and the detail of each. */
export function testSteps(report) {
  return h('div', { class: 'test-report' },
    h('p', { class: 'muted' }, 'Server ', h('code', {}, report.server),
      report.writable === true ? ' · INBOX opened read-write' : report.writable === false ? ' · INBOX opened read-only' : ''),
    h('ol', { class: 'steps', 'aria-label': 'Test steps' }, report.steps.map((s) => h('li', { class: s.ok ? 'step-ok' : 'step-fail', 'data-step': s.step },
      h('span', { class: 'step-icon', 'aria-hidden': 'true' }, s.ok ? '✓' : '✕'),
      h('span', { class: 'step-name' }, STEP_NAMES[s.step] || s.step),
      h('span', { class: 'sr-only' }, s.ok ? ': ok' : ': failed'),
      h('span', { class: 'step-detail' }, s.detail)))));
}

const STEP_NAMES = {
  resolve: 'Resolve the host', connect: 'Connect', tls: 'TLS', greeting: 'Greeting', capabilities: 'Capabilities',
  starttls: 'STARTTLS', login: 'Log in', 'open-inbox': 'Open the test mailbox',
};

/** A page header: title, optional subtitle and actions. */
export function pageHead(title, sub, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', {}, h('h1', { tabindex: '-1' }, title), sub ? h('p', { class: 'sub' }, sub) : null),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** A labelled field: label, control, optional hint; returns the wrapper. */
export function field(label, control, hint, id) {
  const cid = id || control.id || ('f-' + Math.random().toString(36).slice(2, 9));
  control.id = cid;
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: cid + '-hint' }, hint);
    control.setAttribute('aria-describedby', cid + '-hint');
  }
  return h('div', { class: 'field' }, h('label', { for: cid }, label), control, hintEl);
}

export function tableWrap(table) {
  return h('div', { class: 'table-wrap' }, table);
}

/** Polls fn every ms (first call at once) until the returned stop() is called; no overlap. */
export function poll(fn, ms) {
  let stopped = false;
  let timer = null;
  const run = async () => {
    if (stopped) return;
    try { await fn(); } catch (e) { if (!stopped) console.warn(e); }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}
