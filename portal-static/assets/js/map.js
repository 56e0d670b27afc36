// The dataset map: Leaflet (vendored, loaded only on pages that need it). Points sit on the
// tiles of the server the deployment names (`[portal] map_tiles_url`), or on a plain
// background when none is configured (the portal must work without internet).
import { api } from './api.js';
import { t } from './i18n.js';
import { h, problemBox } from './dom.js';

/** GeoJSON is offered for a geopoint field or a numeric latitude/longitude (lat/lon) pair. */
export function hasCoordinates(schema) {
  const f = new Map(schema.fields.map((x) => [x.name.toLowerCase(), x.type]));
  const num = (n) => f.get(n) === 'number' || f.get(n) === 'integer';
  return schema.fields.some((x) => x.type === 'geopoint')
    || (num('latitude') && num('longitude')) || (num('lat') && num('lon'));
}

let leaflet;
function loadLeaflet() {
  if (!leaflet) {
    leaflet = new Promise((resolve, reject) => {
      document.head.append(h('link', { rel: 'stylesheet', href: '/assets/vendor/leaflet/leaflet.css' }));
      const s = h('script', { src: '/assets/vendor/leaflet/leaflet.js' });
      s.onload = () => resolve(window.L);
      s.onerror = reject;
      document.head.append(s);
    });
  }
  return leaflet;
}

let config;
/** The deployment's portal settings; a failure means no tile server. */
function portalConfig() {
  if (!config) {
    config = fetch('/portal/config.json').then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  }
  return config;
}

export async function showMap(section, url, key) {
  const box = h('div', { class: 'map', id: 'map', role: 'region', 'aria-label': t('map') });
  const note = h('p', { class: 'hint' }, t('map_note'));
  section.append(note, box);
  try {
    const [L, gj, config] = await Promise.all([loadLeaflet(), api(url, { key }), portalConfig()]);
    const tiles = config.map_tiles_url;
    const map = L.map(box, { attributionControl: Boolean(tiles) });
    if (tiles) {
      L.tileLayer(tiles, { attribution: config.map_attribution || '', maxZoom: 19 }).addTo(map);
      note.remove();
    }
    const layer = L.geoJSON(gj, {
      pointToLayer: (_f, ll) => L.circleMarker(ll, { radius: 5, color: '#0b5394', weight: 1, fillOpacity: 0.7 }),
      onEachFeature: (f, l) => {
        // Build the popup as DOM: values are data, never HTML.
        const props = Object.entries(f.properties || {}).slice(0, 6);
        l.bindPopup(h('dl', { class: 'props' }, props.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null ? '' : String(v))])));
      },
    }).addTo(map);
    const b = layer.getBounds();
    if (b.isValid()) map.fitBounds(b, { padding: [12, 12] }); else map.setView([0, 118], 4);
    section.append(h('p', { class: 'hint' }, t('map_points', { n: (gj.features || []).length })));
  } catch (err) {
    section.append(problemBox(err));
  }
}
