// Dataset page: metadata, versions (changelog, schema changes), column dictionary, live
// preview whose controls build the API URL shown beside it, snippets, downloads, map, JSON-LD.
import { api, enc, datasetPath, session, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { h, fill, field, select, fmtDate, fmtNum, copyButton, problemBox, announce } from '../dom.js';
import { showMap, hasCoordinates } from '../map.js';

const OPS = {
  string: ['eq', 'neq', 'contains', 'in', 'is'],
  boolean: ['eq', 'is'],
  other: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'is'],
};

export async function render(view, [agency, slug]) {
  const key = session.key || undefined;
  const base = datasetPath(agency, slug);
  const [meta, agencyInfo] = await Promise.all([
    api(base, { key }),
    api(`/v1/agencies/${enc(agency)}`).catch(() => null),
  ]);
  const numbers = meta.versions.map((v) => v.version).sort((a, b) => b - a).slice(0, 10);
  const details = Object.fromEntries(await Promise.all(numbers.map(async (n) =>
    [n, await api(`${base}/versions/${n}`, { key }).catch(() => null)])));
  const latest = meta.latest_version ? details[meta.latest_version] || await api(`${base}/versions/${meta.latest_version}`, { key }) : null;

  view.append(
    h('h1', {}, meta.title),
    h('p', {}, meta.description),
    h('p', {}, h('a', { href: `/docs/${agency}/${slug}` }, t('api_reference')), ' · ',
      h('a', { href: `/agencies/${agency}` }, agencyInfo ? agencyInfo.name : agency)),
    metadata(meta, agencyInfo),
    versions(meta, details),
    latest ? dictionary(latest) : null,
  );
  if (!latest) {
    view.append(h('p', { class: 'note' }, t('no_published')));
  } else {
    const recordsBase = `${base}/versions/${latest.version}/records`;
    view.append(
      preview(recordsBase, latest.schema, key),
      downloads(recordsBase, latest.schema),
    );
    if (hasCoordinates(latest.schema)) {
      const mapBox = h('section', { 'aria-labelledby': 'map-h' }, h('h2', { id: 'map-h' }, t('map')));
      view.append(mapBox);
      // After the view is in the document, so Leaflet can measure the box.
      setTimeout(() => showMap(mapBox, `${recordsBase}?format=geojson&limit=500`, key), 0);
    }
  }
  view.append(jsonLd(meta, agencyInfo, latest, base));
}

function metadata(m, agencyInfo) {
  const row = (k, v) => [h('dt', {}, t(k)), h('dd', {}, v ?? '—')];
  return h('section', { 'aria-labelledby': 'meta-h' },
    h('h2', { id: 'meta-h' }, t('meta')),
    h('dl', { class: 'props' },
      row('f_agency', h('a', { href: `/agencies/${m.agency}` }, agencyInfo ? agencyInfo.name : m.agency)),
      row('f_theme', h('a', { href: `/datasets?theme=${m.theme}` }, t(`theme_${m.theme}`))),
      row('f_tags', m.tags.map((tag) => h('a', { class: 'tag', href: `/datasets?tag=${enc(tag)}` }, tag))),
      row('f_license', m.license),
      row('f_frequency', t(`freq_${m.frequency}`)),
      row('f_contact', m.contact ? [m.contact.name, ' ', m.contact.email ? h('a', { href: `mailto:${m.contact.email}` }, m.contact.email) : ''] : null),
      row('f_spatial', m.spatial),
      row('f_temporal', m.temporal),
      row('f_access', t(`access_${m.access}`)),
      row('f_created', fmtDate(m.created_at)),
      row('f_updated', fmtDate(m.updated_at))));
}

/** Columns added, removed or retyped since the previous version (computed by the API). */
function schemaChanges(c, n) {
  if (!c || !c.compared_to) return null;
  const out = [
    ...c.added.map((n) => h('li', { class: 'added' }, `+ ${n} — ${t('col_added')}`)),
    ...c.removed.map((n) => h('li', { class: 'removed' }, `− ${n} — ${t('col_removed')}`)),
    ...c.retyped.map((r) => h('li', {}, `~ ${r.name}: ${r.from} → ${r.to} — ${t('col_retyped')}`)),
  ];
  return h('div', {}, h('p', { class: 'meta' }, `${t('schema_changes')} (v${c.compared_to} → v${n})`),
    out.length ? h('ul', {}, out) : h('p', { class: 'meta' }, t('no_schema_change')));
}

function versions(meta, details) {
  const list = [...meta.versions].sort((a, b) => b.version - a.version);
  return h('section', { 'aria-labelledby': 'versions-h' },
    h('h2', { id: 'versions-h' }, t('versions')),
    h('ol', { class: 'version-list', reversed: true, id: 'versions' }, list.map((v) => {
      const d = details[v.version];
      return h('li', { 'data-version': v.version },
        h('h3', {}, t('version_n', { n: v.version }), ' ', h('span', { class: 'tag' }, t(`status_${v.status}`))),
        h('p', { class: 'meta' }, t('rows_n', { n: fmtNum(v.row_count) }),
          v.published_at ? ` · ${t('published_at', { d: fmtDate(v.published_at) })}` : ''),
        d && d.changelog ? h('p', {}, d.changelog) : null,
        d ? schemaChanges(d.schema_changes, v.version) : null);
    })));
}

function dictionary(version) {
  return h('section', { 'aria-labelledby': 'dict-h' },
    h('h2', { id: 'dict-h' }, t('dictionary'), ` (v${version.version})`),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('col_name')), h('th', { scope: 'col' }, t('col_type')), h('th', { scope: 'col' }, t('col_desc')))),
      h('tbody', {}, version.schema.fields.map((f) => h('tr', {},
        h('td', {}, h('code', {}, f.name)), h('td', {}, f.type), h('td', {}, f.description || '—')))))));
}

function opsFor(type) {
  if (type === 'string') return OPS.string;
  if (type === 'boolean') return OPS.boolean;
  return OPS.other;
}

function preview(recordsBase, schema, key) {
  const fields = schema.fields;
  const state = { filters: [], q: '', order: '', dir: 'asc', limit: 10 };

  const colSel = select(fields.map((f) => [f.name, f.name]), fields[0]?.name);
  const opSel = select([]);
  const setOps = () => {
    const ty = fields.find((f) => f.name === colSel.value)?.type;
    fill(opSel, opsFor(ty).map((o) => h('option', { value: o }, o)));
  };
  setOps();
  colSel.addEventListener('change', setOps);
  const valIn = h('input', { type: 'text' });
  const qIn = h('input', { type: 'search' });
  const orderSel = select([['', t('none')], ...fields.map((f) => [f.name, f.name])], '');
  const dirSel = select([['asc', t('asc')], ['desc', t('desc')]], 'asc');
  const limitSel = select([['10', '10'], ['25', '25'], ['50', '50'], ['100', '100']], '10');
  const filterList = h('ul', { class: 'filters-list', 'aria-live': 'polite' });
  const urlCode = h('code', { id: 'api-url' });
  const out = h('div', { id: 'preview-out' });

  const buildUrl = () => {
    const p = new URLSearchParams();
    for (const f of state.filters) p.append(f.col, `${f.op}.${f.val}`);
    if (state.q) p.set('q', state.q);
    if (state.order) p.set('order', `${state.order}.${state.dir}`);
    p.set('limit', state.limit);
    p.set('count', 'exact');
    return `${location.origin}${recordsBase}?${p}`;
  };

  const renderFilters = () => fill(filterList, state.filters.map((f, i) => {
    const label = `${f.col}=${f.op}.${f.val}`;
    return h('li', {}, h('code', {}, label),
      h('button', { type: 'button', class: 'secondary', 'aria-label': t('remove_filter', { f: label }),
        onclick: () => { state.filters.splice(i, 1); renderFilters(); load(); } }, '×'));
  }));

  const load = async () => {
    const url = buildUrl();
    urlCode.textContent = url;
    out.setAttribute('aria-busy', 'true');
    try {
      const r = await api(url, { key });
      fill(out,
        h('p', { id: 'row-count', role: 'status' }, t('showing_rows', { n: r.data.length, total: fmtNum(r.total) })),
        h('div', { class: 'table-wrap' }, h('table', { id: 'preview-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, '_id'), fields.map((f) => h('th', { scope: 'col' }, f.name)))),
          h('tbody', {}, r.data.map((row) => h('tr', {}, h('td', {}, row._id),
            fields.map((f) => { const v = row[f.name] === null || row[f.name] === undefined ? '' : String(row[f.name]); return h('td', { title: v.length > 30 ? v : null }, v); })))))));
      announce(t('showing_rows', { n: r.data.length, total: r.total }));
    } catch (err) {
      fill(out, err instanceof ApiError && err.status === 401 ? h('p', { class: 'note' }, t('needs_key')) : problemBox(err));
    } finally {
      out.removeAttribute('aria-busy');
      updateSnippets(url);
    }
  };

  const form = h('form', { id: 'preview-form' },
    h('div', { class: 'row' },
      field('pf-col', t('filter_column'), colSel),
      field('pf-op', t('filter_op'), opSel),
      field('pf-val', t('filter_value'), valIn),
      h('button', { type: 'button', id: 'add-filter', class: 'secondary' }, t('add_filter'))),
    filterList,
    h('div', { class: 'row' },
      field('pf-q', t('fulltext'), qIn),
      field('pf-order', t('order_by'), orderSel),
      field('pf-dir', t('order_dir'), dirSel),
      field('pf-limit', t('page_size'), limitSel),
      h('button', { type: 'submit', id: 'apply' }, t('apply'))));

  const addFilter = () => {
    const val = valIn.value.trim();
    if (!val && opSel.value !== 'is') return false;
    state.filters.push({ col: colSel.value, op: opSel.value, val: opSel.value === 'is' && !val ? 'null' : val });
    valIn.value = '';
    renderFilters();
    return true;
  };
  form.querySelector('#add-filter').addEventListener('click', () => { if (addFilter()) load(); });
  valIn.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); if (addFilter()) load(); } });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    addFilter(); // a value typed but not added yet counts
    state.q = qIn.value.trim();
    state.order = orderSel.value;
    state.dir = dirSel.value;
    state.limit = limitSel.value;
    load();
  });

  const snippetBox = h('div', {});
  const updateSnippets = (url) => {
    const keyLine = '# X-API-Key is optional for public datasets; it raises your limits';
    const s = {
      curl: `${keyLine}\ncurl -H "X-API-Key: $GERBANG_KEY" '${url}'`,
      Python: `import os, requests\n\nr = requests.get(\n    "${url}",\n    headers={"X-API-Key": os.environ.get("GERBANG_KEY", "")},\n)\nr.raise_for_status()\nfor row in r.json()["data"]:\n    print(row)`,
      JavaScript: `const res = await fetch("${url}", {\n  headers: { "X-API-Key": process.env.GERBANG_KEY ?? "" },\n});\nif (!res.ok) throw new Error((await res.json()).detail);\nconst { data } = await res.json();\nconsole.table(data);`,
    };
    fill(snippetBox, Object.entries(s).map(([lang, code]) => h('div', {},
      h('h3', {}, lang), h('pre', {}, h('code', {}, code)), copyButton(() => code, `${t('copy')} ${lang}`))));
  };

  const section = h('section', { 'aria-labelledby': 'preview-h' },
    h('h2', { id: 'preview-h' }, t('preview')),
    form,
    h('p', { class: 'hint', id: 'api-url-label' }, t('api_url')),
    h('div', { class: 'urlbox' }, urlCode, copyButton(() => urlCode.textContent, t('copy_url'))),
    out,
    h('h2', {}, t('snippets')),
    snippetBox);
  section.querySelector('.urlbox .copy').id = 'copy-url';
  load();
  return section;
}

function downloads(recordsBase, schema) {
  return h('section', { 'aria-labelledby': 'dl-h' },
    h('h2', { id: 'dl-h' }, t('downloads')),
    h('ul', {},
      h('li', {}, h('a', { href: `${recordsBase}?format=csv`, download: true }, t('download_csv'))),
      hasCoordinates(schema) ? h('li', {}, h('a', { href: `${recordsBase}?format=geojson`, download: true }, t('download_geojson'))) : null));
}

/** schema.org Dataset for dataset search engines. */
function jsonLd(m, agencyInfo, latest, base) {
  const url = `${location.origin}/datasets/${m.agency}/${m.slug}`;
  const doc = {
    '@context': 'https://schema.org/',
    '@type': 'Dataset',
    name: m.title,
    description: m.description,
    url,
    identifier: `${m.agency}/${m.slug}`,
    keywords: m.tags,
    license: /^[A-Za-z0-9.+-]+$/.test(m.license) ? `https://spdx.org/licenses/${m.license}.html` : m.license,
    isAccessibleForFree: true,
    dateCreated: m.created_at,
    dateModified: m.updated_at,
    creator: { '@type': 'Organization', name: agencyInfo ? agencyInfo.name : m.agency, url: `${location.origin}/agencies/${m.agency}` },
    ...(m.spatial ? { spatialCoverage: m.spatial } : {}),
    ...(m.temporal ? { temporalCoverage: m.temporal } : {}),
    ...(latest ? {
      version: String(latest.version),
      distribution: [{ '@type': 'DataDownload', encodingFormat: 'text/csv', contentUrl: `${location.origin}${base}/versions/${latest.version}/records?format=csv` }],
      variableMeasured: latest.schema.fields.map((f) => f.name),
    } : {}),
  };
  const s = document.createElement('script');
  s.type = 'application/ld+json';
  s.id = 'dataset-jsonld';
  s.textContent = JSON.stringify(doc).replace(/</g, '\\u003c');
  return s;
}
