// Small DOM helpers: build elements without innerHTML (API text is never parsed as HTML).
import { t, lang } from './i18n.js';

/** h('a', {href: '/x', class: 'c', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    // Set the default too, so form.reset() goes back to it.
    else if (k === 'value') { el.value = v; if ('defaultValue' in el) el.defaultValue = v; }
    else if (k === 'selected') { el.selected = !!v; el.defaultSelected = !!v; }
    else if (k === 'checked' || k === 'disabled' || k === 'required') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form control: label + input/select, tied by id. */
export function field(id, label, control, hint) {
  control.id = id;
  if (!control.name) control.name = id;
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    const hid = `${id}-hint`;
    control.setAttribute('aria-describedby', hid);
    parts.push(h('p', { class: 'hint', id: hid }, hint));
  }
  return h('div', {}, parts);
}

export function select(options, value) {
  return h('select', {}, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

export function fmtDate(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return d.toLocaleDateString(lang() === 'id' ? 'id-ID' : 'en-GB', { year: 'numeric', month: 'short', day: 'numeric' });
}

export function fmtNum(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString(lang() === 'id' ? 'id-ID' : 'en-GB');
}

/** Days since an RFC 3339 time, rendered as "fresh"/"old" text. */
export function freshness(updatedAt) {
  const days = Math.floor((Date.now() - new Date(updatedAt).getTime()) / 86400000);
  const cls = days <= 31 ? 'fresh-ok' : 'fresh-old';
  return h('span', { class: cls }, days <= 0 ? t('updated_today') : t('updated_days_ago', { n: days }));
}

/** Announces a message to screen readers. */
export function announce(msg) {
  const s = document.getElementById('status');
  if (s) s.textContent = msg;
}

/** Copies text; the button says it worked. Falls back to a hidden textarea where the
 * Clipboard API is missing (plain http on a LAN address is not a secure context). */
export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h('textarea', { class: 'visually-hidden', 'aria-hidden': 'true' }, text);
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  if (button) {
    const old = button.textContent;
    button.textContent = t('copied');
    setTimeout(() => { button.textContent = old; }, 1500);
  }
  announce(t('copied'));
}

export function copyButton(getText, label) {
  const b = h('button', { type: 'button', class: 'secondary copy' }, label || t('copy'));
  b.addEventListener('click', () => copyText(getText(), b));
  return b;
}

export function problemBox(err) {
  return h('div', { class: 'alert', role: 'alert' }, err && err.message ? err.message : String(err));
}
