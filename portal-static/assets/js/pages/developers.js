// Developers: sign up → the key shown once → my keys (create, roll, revoke) → my usage.
import { api, enc, session, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, field, select, fmtDate, fmtNum, copyButton, problemBox, announce } from '../dom.js';
import { barChart } from '../chart.js';

export async function render(view) {
  view.append(h('h1', {}, t('dev_title')), h('p', {}, t('dev_lead')));
  const area = h('div', {});
  view.append(area);
  if (session.key) await account(area); else signUp(area);
}

/** The once-only display of a new key. */
function keyBox(key) {
  return h('div', { class: 'keybox', role: 'alert', id: 'new-key-box' },
    h('h2', {}, t('key_once_title')),
    h('p', {}, t('key_once')),
    h('p', {}, h('code', { id: 'new-key' }, key)),
    copyButton(() => key));
}

function signUp(area) {
  const err = h('div', {});
  const form = h('form', { id: 'signup-form' },
    h('h2', {}, t('signup')),
    field('su-email', t('email'), h('input', { type: 'email', required: true, autocomplete: 'email' })),
    field('su-name', t('name'), h('input', { type: 'text', required: true, autocomplete: 'name' })),
    field('su-org', t('organization'), h('input', { type: 'text', autocomplete: 'organization' })),
    field('su-purpose', t('purpose'), h('textarea', { rows: 2 })),
    h('p', {}, h('button', { type: 'submit' }, t('signup_button'))),
    err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { email: form['su-email'].value.trim(), name: form['su-name'].value.trim() };
    if (form['su-org'].value.trim()) body.organization = form['su-org'].value.trim();
    if (form['su-purpose'].value.trim()) body.purpose = form['su-purpose'].value.trim();
    try {
      const r = await api('/v1/developers', { method: 'POST', body });
      session.key = r.api_key.key;
      fill(area);
      await account(area, r.api_key.key);
    } catch (ex) {
      fill(err, problemBox(ex));
    }
  });

  const keyErr = h('div', {});
  const keyForm = h('form', { id: 'key-form' },
    h('h2', {}, t('have_key')),
    field('k-key', t('your_key'), h('input', { type: 'password', required: true, autocomplete: 'off', spellcheck: 'false' })),
    h('p', {}, h('button', { type: 'submit', class: 'secondary' }, t('use_key'))),
    keyErr);
  keyForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const k = keyForm['k-key'].value.trim();
    try {
      await api('/v1/me', { key: k });
      session.key = k;
      fill(area);
      await account(area);
    } catch (ex) {
      fill(keyErr, problemBox(ex));
    }
  });
  area.append(form, keyForm);
}

async function account(area, freshKey) {
  const key = session.key;
  let me;
  try {
    me = await api('/v1/me', { key });
  } catch (ex) {
    if (ex instanceof ApiError && ex.status === 401) {
      session.key = null;
      fill(area, problemBox(ex));
      signUp(area);
      return;
    }
    throw ex;
  }
  const signOut = h('button', { type: 'button', class: 'secondary', onclick: () => { session.key = null; fill(area); signUp(area); } }, t('sign_out'));
  const keysBox = h('section', { 'aria-labelledby': 'keys-h' });
  const usageBox = h('section', { 'aria-labelledby': 'usage-h' });
  area.append(
    freshKey ? keyBox(freshKey) : null,
    h('section', { 'aria-labelledby': 'acct-h' },
      h('h2', { id: 'acct-h' }, t('account')),
      h('dl', { class: 'props' },
        h('dt', {}, t('name')), h('dd', {}, `${me.name} <${me.email}>`),
        h('dt', {}, t('tier')), h('dd', {}, me.tier),
        h('dt', {}, t('per_minute')), h('dd', {}, fmtNum(me.limits.per_minute)),
        h('dt', {}, t('per_day')), h('dd', {}, fmtNum(me.limits.per_day))),
      signOut),
    keysBox, usageBox);
  await Promise.all([keys(keysBox, area), usage(usageBox)]);
}

async function keys(box, area) {
  const key = session.key;
  const list = await api('/v1/me/keys', { key });
  const current = list.data.find((k) => key.startsWith(k.prefix));
  const msg = h('div', {});
  const reload = async (fresh) => {
    fill(area);
    await account(area, fresh);
  };
  const graceSel = select([['0', t('grace_0')], ['3600', t('grace_1h')], ['86400', t('grace_1d')], ['604800', t('grace_7d')]], '3600');
  const nameIn = h('input', { type: 'text', required: true, maxlength: 100 });
  const createForm = h('form', { class: 'row', id: 'create-key-form' },
    field('nk-name', t('key_name'), nameIn),
    h('button', { type: 'submit' }, t('new_key')));
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api('/v1/me/keys', { method: 'POST', key, body: { name: nameIn.value.trim() } });
      await reload(r.key);
    } catch (ex) { fill(msg, problemBox(ex)); }
  });
  fill(box,
    h('h2', { id: 'keys-h' }, t('my_keys')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'keys-table' },
      h('thead', {}, h('tr', {}, [t('key_prefix'), t('key_name'), t('key_status'), t('created'), t('last_used'), t('expires'), t('actions')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.data.map((k) => {
        const stopped = k.status === 'revoked' || k.status === 'expired';
        return h('tr', {},
          h('td', {}, h('code', {}, `${k.prefix}…`), k === current ? ` ${t('this_key')}` : ''),
          h('td', {}, k.name || '—'),
          h('td', {}, t(`ks_${k.status}`)),
          h('td', {}, fmtDate(k.created_at)),
          h('td', {}, fmtDate(k.last_used_at)),
          h('td', {}, k.expires_at ? fmtDate(k.expires_at) : '—'),
          h('td', {}, stopped ? '' : [
            h('button', { type: 'button', class: 'secondary', onclick: async () => {
              try {
                const r = await api(`/v1/me/keys/${enc(k.id)}/roll`, { method: 'POST', key, body: { grace_seconds: Number(graceSel.value) } });
                if (k === current) session.key = r.key;
                await reload(r.key);
              } catch (ex) { fill(msg, problemBox(ex)); }
            } }, t('roll')), ' ',
            h('button', { type: 'button', class: 'danger', onclick: async () => {
              if (!window.confirm(t('confirm_revoke', { p: k.prefix }))) return;
              try {
                await api(`/v1/me/keys/${enc(k.id)}`, { method: 'DELETE', key });
                if (k === current) { session.key = null; location.reload(); return; }
                await reload();
              } catch (ex) { fill(msg, problemBox(ex)); }
            } }, t('revoke')),
          ]));
      })))),
    field('roll-grace', t('grace'), graceSel),
    createForm,
    msg);
}

async function usage(box) {
  const key = session.key;
  const refresh = h('button', { type: 'button', class: 'secondary', id: 'refresh-usage' }, t('refresh'));
  const body = h('div', { id: 'usage' });
  refresh.addEventListener('click', () => draw());
  fill(box, h('h2', { id: 'usage-h' }, t('my_usage')), refresh, body);
  async function draw() {
    try {
      const [u, me] = await Promise.all([api('/v1/me/usage', { key }), api('/v1/me', { key })]);
      const perDay = new Map();
      const perDataset = new Map();
      for (const r of u.data) {
        perDay.set(r.day, (perDay.get(r.day) || 0) + r.requests);
        const ds = r.dataset || t('other_calls');
        perDataset.set(ds, (perDataset.get(ds) || 0) + r.requests);
      }
      const days = [];
      for (let d = new Date(`${u.from}T00:00:00Z`); d <= new Date(`${u.to}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
        const k = d.toISOString().slice(0, 10);
        days.push([k.slice(5), perDay.get(k) || 0]);
      }
      fill(body,
        h('p', { id: 'usage-total' }, t('usage_total', { n: fmtNum(u.total) })),
        h('dl', { class: 'props' },
          h('dt', {}, t('used_today')), h('dd', {}, fmtNum(me.quota.used_today)),
          h('dt', {}, t('remaining_today')), h('dd', { id: 'quota-left' }, me.quota.remaining_today === null ? '∞' : fmtNum(me.quota.remaining_today))),
        barChart(days, t('usage_chart')),
        h('h3', {}, t('per_dataset')),
        h('div', { class: 'table-wrap' }, h('table', { id: 'usage-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('dataset')), h('th', { scope: 'col' }, t('requests')))),
          h('tbody', {}, [...perDataset].map(([ds, n]) => h('tr', {}, h('td', {}, ds), h('td', {}, fmtNum(n))))))));
      announce(t('usage_total', { n: u.total }));
    } catch (ex) {
      fill(body, problemBox(ex));
    }
  }
  await draw();
}
