// Catalog: search with facets (agency, theme, tag), pagination and sorting.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { h, fmtDate, select } from '../dom.js';

const PAGE = 10;

/** One dataset in a result list (shared by home and agency pages). */
export function datasetItem(d) {
  return h('li', {},
    h('h3', {}, h('a', { href: `/datasets/${d.agency}/${d.slug}` }, d.title)),
    h('p', { class: 'meta' },
      `${d.agency} · ${t(`theme_${d.theme}`)} · `,
      d.latest_version ? `${t('latest_version')} v${d.latest_version}` : t('no_version'),
      ` · ${fmtDate(d.updated_at)}`,
      d.access === 'registered' ? ` · ${t('registered_only')}` : ''),
    h('p', {}, d.description.length > 220 ? `${d.description.slice(0, 220)}…` : d.description),
    h('p', {}, d.tags.map((tag) => h('span', { class: 'tag' }, tag))));
}

function query(params, changes) {
  const p = new URLSearchParams(params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '' || v === undefined) p.delete(k); else p.set(k, v);
  }
  if (!('page' in changes)) p.delete('page');
  const s = p.toString();
  return `/datasets${s ? `?${s}` : ''}`;
}

export async function render(view, _params, sp) {
  const { navigate } = await import('../app.js');
  const q = sp.get('q') || '';
  const sort = sp.get('sort') === 'title' ? 'title' : 'updated';
  const page = Math.max(1, parseInt(sp.get('page') || '1', 10) || 1);
  const filters = new URLSearchParams();
  for (const k of ['q', 'agency', 'theme', 'tag']) if (sp.get(k)) filters.set(k, sp.get(k));

  let items; let total; let facets;
  if (sort === 'updated') {
    // The API's own order (most recently updated first): one page per request.
    filters.set('limit', PAGE);
    filters.set('offset', (page - 1) * PAGE);
    const r = await api(`/v1/datasets?${filters}`);
    ({ total, facets } = r);
    items = r.data;
  } else {
    // Other orders: the catalog is small (hundreds), so fetch it all and sort here.
    filters.set('limit', 100);
    let all = []; let offset = 0; let r;
    do {
      filters.set('offset', offset);
      r = await api(`/v1/datasets?${filters}`);
      all = all.concat(r.data);
      offset += r.data.length;
    } while (r.data.length && offset < r.total && offset < 10000);
    ({ total, facets } = r);
    all.sort((a, b) => a.title.localeCompare(b.title));
    items = all.slice((page - 1) * PAGE, page * PAGE);
  }
  const pages = Math.max(1, Math.ceil(total / PAGE));

  const facetBox = (name) => h('fieldset', {},
    h('legend', {}, t(`facet_${name}`)),
    h('ul', {},
      h('li', {}, h('a', { href: query(sp, { [name]: null }), 'aria-current': sp.get(name) ? 'false' : 'true' }, t('all'))),
      (facets?.[name] || []).map((f) => h('li', {},
        h('a', { href: query(sp, { [name]: f.value }), 'aria-current': sp.get(name) === f.value ? 'true' : 'false' },
          name === 'theme' ? t(`theme_${f.value}`) : f.value),
        ` (${f.count})`))));

  const sortSel = select([['updated', t('sort_updated')], ['title', t('sort_title')]], sort);
  sortSel.id = 'sort';
  sortSel.addEventListener('change', () => navigate(query(sp, { sort: sortSel.value === 'updated' ? null : sortSel.value }), { focus: false }));

  const searchForm = h('form', { class: 'search', role: 'search' },
    h('label', { for: 'catalog-q', class: 'visually-hidden' }, t('search_label')),
    h('input', { id: 'catalog-q', name: 'q', type: 'search', value: q, placeholder: t('search_placeholder') }),
    h('button', { type: 'submit' }, t('search_button')));
  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    navigate(query(sp, { q: searchForm.q.value.trim() }), { focus: false });
  });

  view.append(
    h('h1', {}, t('catalog_title')),
    searchForm,
    h('div', { class: 'layout' },
      h('aside', { class: 'facets', 'aria-label': t('filters') }, facetBox('agency'), facetBox('theme'), facetBox('tag'),
        h('a', { href: '/datasets' }, t('clear_filters'))),
      h('div', {},
        h('div', { class: 'row' },
          h('p', { id: 'result-count', role: 'status' }, t('results_n', { n: total })),
          h('div', {}, h('label', { for: 'sort' }, t('sort_label')), sortSel)),
        items.length ? h('ul', { class: 'results', id: 'results' }, items.map(datasetItem)) : h('p', {}, t('no_results')),
        h('nav', { class: 'pager', 'aria-label': 'pagination' },
          page > 1 ? h('a', { href: query(sp, { page: page - 1 }), rel: 'prev' }, t('prev')) : null,
          h('span', {}, t('page_n', { p: page, n: pages })),
          page < pages ? h('a', { href: query(sp, { page: page + 1 }), rel: 'next' }, t('next')) : null))));
}
