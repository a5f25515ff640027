// The endpoint wizard (SPEC section 1): 1. address and administrator → 2. settings,
// discovered (with where they came from and the candidates passed over) or entered by hand →
// 3. the endpoint test, step by step → 4. a name, and create → done.
import { api } from './api.js';
import { h, fill, field, pageHead, errorBox, testSteps, tableWrap, toast } from './ui.js';

const STEPS = ['Address', 'Settings', 'Test', 'Create'];

export async function render(main) {
  document.title = 'New endpoint · mailferry';
  const s = {
    role: 'source', email: '', admin: '', password: '', allowPrivate: false, trustHosts: '',
    discovered: null, discoveryError: null,
    settings: { host: '', port: '', security: 'tls', allow_plaintext: false, impersonation: 'authzid', master_separator: '', login_format: '', test_mailbox: '', ca_pem: '' },
    report: null, skip: false,
  };
  const stepper = h('ol', { class: 'stepper', 'aria-label': 'Steps' });
  const panel = h('section', { class: 'card wizard', 'aria-live': 'polite' });
  main.append(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/endpoints' }, 'Endpoints'), ' / New endpoint'),
    pageHead('New endpoint', 'A mail server and the migration administrator who acts for its mailboxes. It is saved only once the test passes.'),
    stepper, panel);

  const show = (n, ...content) => {
    fill(stepper, STEPS.map((label, i) => h('li', { class: i < n ? 'done' : i === n ? 'current' : '', 'aria-current': i === n ? 'step' : null },
      h('span', { class: 'dot', 'aria-hidden': 'true' }, i < n ? '✓' : String(i + 1)), h('span', {}, label))));
    fill(panel, ...content);
    panel.dataset.step = String(n + 1);
    const target = panel.querySelector('[autofocus]') || panel.querySelector('h2');
    if (target) { if (target.tagName === 'H2') target.setAttribute('tabindex', '-1'); target.focus(); }
  };

  // ---- step 1: the address and the administrator
  const step1 = () => {
    const email = h('input', { type: 'email', name: 'email', required: true, value: s.email, autocomplete: 'off', placeholder: 'alice@example.com', autofocus: true });
    const admin = h('input', { name: 'admin', value: s.admin, autocomplete: 'off', placeholder: 'migadmin@example.com' });
    const password = h('input', { type: 'password', name: 'password', value: s.password, autocomplete: 'new-password' });
    const roleSource = h('input', { type: 'radio', name: 'role', value: 'source', checked: s.role === 'source' });
    const roleTarget = h('input', { type: 'radio', name: 'role', value: 'target', checked: s.role === 'target' });
    const allowPrivate = h('input', { type: 'checkbox', name: 'allow_private', checked: s.allowPrivate });
    const trust = h('input', { name: 'trust_hosts', value: s.trustHosts, placeholder: 'mail.provider.net', autocomplete: 'off' });
    const msg = h('div');
    const discoverBtn = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Discover settings');
    const keep = () => {
      Object.assign(s, { email: email.value.trim(), admin: admin.value.trim(), password: password.value, role: roleTarget.checked ? 'target' : 'source', allowPrivate: allowPrivate.checked, trustHosts: trust.value.trim() });
      if (!s.settings.test_mailbox) s.settings.test_mailbox = s.email;
    };
    const form = h('form', { class: 'form', novalidate: true },
      h('h2', {}, '1. Address and administrator'),
      h('p', { class: 'sub' }, 'An address on the mail server (a mailbox to migrate is ideal: it becomes the test mailbox), and the administrator who can act for every mailbox.'),
      h('fieldset', { class: 'inline' }, h('legend', {}, 'This endpoint is a'),
        h('label', { class: 'check' }, roleSource, ' source (mail is copied from it)'),
        h('label', { class: 'check' }, roleTarget, ' target (mail is copied to it)')),
      field('Email address', email, 'Its domain is where the settings are looked up.'),
      h('div', { class: 'grid2' },
        field('Administrator login', admin, 'Leave empty when each mailbox logs in with its own password from the CSV.'),
        field('Administrator password', password, 'Never shown again; stored encrypted.')),
      h('details', {}, h('summary', {}, 'Discovery options'),
        field('Trusted hosts outside the domain', trust, 'Comma-separated; hosts of another domain that may receive the credentials (e.g. a hosting provider).'),
        h('label', { class: 'check' }, allowPrivate, ' Allow private and loopback addresses (a server on this network)')),
      msg,
      h('div', { class: 'actions' },
        h('button', { class: 'btn', type: 'button', 'data-action': 'by-hand', onclick: () => { keep(); s.discovered = null; s.discoveryError = null; step2(); } }, 'Enter settings by hand'),
        discoverBtn));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      keep();
      fill(msg);
      if (!s.email.includes('@')) { fill(msg, errorBox({ message: 'Enter an email address.' })); email.focus(); return; }
      if (s.password && !s.admin) { fill(msg, errorBox({ message: 'A password needs the administrator login it belongs to.' })); admin.focus(); return; }
      discoverBtn.disabled = true;
      discoverBtn.textContent = 'Looking up…';
      fill(msg, h('p', { class: 'notice', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }),
        `Looking up the settings of ${s.email.split('@')[1]}: Autodiscover, autoconfig, SRV records, then common host names (up to 30 s)…`));
      try {
        const d = await api('/discover', { json: {
          email: s.email, admin: s.admin || undefined, password: s.password || undefined,
          trust_hosts: s.trustHosts ? s.trustHosts.split(',').map((x) => x.trim()).filter(Boolean) : [],
          allow_private_networks: s.allowPrivate,
        } });
        s.discovered = d;
        s.discoveryError = null;
        Object.assign(s.settings, { host: d.host, port: String(d.port), security: d.security, login_format: d.login_format || s.settings.login_format });
      } catch (err) {
        if (err.status === 401) return;
        s.discovered = null;
        s.discoveryError = err;
      }
      step2();
    });
    show(0, form);
  };

  // ---- step 2: the settings (discovered or by hand), editable
  const step2 = () => {
    const st = s.settings;
    const host = h('input', { name: 'host', required: true, value: st.host, autocomplete: 'off', spellcheck: 'false', placeholder: 'imap.example.com', autofocus: !s.discovered });
    const port = h('input', { name: 'port', type: 'number', min: 1, max: 65535, value: st.port, inputmode: 'numeric', placeholder: '993' });
    const security = h('select', { name: 'security' }, [['tls', 'TLS (implicit, usually 993)'], ['starttls', 'STARTTLS (usually 143)'], ['none', 'None — password in clear']]
      .map(([v, l]) => h('option', { value: v, selected: st.security === v }, l)));
    const plaintext = h('input', { type: 'checkbox', name: 'allow_plaintext', checked: st.allow_plaintext });
    const plainBox = h('label', { class: 'check warn-text' }, plaintext, ' I accept that the password travels unencrypted');
    const imp = h('select', { name: 'impersonation' }, [['authzid', 'authzid — SASL PLAIN authorization identity'], ['master-user', 'master-user — Dovecot-style user*admin login'], ['none', 'none — each mailbox’s own password (CSV)']]
      .map(([v, l]) => h('option', { value: v, selected: st.impersonation === v }, l)));
    const sep = h('input', { name: 'master_separator', value: st.master_separator, placeholder: '*', maxlength: 4, autocomplete: 'off' });
    const sepField = field('Master-user separator', sep, 'Default “*”: the login is user*admin.');
    const loginFormat = h('input', { name: 'login_format', value: st.login_format, placeholder: '%EMAILADDRESS%', autocomplete: 'off', spellcheck: 'false' });
    const admin = h('input', { name: 'admin', value: s.admin, autocomplete: 'off' });
    const password = h('input', { type: 'password', name: 'password', value: s.password, autocomplete: 'new-password' });
    const testMailbox = h('input', { type: 'email', name: 'test_mailbox', value: st.test_mailbox || s.email, autocomplete: 'off' });
    const ca = h('textarea', { name: 'ca_pem', rows: 4, spellcheck: 'false', placeholder: '-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----', class: 'mono' }, st.ca_pem);
    const caFile = h('input', { type: 'file', name: 'ca_file', accept: '.pem,.crt,.cer,application/x-pem-file' });
    caFile.addEventListener('change', async () => { if (caFile.files[0]) ca.value = await caFile.files[0].text(); });
    const msg = h('div');
    const sync = () => { plainBox.hidden = security.value !== 'none'; sepField.hidden = imp.value !== 'master-user'; };
    security.addEventListener('change', () => {
      if (!port.value || ['993', '143'].includes(port.value)) port.value = security.value === 'tls' ? '993' : '143';
      sync();
    });
    imp.addEventListener('change', sync);
    sync();

    const keep = () => {
      Object.assign(st, { host: host.value.trim(), port: port.value.trim(), security: security.value, allow_plaintext: plaintext.checked,
        impersonation: imp.value, master_separator: sep.value.trim(), login_format: loginFormat.value.trim(), test_mailbox: testMailbox.value.trim(), ca_pem: ca.value.trim() });
      s.admin = admin.value.trim();
      s.password = password.value;
    };

    const origin = s.discovered ? discoveredBox(s.discovered)
      : s.discoveryError ? h('div', { class: 'notice notice-warn', role: 'alert' },
        h('strong', {}, 'No settings were found automatically. '), 'Enter them by hand below.',
        h('details', {}, h('summary', {}, 'What was tried'), h('pre', { class: 'pre small' }, s.discoveryError.message)))
      : h('p', { class: 'sub' }, 'Settings entered by hand. Your provider’s documentation lists the IMAP host, port and security.');

    const form = h('form', { class: 'form', novalidate: true },
      h('h2', {}, '2. Connection settings'), origin,
      h('div', { class: 'grid3' }, field('IMAP host', host), field('Port', port, 'Empty: 993 for TLS, 143 otherwise.'), field('Security', security)),
      plainBox,
      h('div', { class: 'grid2' },
        field('Impersonation', imp, 'How the administrator acts for a mailbox.'), sepField,
        field('Administrator login', admin), field('Administrator password', password),
        field('Test mailbox', testMailbox, s.role === 'target' ? 'Its INBOX must open read-write.' : 'Its INBOX is opened to prove access.'),
        field('Login format', loginFormat, '%EMAILADDRESS% (default), %EMAILLOCALPART%, %EMAILDOMAIN%.')),
      h('details', { class: 'options', open: !!st.ca_pem },
        h('summary', {}, 'CA certificate (PEM)'),
        h('p', { class: 'hint' }, 'Only when the server’s certificate is signed by a private CA: it is trusted for this endpoint in addition to the system’s.'),
        field('CA certificate (PEM)', ca), field('Load from a file', caFile)),
      msg,
      h('div', { class: 'actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => { keep(); step1(); } }, 'Back'),
        h('button', { class: 'btn btn-primary', type: 'submit' }, 'Test the connection')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      keep();
      if (!st.host) { fill(msg, errorBox({ message: 'Enter the IMAP host.' })); host.focus(); return; }
      if (st.security === 'none' && !st.allow_plaintext) { fill(msg, errorBox({ message: 'Security “none” sends the password in clear: tick the box to accept it, or choose TLS.' })); plaintext.focus(); return; }
      step3();
    });
    show(1, form);
  };

  const body = () => {
    const st = s.settings;
    const b = { host: st.host, security: st.security, impersonation: st.impersonation };
    if (st.port) b.port = Number(st.port);
    if (st.allow_plaintext && st.security === 'none') b.allow_plaintext = true;
    if (st.impersonation === 'master-user' && st.master_separator) b.master_separator = st.master_separator;
    if (st.login_format) b.login_format = st.login_format;
    if (st.test_mailbox) b.test_mailbox = st.test_mailbox;
    if (st.ca_pem) b.ca_pem = st.ca_pem;
    if (s.admin) b.admin = s.admin;
    if (s.password) b.password = s.password;
    return b;
  };

  // ---- step 3: the test, step by step
  const step3 = async () => {
    const out = h('div', { class: 'test-out' }, h('p', { role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }, ''), `Testing ${s.settings.host}…`));
    const actions = h('div', { class: 'actions' });
    show(2, h('h2', {}, '3. Test'), h('p', { class: 'sub' }, 'Connect, TLS, capabilities, log in acting for the test mailbox, open its INBOX.'), out, actions);
    try {
      const r = await api('/endpoints/test', { json: body() });
      s.report = r.report;
      const readOnlyTarget = s.role === 'target' && r.passed && r.report.writable === false;
      fill(out,
        h('div', { class: `notice ${r.passed && !readOnlyTarget ? 'notice-ok' : 'notice-error'}`, id: 'test-result' },
          h('strong', {}, r.passed ? (readOnlyTarget ? 'Connected, but the INBOX is read-only: mail cannot be copied to it.' : 'Every step passed.') : 'The test failed.'),
          testSteps(r.report)));
      fill(actions,
        h('button', { class: 'btn', type: 'button', onclick: step2 }, 'Back to the settings'),
        r.passed ? null : h('button', { class: 'btn', type: 'button', onclick: () => { s.skip = true; step4(); } }, 'Save unverified anyway'),
        r.passed ? h('button', { class: 'btn btn-primary', type: 'button', autofocus: true, onclick: () => { s.skip = false; step4(); } }, 'Continue') : null);
      (actions.querySelector('.btn-primary') || actions.querySelector('button')).focus();
    } catch (err) {
      if (err.status === 401) return;
      fill(out, errorBox(err));
      fill(actions, h('button', { class: 'btn btn-primary', type: 'button', onclick: step2 }, 'Back to the settings'));
      actions.querySelector('button').focus();
    }
  };

  // ---- step 4: a name, and create
  const step4 = () => {
    const suggested = (s.email.split('@')[1] || s.settings.host || '').replace(/[^A-Za-z0-9._-]/g, '').slice(0, 40);
    const name = h('input', { name: 'name', required: true, maxlength: 64, autocomplete: 'off', value: s.role === 'target' ? `${suggested}-target` : suggested, autofocus: true });
    const maxMig = h('input', { name: 'max_concurrent_migrations', type: 'number', min: 1, placeholder: '20', inputmode: 'numeric' });
    const maxInc = h('input', { name: 'max_concurrent_incremental', type: 'number', min: 1, placeholder: '10', inputmode: 'numeric' });
    const msg = h('div');
    const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, s.skip ? 'Create unverified endpoint' : 'Create endpoint');
    const form = h('form', { class: 'form', novalidate: true },
      h('h2', {}, '4. Name and create'),
      s.skip ? h('div', { class: 'notice notice-warn' }, 'The test did not pass: the endpoint will be saved marked “unverified”. Fix it and test it before migrating.') : null,
      field('Endpoint name', name, '1–64 letters, digits, “.”, “_”, “-”; how batches refer to it.'),
      h('div', { class: 'grid2' }, field('Concurrent migrations', maxMig, 'Default 20.'), field('Concurrent incremental syncs', maxInc, 'Default 10, at most the former.')),
      h('dl', { class: 'summary' },
        h('dt', {}, 'Server'), h('dd', {}, h('code', {}, `${s.settings.host}:${s.settings.port || (s.settings.security === 'tls' ? 993 : 143)}`), ` (${s.settings.security})`),
        h('dt', {}, 'Administrator'), h('dd', {}, s.admin || '—', ` · ${s.settings.impersonation}`),
        h('dt', {}, 'Test mailbox'), h('dd', {}, s.settings.test_mailbox || '—'),
        h('dt', {}, 'Settings from'), h('dd', {}, s.discovered ? s.discovered.source : 'entered by hand')),
      msg,
      h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'button', onclick: step2 }, 'Back to the settings'), submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      fill(msg);
      const b = { name: name.value.trim(), ...body() };
      if (maxMig.value) b.max_concurrent_migrations = Number(maxMig.value);
      if (maxInc.value) b.max_concurrent_incremental = Number(maxInc.value);
      if (s.skip) b.skip_verification = true;
      submit.disabled = true;
      submit.textContent = 'Testing and saving…';
      try {
        const saved = await api('/endpoints', { json: b });
        toast(`Endpoint ${saved.endpoint.name} created`);
        done(saved.endpoint);
      } catch (err) {
        if (err.status === 401) return;
        fill(msg, errorBox(err));
        submit.disabled = false;
        submit.textContent = s.skip ? 'Create unverified endpoint' : 'Create endpoint';
        (err.code === 'already_exists' || err.code === 'invalid_input' ? name : submit).focus();
      }
    });
    show(3, form);
  };

  // ---- done
  const done = (e) => {
    fill(stepper, STEPS.map((label) => h('li', { class: 'done' }, h('span', { class: 'dot', 'aria-hidden': 'true' }, '✓'), h('span', {}, label))));
    fill(panel, h('div', { class: 'done-panel', id: 'wizard-done' },
      h('h2', { tabindex: '-1' }, `Endpoint ${e.name} created`),
      h('p', {}, h('span', { class: e.verified ? 'badge badge-ok' : 'badge badge-warn' }, e.verified ? 'Verified' : 'Unverified'), ' ',
        h('code', {}, `${e.host}:${e.port}`), ` · ${e.security} · ${e.impersonation}`),
      h('div', { class: 'actions left' },
        h('a', { class: 'btn btn-primary', href: '#/batches/new' }, 'New batch'),
        h('a', { class: 'btn', href: '#/endpoints' }, 'All endpoints'),
        h('button', { class: 'btn', type: 'button', onclick: () => { location.hash = '#/endpoints/new?again=' + Date.now(); } }, 'Add another endpoint'))));
    panel.dataset.step = 'done';
    panel.querySelector('h2').focus();
  };

  step1();
}

function discoveredBox(d) {
  const passed = d.trace.filter((t) => !t.chosen);
  return h('div', { class: 'notice notice-ok', id: 'discovered' },
    h('strong', {}, 'Found: '), h('code', {}, `${d.host}:${d.port}`), ` (${d.security}) via `, h('code', {}, d.source),
    d.needs_trust.length ? h('p', {}, 'Depends on trusted hosts: ', d.needs_trust.join(', ')) : null,
    h('p', { class: 'small' }, 'Check the settings below and change what you need.'),
    passed.length ? h('details', {}, h('summary', {}, `${passed.length} other candidate${passed.length === 1 ? '' : 's'} passed over`),
      tableWrap(h('table', { class: 'table table-compact' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Method'), h('th', { scope: 'col' }, 'Candidate'), h('th', { scope: 'col' }, 'Outcome'))),
        h('tbody', {}, passed.map((t) => h('tr', {}, h('td', {}, t.method), h('td', {}, h('code', {}, t.what)), h('td', {}, t.outcome))))))) : null);
}
