// Agency page: its datasets and how fresh each one is.
import { api, enc } from '../api.js';
import { t } from '../i18n.js';
import { h, fmtDate, freshness } from '../dom.js';

export async function render(view, [agency]) {
  const [a, list] = await Promise.all([
    api(`/v1/agencies/${enc(agency)}`),
    api(`/v1/datasets?agency=${enc(agency)}&limit=100`),
  ]);
  view.append(
    h('h1', {}, a.name),
    a.description ? h('p', {}, a.description) : null,
    a.website ? h('p', {}, `${t('website')}: `, h('a', { href: a.website, rel: 'noopener' }, a.website)) : null,
    h('h2', {}, t('agency_datasets'), ` (${list.total})`),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('title')), h('th', { scope: 'col' }, t('f_theme')),
        h('th', { scope: 'col' }, t('latest_version')), h('th', { scope: 'col' }, t('f_updated')), h('th', { scope: 'col' }, t('freshness')))),
      h('tbody', {}, list.data.map((d) => h('tr', {},
        h('td', {}, h('a', { href: `/datasets/${d.agency}/${d.slug}` }, d.title)),
        h('td', {}, t(`theme_${d.theme}`)),
        h('td', {}, d.latest_version ? `v${d.latest_version}` : t('no_version')),
        h('td', {}, fmtDate(d.updated_at)),
        h('td', {}, freshness(d.updated_at))))))));
}
