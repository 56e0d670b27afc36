// A bar chart as inline SVG (no library: a few dozen bars do not need one).
const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

/** bars: [[label, value]]; the title names the chart for screen readers, and every bar
 * carries its own <title> (label: value). */
export function barChart(bars, title) {
  const w = 600; const hgt = 160; const pad = 20;
  const max = Math.max(1, ...bars.map(([, v]) => v));
  const bw = (w - pad) / Math.max(1, bars.length);
  const root = svg('svg', { viewBox: `0 0 ${w} ${hgt + 20}`, class: 'chart', role: 'img', 'aria-label': title });
  root.append(svg('title', {}, title));
  root.append(svg('text', { x: 0, y: 10 }, String(max)));
  bars.forEach(([label, v], i) => {
    const bh = Math.round((v / max) * (hgt - pad));
    const r = svg('rect', { x: pad + i * bw + 1, y: hgt - bh, width: Math.max(1, bw - 2), height: bh });
    r.append(svg('title', {}, `${label}: ${v}`));
    root.append(r);
    if (i % 5 === 0 || i === bars.length - 1) root.append(svg('text', { x: pad + i * bw, y: hgt + 14 }, label));
  });
  root.append(svg('line', { x1: pad, y1: hgt, x2: w, y2: hgt, stroke: '#6b7580' }));
  return root;
}
