// The portal's shell: a tiny history router over the pages in ./pages/.
import { t, lang, setLang, translateStatic } from './i18n.js';
import { h, fill, problemBox } from './dom.js';

const routes = [
  [/^\/$/, () => import('./pages/home.js')],
  [/^\/datasets\/?$/, () => import('./pages/catalog.js')],
  [/^\/datasets\/([a-z0-9-]+)\/([a-z0-9-]+)\/?$/, () => import('./pages/dataset.js')],
  [/^\/agencies\/([a-z0-9-]+)\/?$/, () => import('./pages/agency.js')],
  [/^\/developers\/?$/, () => import('./pages/developers.js')],
  [/^\/publishers\/?$/, () => import('./pages/publishers.js')],
];

function match(pathname) {
  for (const [re, load] of routes) {
    const m = pathname.match(re);
    if (m) return { load, params: m.slice(1) };
  }
  return null;
}

let renderSeq = 0;

async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  const url = new URL(location.href);
  const route = match(url.pathname);
  document.querySelectorAll('.top nav a').forEach((a) => {
    const p = a.getAttribute('href');
    const current = p === '/' ? url.pathname === '/' : url.pathname.startsWith(p);
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  });
  if (!route) {
    fill(main, h('h1', {}, t('not_found')), h('p', {}, h('a', { href: '/' }, t('nav_home'))));
    return;
  }
  main.setAttribute('aria-busy', 'true');
  try {
    const page = await route.load();
    const view = h('div', {});
    await page.render(view, route.params, url.searchParams);
    if (seq !== renderSeq) return; // a newer navigation won
    fill(main, view);
  } catch (err) {
    if (seq !== renderSeq) return;
    fill(main, h('h1', {}, t('error')), problemBox(err));
  } finally {
    main.removeAttribute('aria-busy');
  }
  const h1 = main.querySelector('h1');
  document.title = `${h1 ? h1.textContent + ' — ' : ''}Gerbang`;
}

/** Navigates inside the portal without a page load. */
export function navigate(href, { replace = false, focus = true } = {}) {
  if (replace) history.replaceState(null, '', href); else history.pushState(null, '', href);
  render().then(() => {
    if (focus) {
      document.getElementById('main').focus({ preventScroll: true });
      window.scrollTo(0, 0);
    }
  });
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !match(url.pathname)) return;
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render());

document.getElementById('lang-switch').addEventListener('click', () => {
  setLang(lang() === 'id' ? 'en' : 'id');
  translateStatic();
  render();
});

translateStatic();
render();
