// A new batch: name, source and target endpoints, the CSV file and options; multipart to
// POST /api/v1/batches. A bad CSV shows every bad row under the file input.
import { api, enc } from './api.js';
import { h, fill, field, pageHead, errorBox, tableWrap, toast } from './ui.js';

export async function render(main) {
  document.title = 'New batch · mailferry';
  const endpoints = await api('/endpoints');
  main.append(h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/batches' }, 'Batches'), ' / New batch'),
    pageHead('New batch', 'Copy the mailboxes of a CSV file from a source endpoint to a target endpoint.'));
  if (endpoints.length === 0) {
    main.append(h('div', { class: 'card empty' }, h('h2', {}, 'No endpoint yet'),
      h('p', {}, 'A batch needs a source and a target endpoint: the mail servers and the administrator who acts for their mailboxes.'),
      h('a', { class: 'btn btn-primary', href: '#/endpoints/new' }, 'Add an endpoint')));
    return;
  }
  const select = (name, preferred) => h('select', { name, required: true },
    endpoints.map((e, i) => h('option', { value: e.name, selected: i === preferred }, `${e.name} — ${e.host}:${e.port}${e.verified ? '' : ' (unverified)'}`)));
  const name = h('input', { name: 'name', required: true, maxlength: 64, pattern: '[A-Za-z0-9._\\-]{1,64}', autocomplete: 'off', placeholder: 'wave1' });
  const source = select('source', 0);
  const target = select('target', Math.min(1, endpoints.length - 1));
  const csv = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv,text/plain', required: true });
  const csvErrors = h('div', { id: 'csv-errors', class: 'csv-errors', 'aria-live': 'polite' });
  const exclude = h('textarea', { name: 'exclude_folders', rows: 3, placeholder: '#Junk#\nArchive/*' });
  const maxSize = h('input', { name: 'max_message_size', placeholder: '25MB', autocomplete: 'off' });
  const largeLimit = h('input', { name: 'large_item_limit', type: 'number', min: 0, inputmode: 'numeric', placeholder: '0' });
  const badLimit = h('input', { name: 'bad_item_limit', type: 'number', min: 0, inputmode: 'numeric', placeholder: '0' });
  const interval = h('input', { name: 'incremental_interval', placeholder: '24h', autocomplete: 'off' });
  const autostart = h('input', { type: 'checkbox', name: 'autostart', checked: true });
  const autocomplete = h('input', { type: 'checkbox', name: 'autocomplete' });
  const unknownCols = h('input', { type: 'checkbox', name: 'allow_unknown_columns' });
  const formError = h('div');
  const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Create batch');

  const check = (input, label) => h('label', { class: 'check' }, input, ' ', label);
  const form = h('form', { class: 'card form', novalidate: true },
    h('div', { class: 'grid2' },
      field('Batch name', name, '1–64 letters, digits, “.”, “_”, “-”.'),
      h('div'),
      field('Source endpoint', source, 'Where the mailboxes are now.'),
      field('Target endpoint', target, 'Where they are copied to.')),
    h('fieldset', {},
      h('legend', {}, 'Mailboxes'),
      field('CSV file', csv, h('span', {}, 'Header ', h('code', {}, 'EmailAddress,UserName,Password'), '; UserName and Password may be empty (the administrator then acts for the mailbox). At most 50,000 rows.')),
      csvErrors,
      check(unknownCols, 'Ignore unknown columns')),
    h('details', { class: 'options', open: true },
      h('summary', {}, 'Options'),
      h('div', { class: 'grid2' },
        field('Exclude folders', exclude, 'One per line; “Name/*” includes subfolders; #Junk#, #Trash#… name special-use folders.'),
        h('div', {},
          field('Max message size', maxSize, 'Larger messages are skipped as “large” (e.g. 25MB, 512KB).'),
          h('div', { class: 'grid2 tight' },
            field('Large items allowed', largeLimit, 'More fail the mailbox.'),
            field('Bad items allowed', badLimit, 'Messages the target rejects.')),
          field('Incremental sync every', interval, 'Default 24h (e.g. 30m, 6h, 1d).'))),
      check(autostart, 'Start right after creating it'),
      check(autocomplete, 'Complete by itself once every mailbox is synced')),
    formError,
    h('div', { class: 'actions' }, h('a', { class: 'btn', href: '#/batches' }, 'Cancel'), submit));

  csv.addEventListener('change', () => { fill(csvErrors); csv.removeAttribute('aria-invalid'); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(formError);
    fill(csvErrors);
    csv.removeAttribute('aria-invalid');
    if (!name.value.trim()) { fill(formError, errorBox({ message: 'Give the batch a name.' })); name.focus(); return; }
    if (!csv.files.length) { fill(formError, errorBox({ message: 'Choose the CSV file of the mailboxes.' })); csv.focus(); return; }
    const data = new FormData();
    data.append('name', name.value.trim());
    data.append('source', source.value);
    data.append('target', target.value);
    data.append('csv', csv.files[0], csv.files[0].name);
    if (unknownCols.checked) data.append('allow_unknown_columns', 'true');
    data.append('autostart', autostart.checked ? 'true' : 'false');
    if (autocomplete.checked) data.append('autocomplete', 'true');
    for (const f of exclude.value.split('\n').map((s) => s.trim()).filter(Boolean)) data.append('exclude_folders', f);
    if (maxSize.value.trim()) data.append('max_message_size', maxSize.value.trim());
    if (largeLimit.value.trim()) data.append('large_item_limit', largeLimit.value.trim());
    if (badLimit.value.trim()) data.append('bad_item_limit', badLimit.value.trim());
    if (interval.value.trim()) data.append('incremental_interval', interval.value.trim());
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const created = await api('/batches', { form: data });
      toast(`Batch ${created.name} created`);
      location.hash = '#/batches/' + enc(created.name);
    } catch (err) {
      if (err.code === 'invalid_csv' && err.rows) {
        csv.setAttribute('aria-invalid', 'true');
        fill(csvErrors, h('div', { class: 'notice notice-error', role: 'alert' },
          h('strong', {}, `The CSV has ${err.rows.length} ${err.rows.length === 1 ? 'error' : 'errors'}; nothing was created. Fix the file and choose it again.`)),
          tableWrap(h('table', { class: 'table table-compact', id: 'csv-error-rows' },
            h('caption', { class: 'sr-only' }, 'Errors in the CSV file'),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Line'), h('th', { scope: 'col' }, 'Reason'))),
            h('tbody', {}, err.rows.map((r) => h('tr', {},
              h('td', { class: 'num' }, r.line === 0 ? 'file' : r.line), h('td', {}, r.reason)))))));
        csvErrors.scrollIntoView({ block: 'nearest' });
        csv.focus();
      } else {
        fill(formError, errorBox(err));
        formError.scrollIntoView({ block: 'nearest' });
      }
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create batch';
    }
  });
  main.append(form);
}
