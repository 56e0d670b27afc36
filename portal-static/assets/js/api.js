// Calls to the public API (same origin). Errors carry the problem+json body.
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

/** api('/v1/datasets', {method, body, key, token, raw}) → parsed JSON (or null on 204). */
export async function api(path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.key) headers['X-API-Key'] = opts.key;
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(path, { method: opts.method || 'GET', headers, body });
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const enc = encodeURIComponent;

/** `/v1/datasets/{agency}/{dataset}` */
export function datasetPath(agency, dataset) {
  return `/v1/datasets/${enc(agency)}/${enc(dataset)}`;
}

/** Developer key and staff token live for the tab only (sessionStorage), never in a URL. */
export const session = {
  get key() { return sessionStorage.getItem('gerbang.key'); },
  set key(v) { v ? sessionStorage.setItem('gerbang.key', v) : sessionStorage.removeItem('gerbang.key'); },
  get token() { return sessionStorage.getItem('gerbang.token'); },
  set token(v) { v ? sessionStorage.setItem('gerbang.token', v) : sessionStorage.removeItem('gerbang.token'); },
};

/** The claims of a JWT (not verified: the server does that; this only drives the UI). */
export function claims(token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(b64))));
  } catch {
    return null;
  }
}

export const THEMES = ['governance', 'branding', 'economy', 'living', 'society', 'environment'];
