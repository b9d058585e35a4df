// foliostream console: helpers shared by the pages. Everything read from
// the API goes into the DOM through textContent or setAttribute, never as
// markup.
'use strict';

const folio = (() => {
  const SVG = 'http://www.w3.org/2000/svg';

  // el builds an element: attrs are attributes (class, data-*, href...),
  // children are nodes or strings (text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    setAttrs(e, attrs);
    return e;
  }

  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) e.setAttribute(k, String(v));
    }
  }

  async function getJSON(url) {
    const res = await fetch(url, {cache: 'no-cache', headers: {Accept: 'application/json'}});
    let body;
    try {
      body = await res.json();
    } catch (e) {
      throw new Error(`${url}: HTTP ${res.status}`);
    }
    if (!res.ok) throw new Error(body && body.error ? body.error : `${url}: HTTP ${res.status}`);
    return body;
  }

  // Exact decimals: the API sends amounts as decimal strings; they are
  // rounded for display with BigInt arithmetic, half away from zero, as
  // the CLI's table does (shopspring/decimal StringFixed).
  function parseDec(s) {
    s = String(s);
    const neg = s.startsWith('-');
    if (neg || s.startsWith('+')) s = s.slice(1);
    const [i, f = ''] = s.split('.');
    const v = BigInt((i || '0') + f);
    return {v: neg ? -v : v, scale: f.length};
  }

  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  function fixed(s, places) {
    const {v, scale} = parseDec(s);
    let r;
    if (scale <= places) {
      r = v * 10n ** BigInt(places - scale);
    } else {
      const d = 10n ** BigInt(scale - places);
      r = v / d;
      const rem = v % d;
      if ((rem < 0n ? -rem : rem) * 2n >= d) r += v < 0n ? -1n : 1n;
    }
    const neg = r < 0n;
    const digits = (neg ? -r : r).toString().padStart(places + 1, '0');
    const ip = digits.slice(0, digits.length - places);
    const fp = digits.slice(digits.length - places);
    return (neg ? '-' : '') + group(ip) + (places > 0 ? '.' + fp : '');
  }

  function addDec(a, b) {
    const x = parseDec(a), y = parseDec(b);
    const scale = Math.max(x.scale, y.scale);
    const v = x.v * 10n ** BigInt(scale - x.scale) + y.v * 10n ** BigInt(scale - y.scale);
    const neg = v < 0n;
    let digits = (neg ? -v : v).toString().padStart(scale + 1, '0');
    let out = scale > 0 ? digits.slice(0, digits.length - scale) + '.' + digits.slice(digits.length - scale) : digits;
    if (scale > 0) out = out.replace(/\.?0+$/, '');
    return (neg && out !== '0' ? '-' : '') + out;
  }

  const money = (s) => fixed(s, 2);
  const pct = (s) => fixed(s, 4);
  const yesNo = (b) => (b ? 'yes' : 'no');

  // cell is a table cell holding an exact value: data-exact carries it,
  // the text shows it rounded.
  function cell(field, exact, text) {
    return el('td', {'data-field': field, 'data-exact': exact, title: exact, class: 'num'}, text);
  }

  function dayMS(d) {
    return Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10));
  }

  function localTime(iso) {
    if (!iso) return '';
    const t = new Date(iso);
    return t.toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'medium'});
  }

  function duration(ms) {
    if (ms === null || ms === undefined || ms < 0) return '';
    if (ms < 1000) return `${ms} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  // chart draws a line chart as SVG. series: [{name, points: [[day, value
  // string]]}] with days YYYY-MM-DD; every point of a series is a vertex
  // of its polyline (data-points counts them).
  function chart(id, title, series) {
    const W = 440, H = 190, L = 70, R = 10, T = 12, B = 26;
    const all = series.flatMap((s) => s.points);
    const xs = all.map((p) => dayMS(p[0]));
    const ys = all.map((p) => Number(p[1]));
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    let y0 = Math.min(0, ...ys), y1 = Math.max(0, ...ys);
    if (x0 === x1) { x0 -= 86400000; x1 += 86400000; }
    if (y0 === y1) { y1 = y0 + 1; }
    const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
    const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);

    const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title});
    const axis = svg('g', {class: 'axis'});
    axis.append(line(L, py(0), W - R, py(0), 'zero'));
    axis.append(line(L, T, L, H - B, 'yaxis'));
    axis.append(text(L - 4, T + 4, compact(y1), 'end'));
    axis.append(text(L - 4, H - B, compact(y0), 'end'));
    const first = all.length ? all.reduce((a, p) => (p[0] < a ? p[0] : a), all[0][0]) : '';
    const last = all.length ? all.reduce((a, p) => (p[0] > a ? p[0] : a), all[0][0]) : '';
    axis.append(text(L, H - 8, first, 'start'));
    axis.append(text(W - R, H - 8, last, 'end'));
    root.append(axis);

    series.forEach((s, i) => {
      const pts = s.points.map((p) => `${px(dayMS(p[0])).toFixed(1)},${py(Number(p[1])).toFixed(1)}`).join(' ');
      const pl = svg('polyline', {points: pts, class: `series s${i}`, 'data-series': s.name, 'data-points': s.points.length});
      root.append(pl);
      if (s.points.length === 1) {
        const [x, y] = pts.split(',');
        root.append(svg('circle', {cx: x, cy: y, r: 2.5, class: `dot s${i}`}));
      }
    });

    // Hover: the nearest day's values.
    const days = [...new Set(all.map((p) => p[0]))].sort();
    const cursor = svg('line', {class: 'cursor', y1: T, y2: H - B, visibility: 'hidden'});
    const tip = svg('text', {class: 'tip', x: L + 6, y: T + 10, visibility: 'hidden'});
    root.append(cursor, tip);
    root.addEventListener('mousemove', (ev) => {
      const box = root.getBoundingClientRect();
      const x = ((ev.clientX - box.left) / box.width) * W;
      let best = null;
      for (const d of days) {
        if (best === null || Math.abs(px(dayMS(d)) - x) < Math.abs(px(dayMS(best)) - x)) best = d;
      }
      if (best === null) return;
      cursor.setAttribute('x1', px(dayMS(best)));
      cursor.setAttribute('x2', px(dayMS(best)));
      const parts = series.map((s) => {
        let v = null;
        for (const p of s.points) if (p[0] <= best) v = p[1];
        return v === null ? null : `${s.name} ${money(v)}`;
      }).filter(Boolean);
      tip.textContent = `${best}: ${parts.join(' · ')}`;
      cursor.setAttribute('visibility', 'visible');
      tip.setAttribute('visibility', 'visible');
    });
    root.addEventListener('mouseleave', () => {
      cursor.setAttribute('visibility', 'hidden');
      tip.setAttribute('visibility', 'hidden');
    });

    const legend = el('figcaption', {},
      el('span', {class: 'chart-title'}, title),
      ...series.map((s, i) => el('span', {class: `legend s${i}`}, s.name)));
    return el('figure', {class: 'chart-box', 'data-chart': id}, legend, root);
  }

  function line(x1, y1, x2, y2, cls) {
    return svg('line', {x1, y1, x2, y2, class: cls});
  }

  function text(x, y, s, anchor) {
    const t = svg('text', {x, y, 'text-anchor': anchor});
    t.textContent = s;
    return t;
  }

  function compact(n) {
    const a = Math.abs(n);
    if (a >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return n.toFixed(a >= 100 ? 0 : 2);
  }

  // nav lists the accounts in the header.
  async function nav() {
    const box = document.getElementById('accounts-nav');
    if (!box) return;
    try {
      const body = await getJSON('/api/accounts');
      box.replaceChildren(...body.accounts.map((a) =>
        el('a', {href: '/accounts/' + encodeURIComponent(a), 'data-account': a}, a)));
      if (body.accounts.length === 0) box.append(el('span', {class: 'muted'}, 'none yet'));
    } catch (e) {
      box.replaceChildren(el('span', {class: 'muted'}, 'accounts unavailable'));
    }
  }

  return {el, getJSON, fixed, addDec, money, pct, yesNo, cell, chart, localTime, duration, nav};
})();
