// Publishers: sign in; register a dataset; upload a version (with progress), see its inferred
// schema and warnings; publish; deprecate; see the dataset's usage.
import { api, enc, datasetPath, session, claims, THEMES, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, field, select, fmtDate, fmtNum, problemBox, announce } from '../dom.js';
import { barChart } from '../chart.js';

const FREQUENCIES = ['daily', 'weekly', 'monthly', 'quarterly', 'annual', 'irregular'];

export async function render(view) {
  view.append(h('h1', {}, t('pub_title')), h('p', {}, t('pub_lead')));
  const area = h('div', {});
  view.append(area);
  const c = session.token && claims(session.token);
  if (c && c.exp * 1000 > Date.now()) await workspace(area, c); else login(area);
}

function login(area) {
  session.token = null;
  const err = h('div', {});
  const form = h('form', { id: 'login-form' },
    field('lg-user', t('username'), h('input', { type: 'text', required: true, autocomplete: 'username' })),
    field('lg-pass', t('password'), h('input', { type: 'password', required: true, autocomplete: 'current-password' })),
    h('p', {}, h('button', { type: 'submit' }, t('login'))),
    err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api('/v1/auth/token', { method: 'POST', body: { username: form['lg-user'].value.trim(), password: form['lg-pass'].value } });
      session.token = r.access_token;
      fill(area);
      await workspace(area, claims(r.access_token));
    } catch (ex) {
      fill(err, problemBox(ex));
    }
  });
  fill(area, form);
}

async function workspace(area, c) {
  const token = session.token;
  const agencies = c.role === 'admin'
    ? (await api('/v1/agencies')).data.map((a) => [a.slug, a.name])
    : [[c.agency, c.agency]];
  const agencySel = select(agencies, agencies[0]?.[0]);
  const listBox = h('section', { 'aria-labelledby': 'pub-ds-h' });
  const manageBox = h('div', { id: 'manage' });
  const regBox = h('section', { 'aria-labelledby': 'reg-h' });
  area.append(
    h('p', {}, t('signed_in_as', { u: c.sub, r: c.role }), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => { fill(area); login(area); } }, t('sign_out'))),
    field('pub-agency', t('choose_agency'), agencySel),
    listBox, manageBox, regBox);

  let listSeq = 0;
  const showList = async (selectSlug) => {
    const seq = ++listSeq;
    const agency = agencySel.value;
    const list = await api(`/v1/datasets?agency=${enc(agency)}&limit=100`, { token });
    if (seq !== listSeq) return; // another agency was chosen meanwhile
    const dsSel = select(list.data.map((d) => [d.slug, `${d.title} (${d.slug})`]), selectSlug || list.data[0]?.slug);
    const manageBtn = h('button', { type: 'button', id: 'manage-button' }, t('manage'));
    manageBtn.addEventListener('click', () => manage(manageBox, agency, dsSel.value, token));
    dsSel.addEventListener('change', () => manage(manageBox, agency, dsSel.value, token));
    fill(listBox, h('h2', { id: 'pub-ds-h' }, t('my_datasets')),
      list.data.length ? h('div', { class: 'row' }, field('pub-dataset', t('choose_dataset'), dsSel), manageBtn) : h('p', {}, t('no_results')));
    if (list.data.length) await manage(manageBox, agency, dsSel.value, token);
    else fill(manageBox);
  };
  agencySel.addEventListener('change', () => showList());
  registerForm(regBox, () => agencySel.value, token, (slug) => showList(slug));
  await showList();
}

function registerForm(box, agency, token, done) {
  const msg = h('div', {});
  const form = h('form', { id: 'register-form' },
    h('h2', { id: 'reg-h' }, t('register_dataset')),
    field('rg-slug', t('slug'), h('input', { type: 'text', required: true, pattern: '[a-z0-9]([a-z0-9\\-]{0,62}[a-z0-9])?' })),
    field('rg-title', t('title'), h('input', { type: 'text', required: true })),
    field('rg-desc', t('description'), h('textarea', { rows: 3, required: true })),
    field('rg-theme', t('f_theme'), select(THEMES.map((x) => [x, t(`theme_${x}`)]), 'living')),
    field('rg-tags', t('tags_comma'), h('input', { type: 'text' })),
    field('rg-license', t('f_license'), h('input', { type: 'text', value: 'CC-BY-4.0', required: true })),
    field('rg-freq', t('f_frequency'), select(FREQUENCIES.map((x) => [x, t(`freq_${x}`)]), 'monthly')),
    field('rg-cname', t('contact_name'), h('input', { type: 'text', required: true })),
    field('rg-cemail', t('contact_email'), h('input', { type: 'email', required: true })),
    field('rg-access', t('f_access'), select([['public', t('access_public')], ['registered', t('access_registered')]], 'public')),
    h('p', {}, h('button', { type: 'submit' }, t('register'))),
    msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = (id) => form[id].value.trim();
    const body = {
      slug: v('rg-slug'), title: v('rg-title'), description: v('rg-desc'), theme: v('rg-theme'),
      tags: v('rg-tags').split(',').map((x) => x.trim()).filter(Boolean), license: v('rg-license'),
      frequency: v('rg-freq'), contact: { name: v('rg-cname'), email: v('rg-cemail') }, access: v('rg-access'),
    };
    try {
      await api(`/v1/datasets/${enc(agency())}`, { method: 'POST', token, body });
      fill(msg, h('p', { class: 'ok', role: 'status' }, t('registered_ok', { s: body.slug })));
      form.reset();
      await done(body.slug);
    } catch (ex) { fill(msg, problemBox(ex)); }
  });
  fill(box, form);
}

let manageSeq = 0;

async function manage(box, agency, slug, token) {
  // Only the latest choice may fill the panel (an earlier, slower answer must not win).
  const seq = ++manageSeq;
  const base = datasetPath(agency, slug);
  const meta = await api(base, { token });
  if (seq !== manageSeq) return;
  const versionsBox = h('div', { id: 'pub-versions' });
  const resultBox = h('div', { id: 'upload-result' });
  const usageBox = h('div', {});
  const msg = h('div', {});

  const drawVersions = async () => {
    const m = await api(base, { token });
    const list = [...m.versions].sort((a, b) => b.version - a.version);
    fill(versionsBox, h('table', {},
      h('thead', {}, h('tr', {}, [t('versions'), t('key_status'), t('rows'), t('published'), t('actions')].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, list.map((v) => h('tr', { 'data-version': v.version },
        h('td', {}, `v${v.version}`),
        h('td', { class: 'status' }, t(`status_${v.status}`)),
        h('td', {}, fmtNum(v.row_count)),
        h('td', {}, fmtDate(v.published_at)),
        h('td', {}, actions(v)))))));
  };
  const act = async (fn, okMsg) => {
    try {
      await fn();
      fill(msg, h('p', { class: 'ok', role: 'status' }, okMsg));
      announce(okMsg);
      await drawVersions();
    } catch (ex) { fill(msg, problemBox(ex)); }
  };
  const publish = (n) => act(() => api(`${base}/versions/${n}/publish`, { method: 'POST', token }), t('published_ok', { n }));
  function actions(v) {
    if (v.status === 'draft') {
      return h('button', { type: 'button', class: 'publish', onclick: () => publish(v.version) }, t('publish'));
    }
    if (v.status === 'published') {
      const sunset = h('input', { type: 'date', 'aria-label': t('sunset') });
      return h('span', { class: 'row' }, sunset,
        h('button', { type: 'button', class: 'danger', onclick: () => act(() => api(`${base}/versions/${v.version}/deprecate`, {
          method: 'POST', token, body: sunset.value ? { sunset: new Date(`${sunset.value}T00:00:00Z`).toISOString() } : {},
        }), t('deprecated_ok', { n: v.version })) }, t('deprecate')));
    }
    return '';
  }

  const fileIn = h('input', { type: 'file', accept: '.csv,.json,.ndjson,text/csv,application/json,application/x-ndjson', required: true });
  const changelogIn = h('input', { type: 'text' });
  const progress = h('progress', { max: 100, value: 0, id: 'upload-progress', 'aria-label': t('upload_progress') });
  const uploadForm = h('form', { id: 'upload-form' },
    h('h3', {}, t('upload')),
    field('up-file', t('file'), fileIn),
    field('up-changelog', t('changelog'), changelogIn),
    h('p', {}, h('button', { type: 'submit' }, t('upload_button'))),
    progress);
  uploadForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = fileIn.files[0];
    if (!file) return;
    fill(resultBox);
    try {
      const r = await upload(`${base}/versions${changelogIn.value.trim() ? `?changelog=${enc(changelogIn.value.trim())}` : ''}`, file, token, (p) => { progress.value = p; });
      fill(resultBox,
        h('p', { class: 'ok', role: 'status' }, t('uploaded', { n: r.version, rows: fmtNum(r.row_count) })),
        h('h3', {}, t('inferred_schema')),
        h('div', { class: 'table-wrap' }, h('table', { id: 'inferred-schema' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('col_name')), h('th', { scope: 'col' }, t('col_type')))),
          h('tbody', {}, r.schema.fields.map((f) => h('tr', {}, h('td', {}, h('code', {}, f.name)), h('td', {}, f.type)))))),
        h('h3', {}, t('warnings')),
        r.warnings.length ? h('ul', { id: 'upload-warnings' }, r.warnings.map((w) => h('li', {}, w))) : h('p', {}, t('no_warnings')),
        h('button', { type: 'button', id: 'publish-uploaded', onclick: (ev) => { ev.currentTarget.disabled = true; publish(r.version); } }, `${t('publish')} v${r.version}`));
      announce(t('uploaded', { n: r.version, rows: r.row_count }));
      await drawVersions();
    } catch (ex) {
      fill(resultBox, problemBox(ex));
    }
  });

  fill(box,
    h('h2', {}, meta.title, ' ', h('a', { href: `/datasets/${agency}/${slug}`, class: 'meta' }, t('view_public'))),
    h('h3', {}, t('versions')), versionsBox, msg,
    uploadForm, resultBox,
    h('h3', {}, t('dataset_usage')), usageBox);
  await drawVersions();
  try {
    const u = await api(`${base}/usage`, { token });
    const byDay = new Map(u.data.map((r) => [r.day, r]));
    const days = [];
    for (let d = new Date(`${u.from}T00:00:00Z`); d <= new Date(`${u.to}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
      const k = d.toISOString().slice(0, 10);
      days.push([k.slice(5), byDay.get(k)?.requests || 0]);
    }
    const keys = Math.max(0, ...u.data.map((r) => r.distinct_keys));
    fill(usageBox, h('p', {}, t('usage_total', { n: fmtNum(u.total) }), ` · ${t('distinct_keys')} (max/${t('day').toLowerCase()}): ${fmtNum(keys)}`),
      barChart(days, t('usage_chart')));
  } catch (ex) {
    fill(usageBox, problemBox(ex));
  }
}

/** XMLHttpRequest, not fetch: only XHR reports upload progress. The file goes as the
 * multipart part `file`. */
function upload(url, file, token, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100)); });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(100); resolve(body); } else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, { detail: 'network error' })));
    const fd = new FormData();
    fd.append('file', file, file.name);
    xhr.send(fd);
  });
}
