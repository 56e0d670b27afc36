// Home: search box, the six smart-city themes, agencies, counts, recently updated datasets.
import { api, THEMES } from '../api.js';
import { t } from '../i18n.js';
import { h, fmtNum } from '../dom.js';
import { datasetItem } from './catalog.js';

export async function render(view) {
  const [agencies, recent] = await Promise.all([
    api('/v1/agencies'),
    api('/v1/datasets?limit=5'),
  ]);
  const themeCounts = Object.fromEntries((recent.facets?.theme || []).map((f) => [f.value, f.count]));
  view.append(
    h('h1', {}, t('home_title')),
    h('p', {}, t('home_lead')),
    h('form', { class: 'search', role: 'search', action: '/datasets', method: 'get' },
      h('label', { for: 'home-q', class: 'visually-hidden' }, t('search_label')),
      h('input', { id: 'home-q', name: 'q', type: 'search', placeholder: t('search_placeholder') }),
      h('button', { type: 'submit' }, t('search_button'))),
    h('ul', { class: 'stats' },
      h('li', {}, h('strong', {}, fmtNum(recent.total)), t('count_datasets')),
      h('li', {}, h('strong', {}, fmtNum(agencies.data.length)), t('count_agencies')),
      h('li', {}, h('strong', {}, '6'), t('count_themes'))),
    h('h2', {}, t('themes')),
    h('ul', { class: 'grid' }, THEMES.map((th) => h('li', { class: 'card' },
      h('h3', {}, h('a', { href: `/datasets?theme=${th}` }, t(`theme_${th}`))),
      h('p', { class: 'meta' }, t('datasets_n', { n: themeCounts[th] || 0 }))))),
    h('h2', {}, t('recent')),
    h('ul', { class: 'results' }, recent.data.map(datasetItem)),
    h('h2', {}, t('agencies')),
    h('ul', { class: 'grid' }, agencies.data.map((a) => h('li', { class: 'card' },
      h('h3', {}, h('a', { href: `/agencies/${a.slug}` }, a.name)),
      h('p', { class: 'meta' }, t('datasets_n', { n: a.dataset_count })))))
  );
  // The form submits by GET; keep it inside the portal.
  view.querySelector('form.search').addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = view.querySelector('#home-q').value.trim();
    const { navigate } = await import('../app.js');
    navigate(q ? `/datasets?q=${encodeURIComponent(q)}` : '/datasets');
  });
}
