// tessera's dashboard: a single page over the HTTP API (/api/v1). Written by hand, no
// build step and no dependency; embedded in the server binary (crates/tessera-server/src/ui.rs).
// Views are chosen by the URL's hash: #/fleet, #/jobs, #/jobs/ID, #/plan, #/whatif, #/procure.
'use strict';

(() => {
  // ---------- policies and scenarios the forms offer (checked against the server's
  // lists by a unit test in ui.rs) ----------
  const POLICIES = [
    'max-min-fairness-perf', 'max-min-fairness', 'fifo-perf', 'fifo',
    'shortest-job-first-perf', 'shortest-job-first', 'least-attained-service-perf',
    'least-attained-service', 'finish-time-fairness-perf', 'finish-time-fairness',
    'min-makespan-perf', 'min-makespan', 'max-sum-throughput-perf', 'max-sum-throughput',
    'min-cost-perf', 'min-cost', 'max-sum-normalized-throughput-perf',
    'max-sum-normalized-throughput',
  ];
  const SCENARIOS = ['baidu-2023'];
  const STATES = ['queued', 'dispatching', 'running', 'preempted', 'succeeded', 'failed', 'cancelled'];
  const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
  const TOKEN_KEY = 'tessera-token';

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let current = null; // the view on screen: {name, refresh()}
  let timer = null;

  // ---------- DOM helpers ----------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, kids);
    return e;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function sv(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    append(e, kids);
    return e;
  }
  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.setAttribute('class', v);
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'value' && 'value' in e) e.value = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  let uid = 0;
  const nextId = (p) => `${p}-${++uid}`;

  // ---------- formatting ----------
  const num = (x, d = 0) => (x === null || x === undefined || !Number.isFinite(Number(x)))
    ? '–'
    : Number(x).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const pct = (x, d = 1) => (x === null || x === undefined) ? '–' : `${num(100 * x, d)}%`;
  function dur(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return '–';
    if (s < 120) return `${num(s, 1)} s`;
    if (s < 7200) return `${num(s / 60, 1)} min`;
    if (s < 3 * 86400) return `${num(s / 3600, 2)} h`;
    return `${num(s / 86400, 2)} d`;
  }
  function when(unix) {
    if (unix === null || unix === undefined) return '–';
    return new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  }
  const clock = (unix) => new Date(unix * 1000).toISOString().slice(11, 19);

  // ---------- API ----------
  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.message ? body.message : `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
      this.field = body && body.field;
    }
  }
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let v;
    try { v = JSON.parse(text); } catch (_) { v = { message: text }; }
    if (!r.ok) throw new ApiError(r.status, v);
    return v;
  }
  function errorBox(e) {
    const where = e.field ? ` (field ${e.field})` : '';
    return el('div', { class: 'error', role: 'alert' },
      el('strong', {}, e.status ? `HTTP ${e.status}${e.code ? ' ' + e.code : ''}` : 'Error'),
      `: ${e.message}${where}`);
  }

  // ---------- tables ----------
  // cols: [{label, get(row) -> string|Node, num?: bool}]
  function table(caption, cols, rows, opts = {}) {
    const t = el('table', { class: opts.class || '' });
    if (caption) t.append(el('caption', {}, caption));
    t.append(el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col', class: c.num ? 'num' : '' }, c.label)))));
    const body = el('tbody');
    if (!rows.length) {
      body.append(el('tr', {}, el('td', { colspan: cols.length, class: 'muted' }, opts.empty || 'none')));
    }
    for (const r of rows) {
      body.append(el('tr', {}, cols.map((c) => el('td', { class: c.num ? 'num' : '' }, c.get(r)))));
    }
    t.append(body);
    return el('div', { class: 'table-wrap' }, t);
  }

  function copyButton(text, label) {
    const b = el('button', { type: 'button', class: 'copy' }, label || 'Copy');
    b.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
      } catch (_) {
        const ta = el('textarea', { class: 'offscreen', 'aria-hidden': 'true' });
        ta.value = text;
        document.body.append(ta);
        ta.select();
        document.execCommand('copy');
        ta.remove();
      }
      b.textContent = 'Copied';
      setTimeout(() => { b.textContent = label || 'Copy'; }, 1500);
    });
    return b;
  }
  function codeBlock(text, label) {
    return el('div', { class: 'code' }, el('pre', {}, el('code', {}, text)), copyButton(text, label));
  }
  const shellQuote = (a) => (/^[A-Za-z0-9_./=:,+@%-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);

  // ---------- charts ----------
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    const step0 = (hi - lo) / Math.max(1, n);
    const mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }
  // opts: {title, xLabel, yLabel, xFmt, yFmt, yMax, series: [{name, points: [[x, y]]}], step}
  function lineChart(opts) {
    const W = 640, H = 260, L = 56, R = 12, T = 12, B = 40;
    const pts = opts.series.flatMap((s) => s.points);
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    let x0 = xs.length ? Math.min(...xs) : 0;
    let x1 = xs.length ? Math.max(...xs) : 1;
    if (x1 - x0 < (opts.minXSpan || 0)) x1 = x0 + opts.minXSpan;
    if (x1 <= x0) x1 = x0 + 1;
    const y0 = 0;
    let y1 = opts.yMax !== undefined ? opts.yMax : Math.max(1e-9, ...ys) * 1.05;
    if (!(y1 > y0)) y1 = 1;
    const X = (x) => L + (W - L - R) * (x - x0) / (x1 - x0);
    const Y = (y) => T + (H - T - B) * (1 - (y - y0) / (y1 - y0));
    const xFmt = opts.xFmt || ((v) => num(v, 1));
    const yFmt = opts.yFmt || ((v) => num(v, 2));
    const g = sv('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${opts.title}: chart; the table below it has the numbers` });
    for (const t of niceTicks(y0, y1, 4)) {
      g.append(sv('line', { x1: L, x2: W - R, y1: Y(t), y2: Y(t), class: 'grid' }));
      g.append(sv('text', { x: L - 6, y: Y(t) + 4, class: 'tick', 'text-anchor': 'end' }, yFmt(t)));
    }
    for (const t of niceTicks(x0, x1, 5)) {
      g.append(sv('line', { x1: X(t), x2: X(t), y1: H - B, y2: H - B + 4, class: 'axis' }));
      g.append(sv('text', { x: X(t), y: H - B + 16, class: 'tick', 'text-anchor': 'middle' }, xFmt(t)));
    }
    g.append(sv('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis' }));
    g.append(sv('line', { x1: L, x2: L, y1: T, y2: H - B, class: 'axis' }));
    g.append(sv('text', { x: (L + W - R) / 2, y: H - 6, class: 'label', 'text-anchor': 'middle' }, opts.xLabel));
    g.append(sv('text', { x: 12, y: (T + H - B) / 2, class: 'label', 'text-anchor': 'middle', transform: `rotate(-90 12 ${(T + H - B) / 2})` }, opts.yLabel));
    opts.series.forEach((s, k) => {
      if (!s.points.length) return;
      let d = '';
      s.points.forEach((p, i) => {
        if (opts.step && i > 0) d += `L${X(p[0]).toFixed(1)},${Y(s.points[i - 1][1]).toFixed(1)}`;
        d += `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
      });
      g.append(sv('path', { d, class: `line s${k % 6}` }, sv('title', {}, s.name)));
    });
    // Hover: the nearest x of every series, with its numbers.
    const cursor = sv('line', { y1: T, y2: H - B, class: 'cursor', visibility: 'hidden' });
    const dots = opts.series.map((s, k) => sv('circle', { r: 3.5, class: `dot s${k % 6}`, visibility: 'hidden' }));
    g.append(cursor, ...dots);
    const tip = el('div', { class: 'tip', hidden: true });
    const overlay = sv('rect', { x: L, y: T, width: W - L - R, height: H - T - B, class: 'overlay' });
    g.append(overlay);
    const nearest = (s, x) => {
      let best = null;
      for (const p of s.points) if (best === null || Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p;
      return best;
    };
    overlay.addEventListener('mousemove', (ev) => {
      const box = g.getBoundingClientRect();
      const vx = (ev.clientX - box.left) * W / box.width;
      const x = x0 + (vx - L) / (W - L - R) * (x1 - x0);
      const lines = [];
      let cx = null;
      opts.series.forEach((s, k) => {
        const p = nearest(s, x);
        if (!p) { dots[k].setAttribute('visibility', 'hidden'); return; }
        cx = p[0];
        dots[k].setAttribute('cx', X(p[0]));
        dots[k].setAttribute('cy', Y(p[1]));
        dots[k].setAttribute('visibility', 'visible');
        lines.push(`${s.name}: ${yFmt(p[1])} at ${xFmt(p[0])}`);
      });
      if (cx === null) return;
      cursor.setAttribute('x1', X(cx));
      cursor.setAttribute('x2', X(cx));
      cursor.setAttribute('visibility', 'visible');
      tip.textContent = lines.join('\n');
      tip.hidden = false;
      const fx = (ev.clientX - box.left);
      tip.style.left = `${Math.min(fx + 12, box.width - 220)}px`;
      tip.style.top = `${(ev.clientY - box.top) + 12}px`;
    });
    overlay.addEventListener('mouseleave', () => {
      tip.hidden = true;
      cursor.setAttribute('visibility', 'hidden');
      dots.forEach((d) => d.setAttribute('visibility', 'hidden'));
    });
    const legend = el('ul', { class: 'legend' }, opts.series.map((s, k) => el('li', {}, el('span', { class: `swatch s${k % 6}`, 'aria-hidden': 'true' }), s.name)));
    const rows = opts.series.flatMap((s) => s.points.map((p) => ({ s: s.name, x: p[0], y: p[1] })));
    const tbl = table(`${opts.title}: the numbers`, [
      { label: 'series', get: (r) => r.s },
      { label: opts.xLabel, get: (r) => xFmt(r.x), num: true },
      { label: opts.yLabel, get: (r) => yFmt(r.y), num: true },
    ], rows, { class: 'compact' });
    tbl.hidden = true;
    const tid = nextId('tbl');
    tbl.id = tid;
    const toggle = el('button', { type: 'button', class: 'link', 'aria-controls': tid, 'aria-expanded': 'false' }, 'Show table');
    toggle.addEventListener('click', () => {
      tbl.hidden = !tbl.hidden;
      toggle.setAttribute('aria-expanded', String(!tbl.hidden));
      toggle.textContent = tbl.hidden ? 'Show table' : 'Hide table';
    });
    return el('figure', { class: 'figure' },
      el('figcaption', {}, opts.title, ' ', toggle),
      el('div', { class: 'plot' }, g, tip), legend, tbl);
  }

  // One bar per attempt over time: where a job ran.
  function placementChart(job, now) {
    const at = job.attempts;
    const W = 640, L = 110, R = 12, T = 8, rowH = 22, B = 36;
    const H = T + rowH * Math.max(1, at.length) + B;
    const t0 = Math.min(job.submitted_at, ...at.map((a) => a.dispatched_at));
    const ends = at.map((a) => a.ended_at || now);
    let t1 = Math.max(now, ...ends);
    if (t1 <= t0) t1 = t0 + 1;
    const X = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
    const g = sv('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'placements over time; the attempts table has the numbers' });
    for (const t of niceTicks(0, t1 - t0, 5)) {
      g.append(sv('line', { x1: X(t0 + t), x2: X(t0 + t), y1: T, y2: H - B, class: 'grid' }));
      g.append(sv('text', { x: X(t0 + t), y: H - B + 14, class: 'tick', 'text-anchor': 'middle' }, dur(t)));
    }
    g.append(sv('text', { x: (L + W) / 2, y: H - 3, class: 'label', 'text-anchor': 'middle' }, 'time since submission'));
    at.forEach((a, i) => {
      const s = a.started_at || a.dispatched_at;
      const e = a.ended_at || now;
      const y = T + i * rowH;
      g.append(sv('text', { x: L - 6, y: y + 15, class: 'tick', 'text-anchor': 'end' }, `#${a.attempt} ${a.pool}`));
      g.append(sv('rect', { x: X(s), y: y + 3, width: Math.max(2, X(e) - X(s)), height: rowH - 6, class: `bar st-${a.state}` },
        sv('title', {}, `attempt ${a.attempt} on ${a.pool} (${a.chips} chips, nodes ${a.nodes || '–'}): ${a.state}, ${when(s)} to ${a.ended_at ? when(e) : 'now'} (${dur(e - s)})`)));
    });
    return el('figure', { class: 'figure' }, el('figcaption', {}, 'Placements over time'), el('div', { class: 'plot' }, g));
  }

  // ---------- forms ----------
  function field(label, input, hint) {
    const id = input.id || nextId('f');
    input.id = id;
    const hid = hint ? nextId('h') : null;
    if (hid) input.setAttribute('aria-describedby', hid);
    return el('div', { class: 'field' },
      el('label', { for: id }, label), input,
      hint ? el('small', { id: hid, class: 'muted' }, hint) : null);
  }
  function input(name, attrs) { return el('input', Object.assign({ name, 'data-field': name }, attrs)); }
  function select(name, options, value) {
    const s = el('select', { name, 'data-field': name });
    for (const o of options) {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      s.append(el('option', { value: v, selected: v === value }, label));
    }
    return s;
  }
  // Marks the field the server named (or none) and shows the message above the form.
  function showFormError(form, box, e) {
    form.querySelectorAll('[aria-invalid]').forEach((x) => x.removeAttribute('aria-invalid'));
    clear(box).append(errorBox(e));
    if (e.field) {
      const f = form.querySelector(`[data-field="${CSS.escape(e.field)}"]`)
        || form.querySelector(`[data-field="${CSS.escape(e.field.split('.').pop())}"]`);
      if (f) { f.setAttribute('aria-invalid', 'true'); f.focus(); }
    }
  }
  const val = (form, name) => {
    const f = form.querySelector(`[name="${name}"]`);
    return f ? f.value.trim() : '';
  };
  const optNum = (form, name) => { const v = val(form, name); return v === '' ? undefined : Number(v); };

  // ---------- shared data ----------
  let modelsCache = null;
  async function models() {
    if (!modelsCache) modelsCache = (await api('GET', '/api/v1/models')).models;
    return modelsCache;
  }
  const modelOptions = (ms) => ms.map((m) => [m.id, `${m.name} (${m.id})`]);

  // ---------- views ----------
  async function viewFleet(root) {
    const today = new Date().toISOString().slice(0, 10);
    const poolsBox = el('section', { 'aria-labelledby': 'h-pools' });
    const utilBox = el('section', { 'aria-labelledby': 'h-util' });
    const exportBox = el('div');
    const date = input('date', { type: 'date', value: today, id: 'export-date' });
    const country = select('country', [['CN', 'China']], 'CN');
    const exportForm = el('form', { class: 'inline' }, field('Buyer country', country), field('Date', date),
      el('button', { type: 'submit' }, 'Check'));
    root.append(el('h1', {}, 'Fleet'), poolsBox, utilBox,
      el('section', { 'aria-labelledby': 'h-export' }, el('h2', { id: 'h-export' }, 'Export status'),
        el('p', { class: 'muted' }, 'The US export rules for a buyer in China, applied to each chip\'s catalog figures and the dated events (tessera export-check; not legal advice).'),
        exportForm, exportBox));
    let chipInfo = {};
    async function loadExport() {
      const r = await api('GET', `/api/v1/chips?country=${encodeURIComponent(country.value)}&date=${encodeURIComponent(date.value || today)}`);
      chipInfo = Object.fromEntries(r.chips.map((c) => [c.id, c]));
      const cols = [
        { label: 'chip', get: (c) => c.name },
        { label: 'vendor', get: (c) => c.vendor },
        { label: 'in fleet', get: (c) => (c.in_fleet ? 'yes' : '') },
        { label: 'rule on the date', get: (c) => c.verdict },
        { label: `buyer in China on ${r.date}`, get: (c) => c.status },
      ];
      clear(exportBox).append(
        table(`Chips of the fleet on ${r.date}`, cols, r.chips.filter((c) => c.in_fleet)),
        el('details', {}, el('summary', {}, `All ${r.chips.length} catalog chips`),
          table(`Catalog chips on ${r.date}`, cols, r.chips)));
    }
    exportForm.addEventListener('submit', (ev) => { ev.preventDefault(); loadExport().catch((e) => clear(exportBox).append(errorBox(e))); });
    async function refresh() {
      const [p, h] = await Promise.all([api('GET', '/api/v1/pools'), api('GET', '/api/v1/pools/history')]);
      const byVendor = {};
      for (const pool of p.pools) {
        const v = (chipInfo[pool.chip] && chipInfo[pool.chip].vendor) || 'unknown vendor';
        (byVendor[v] = byVendor[v] || []).push(pool);
      }
      const cards = Object.keys(byVendor).sort().map((v) => el('div', { class: 'vendor' },
        el('h3', {}, v),
        el('div', { class: 'cards' }, byVendor[v].map((pool) => {
          const free = Math.max(0, pool.chips - pool.chips_used);
          return el('article', { class: 'card', 'data-pool': pool.name },
            el('h4', {}, pool.name),
            el('p', { class: 'muted' }, (chipInfo[pool.chip] && chipInfo[pool.chip].name) || pool.chip, ` · ${pool.engine}${pool.partition ? ' / ' + pool.partition : ''}`),
            el('meter', { min: 0, max: Math.max(1, pool.chips), value: pool.chips_used, 'aria-label': `${pool.name}: chips in use` }),
            el('dl', { class: 'kv' },
              el('dt', {}, 'chips busy'), el('dd', { class: 'busy' }, `${pool.chips_used} of ${pool.chips}`),
              el('dt', {}, 'chips free'), el('dd', {}, String(free)),
              el('dt', {}, 'nodes up / drained / down'), el('dd', {}, `${pool.nodes_up} / ${pool.nodes_drained} / ${pool.nodes_down}`),
              el('dt', {}, 'chips per node'), el('dd', {}, String(pool.chips_per_node))));
        }))));
      const engines = table('Engines', [
        { label: 'engine', get: (e) => e.name },
        { label: 'healthy', get: (e) => (e.healthy ? 'yes' : 'no') },
        { label: 'failures in a row', get: (e) => String(e.failures), num: true },
        { label: 'last error', get: (e) => e.last_error || '' },
      ], p.engines);
      clear(poolsBox).append(el('h2', { id: 'h-pools' }, 'Pools'),
        el('p', { class: 'muted' }, `Round ${p.rounds}, last tick ${p.last_tick_at ? when(p.last_tick_at) : '–'}. Chips count on nodes that are up.`),
        p.pools.length ? el('div', { class: 'vendors' }, cards) : el('p', {}, 'No pools configured.'), engines);
      const series = h.pools.map((name, i) => ({
        name,
        points: h.samples.filter((s) => s.chips[i] > 0).map((s) => [s.t, s.used[i] / s.chips[i]]),
      }));
      clear(utilBox).append(el('h2', { id: 'h-util' }, 'Utilization'),
        el('p', { class: 'muted' }, `Chips in use over chips up, per pool, sampled after scheduling ticks (at most one sample per ${h.sample_every_s} s, the last ${h.keep} kept, since the server started).`),
        lineChart({ title: 'Utilization per pool', xLabel: 'time (UTC)', yLabel: 'chips in use', xFmt: clock, yFmt: (v) => pct(v, 0), yMax: 1, series, step: true, minXSpan: 60 }));
    }
    await loadExport();
    await refresh();
    return { refresh, every: 5000, onEvent: true };
  }

  async function viewJobs(root, params) {
    const list = el('div');
    const fstate = select('state', [['', 'any state'], ...STATES], params.get('state') || '');
    const fkind = select('kind', [['', 'any kind'], 'batch', 'train', 'serve', 'replica'], params.get('kind') || '');
    const fowner = input('owner', { type: 'text', placeholder: 'any team', value: params.get('owner') || '' });
    const fname = input('name', { type: 'search', placeholder: 'part of a name', value: params.get('name') || '' });
    const filters = el('form', { class: 'inline', role: 'search', 'aria-label': 'Filter jobs' },
      field('State', fstate), field('Kind', fkind), field('Team', fowner), field('Name', fname),
      el('button', { type: 'submit' }, 'Filter'));
    filters.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const [k, f] of [['state', fstate], ['kind', fkind], ['owner', fowner], ['name', fname]]) if (f.value) q.set(k, f.value);
      location.hash = `#/jobs${q.toString() ? '?' + q : ''}`;
    });
    root.append(el('h1', {}, 'Jobs'), filters, list, await submitForm());
    async function refresh() {
      const q = new URLSearchParams({ limit: '500' });
      if (fstate.value) q.set('state', fstate.value);
      if (fowner.value) q.set('owner', fowner.value);
      const r = await api('GET', `/api/v1/jobs?${q}`);
      const jobs = r.jobs
        .filter((j) => !fkind.value || j.kind === fkind.value)
        .filter((j) => !fname.value || j.name.toLowerCase().includes(fname.value.toLowerCase()))
        .sort((a, b) => b.id - a.id);
      const last = (j) => j.attempts[j.attempts.length - 1];
      const chipsOf = (j) => (j.spec.resources ? j.spec.resources.chips : (j.spec.chips || ''));
      clear(list).append(table(`${jobs.length} job(s), newest first`, [
        { label: 'id', get: (j) => el('a', { href: `#/jobs/${j.id}` }, String(j.id)), num: true },
        { label: 'name', get: (j) => el('a', { href: `#/jobs/${j.id}` }, j.name) },
        { label: 'kind', get: (j) => j.kind },
        { label: 'team', get: (j) => j.owner },
        { label: 'state', get: (j) => el('span', { class: `badge st-${j.state}`, 'data-state': j.state }, j.state) },
        { label: 'chips', get: (j) => String(chipsOf(j)), num: true },
        { label: 'pool', get: (j) => (last(j) ? last(j).pool : (j.unschedulable ? 'unschedulable' : '')) },
        { label: 'submitted', get: (j) => when(j.submitted_at) },
        { label: 'restarts', get: (j) => String(j.restarts), num: true },
      ], jobs, { empty: 'no jobs match' }));
    }
    await refresh();
    return { refresh, onEvent: true };
  }

  async function submitForm() {
    const box = el('div', { 'aria-live': 'polite' });
    const kind = select('kind', [['batch', 'batch: a script'], ['train', 'train: a model, planned and launched'], ['serve', 'serve: a model behind an SLO']], 'batch');
    const fields = el('div', { class: 'grid' });
    const form = el('form', { id: 'submit-form', 'aria-labelledby': 'h-submit', novalidate: true },
      el('h2', { id: 'h-submit' }, 'Submit a job'),
      token ? null : el('p', { class: 'note' }, 'Submitting needs a token: enter yours at the top.'),
      box, field('Kind', kind), fields,
      el('button', { type: 'submit', disabled: !token }, 'Submit'));
    const ms = await models();
    const pools = (await api('GET', '/api/v1/pools')).pools;
    const chipTypes = [...new Set(pools.map((p) => p.chip))];
    const chipSel = (name) => {
      const s = el('select', { name, 'data-field': name, multiple: true, size: Math.min(4, Math.max(2, chipTypes.length)) });
      chipTypes.forEach((c) => s.append(el('option', { value: c }, c)));
      return s;
    };
    function render() {
      clear(fields);
      const k = kind.value;
      fields.append(field('Name', input('name', { required: true, value: `my-${k}-job`, maxlength: 200 })));
      if (k === 'batch') {
        fields.append(
          field('Command', el('textarea', { name: 'command', 'data-field': 'command', rows: 3, required: true }, 'echo "hello from $TESSERA_CHIP"; sleep 5')),
          field('Chips', input('resources.chips', { type: 'number', min: 1, value: 1, required: true })),
          field('Chip types', chipSel('resources.chip-types'), 'none selected: any pool'),
          field('Priority', input('priority', { type: 'number', min: 0, value: 0 })));
      } else if (k === 'train') {
        fields.append(
          field('Model', select('model', modelOptions(ms), 'llama2-7b')),
          field('Tokens', input('tokens', { type: 'number', min: 1, step: 'any', value: 1e9, required: true })),
          field('Sequence length', input('seq-len', { type: 'number', min: 1, value: 4096 })),
          field('Global batch (sequences)', input('global-batch', { type: 'number', min: 1, placeholder: 'about 4M tokens' })),
          field('Chips', input('resources.chips', { type: 'number', min: 1, value: 8, required: true })),
          field('Chip types', chipSel('resources.chip-types'), 'none selected: any pool'),
          field('Entrypoint', el('textarea', { name: 'entrypoint', 'data-field': 'entrypoint', rows: 2, required: true }, 'echo {framework} {launch}'), '{launch}, {tp}, {pp}, {dp}, {nodes} … are filled in'),
          field('Restart cost (s)', input('checkpoint-restart-s', { type: 'number', min: 0, step: 'any', value: 0 })));
      } else {
        fields.append(
          field('Model', select('model', modelOptions(ms), 'llama2-7b')),
          field('Requests/s', input('rate', { type: 'number', min: 0, step: 'any', value: 1, required: true })),
          field('Input tokens', input('input-len', { type: 'number', min: 1, value: 1024, required: true })),
          field('Output tokens', input('output-len', { type: 'number', min: 1, value: 256, required: true })),
          field('TTFT limit (s)', input('ttft-slo-s', { type: 'number', min: 0, step: 'any', placeholder: 'none' })),
          field('TPOT limit (s)', input('tpot-slo-s', { type: 'number', min: 0, step: 'any', placeholder: '0.2' })),
          field('Chip types', chipSel('chip-types'), 'none selected: any pool'),
          field('Entrypoint', el('textarea', { name: 'entrypoint', 'data-field': 'entrypoint', rows: 2, required: true }, 'echo {framework} {launch}')));
      }
    }
    kind.addEventListener('change', render);
    render();
    const chosen = (name) => {
      const s = form.querySelector(`[name="${name}"]`);
      return s ? [...s.selectedOptions].map((o) => o.value) : [];
    };
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      // The browser's own checks first (required, ranges), with its messages.
      const bad = [...form.querySelectorAll('input, textarea, select')].find((f) => !f.checkValidity());
      if (bad) {
        showFormError(form, box, { message: bad.validationMessage, field: bad.getAttribute('data-field') });
        return;
      }
      const k = kind.value;
      const body = { kind: k, name: val(form, 'name') };
      if (k === 'batch') {
        body.command = val(form, 'command');
        body.priority = optNum(form, 'priority') || 0;
        body.resources = { chips: optNum(form, 'resources.chips') };
        const ct = chosen('resources.chip-types');
        if (ct.length) body.resources['chip-types'] = ct;
      } else if (k === 'train') {
        Object.assign(body, {
          model: val(form, 'model'), tokens: optNum(form, 'tokens'), 'seq-len': optNum(form, 'seq-len'),
          'global-batch': optNum(form, 'global-batch'), entrypoint: val(form, 'entrypoint'),
          'checkpoint-restart-s': optNum(form, 'checkpoint-restart-s'),
          resources: { chips: optNum(form, 'resources.chips') },
        });
        const ct = chosen('resources.chip-types');
        if (ct.length) body.resources['chip-types'] = ct;
      } else {
        Object.assign(body, {
          model: val(form, 'model'), rate: optNum(form, 'rate'), 'input-len': optNum(form, 'input-len'),
          'output-len': optNum(form, 'output-len'), 'ttft-slo-s': optNum(form, 'ttft-slo-s'),
          'tpot-slo-s': optNum(form, 'tpot-slo-s'), entrypoint: val(form, 'entrypoint'),
        });
        const ct = chosen('chip-types');
        if (ct.length) body['chip-types'] = ct;
      }
      for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
      try {
        const r = await api('POST', '/api/v1/jobs', body);
        location.hash = `#/jobs/${r.id}`;
      } catch (e) {
        showFormError(form, box, e);
      }
    });
    return form;
  }

  async function viewJob(root, id) {
    const box = el('div');
    root.append(box);
    async function refresh() {
      // Not while the user is typing in the page's form (the next event or poll redraws).
      const a = document.activeElement;
      if (box.contains(a) && ['INPUT', 'TEXTAREA', 'SELECT'].includes(a.tagName)) return;
      const [j, ev] = await Promise.all([api('GET', `/api/v1/jobs/${id}`), api('GET', `/api/v1/jobs/${id}/events`)]);
      const now = Date.now() / 1000;
      const msg = el('div', { 'aria-live': 'polite' });
      const cancel = el('button', { type: 'button', id: 'cancel', class: 'danger', disabled: !token || FINAL.has(j.state) || j.cancel_requested }, j.cancel_requested ? 'Cancel requested' : 'Cancel job');
      cancel.addEventListener('click', async () => {
        try {
          await api('DELETE', `/api/v1/jobs/${id}`);
          await refresh();
        } catch (e) { clear(msg).append(errorBox(e)); }
      });
      const spec = j.spec;
      const facts = [
        ['kind', j.kind], ['team', j.owner],
        ['state', el('span', { class: `badge st-${j.state}`, id: 'job-state', 'data-state': j.state }, j.state)],
        ['submitted', when(j.submitted_at)], ['updated', when(j.updated_at)],
        ['restarts', String(j.restarts)], ['time lost to restarts', dur(j.lost_s)],
      ];
      if (spec.model) facts.push(['model', spec.model]);
      if (spec.resources) facts.push(['chips', `${spec.resources.chips}${spec.resources['chip-types'] ? ' of ' + spec.resources['chip-types'].join(' or ') : ' of any type'}`]);
      if (spec.tokens) facts.push(['tokens', num(spec.tokens)]);
      if (spec['seq-len']) facts.push(['sequence length', String(spec['seq-len'])]);
      if (spec.rate) facts.push(['requests/s', String(spec.rate)]);
      if (j.unschedulable) facts.push(['unschedulable', j.unschedulable]);
      if (j.parent) facts.push(['serving job', el('a', { href: `#/jobs/${j.parent}` }, `job ${j.parent}`)]);
      const predicted = ev.events.filter((e) => e.kind === 'predicted').pop();
      const launch = ev.events.filter((e) => e.kind === 'launch').pop();
      const parts = [];
      parts.push(el('h1', {}, `Job ${j.id}: ${j.name}`), msg,
        el('dl', { class: 'kv wide' }, facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
        el('p', {}, cancel));
      if (predicted) {
        parts.push(el('section', {}, el('h2', {}, 'Predicted speed per chip type'),
          el('p', { class: 'muted' }, `The training planner's best layout on each pool the job accepts (${when(predicted.at)}).`),
          el('ul', { class: 'plain', id: 'predicted' }, predicted.detail.split('; ').map((s) => el('li', {}, s)))));
      }
      if (launch) {
        const [head, rest] = [launch.detail.split(': ')[0], launch.detail.slice(launch.detail.indexOf(': ') + 2)];
        const kv = rest.split('; ').map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)]);
        const args = (kv.find(([k]) => k === 'LAUNCH_ARGS') || [null, ''])[1];
        parts.push(el('section', {}, el('h2', {}, 'Layout and launch'),
          el('p', { class: 'muted' }, `${head}, ${when(launch.at)}; the variables the script got.`),
          table('', [{ label: 'variable', get: (r) => `TESSERA_${r[0]}` }, { label: 'value', get: (r) => el('code', {}, r[1]) }], kv.filter(([k]) => k !== 'LAUNCH_ARGS')),
          args ? codeBlock(args, 'Copy launch arguments') : null));
      }
      if (j.attempts.length) {
        parts.push(el('section', {}, el('h2', {}, 'Attempts'), placementChart(j, now),
          table('Attempts, oldest first', [
            { label: '#', get: (a) => String(a.attempt), num: true },
            { label: 'pool', get: (a) => a.pool },
            { label: 'engine id', get: (a) => a.engine_id || '–' },
            { label: 'state', get: (a) => el('span', { class: `badge st-${a.state}` }, a.state) },
            { label: 'chips', get: (a) => String(a.chips), num: true },
            { label: 'nodes', get: (a) => a.nodes || '–' },
            { label: 'dispatched', get: (a) => when(a.dispatched_at) },
            { label: 'ran', get: (a) => (a.started_at ? dur((a.ended_at || now) - a.started_at) : '–'), num: true },
            { label: 'exit', get: (a) => (a.exit_code === null ? '–' : String(a.exit_code)), num: true },
          ], j.attempts)));
      }
      if (j.replicas) {
        const n = input('replicas', { type: 'number', min: 1, value: spec.replicas || j.replicas.filter((r) => !FINAL.has(r.state)).length || 1 });
        const sf = el('form', { class: 'inline', id: 'scale-form' }, field('Replicas', n), el('button', { type: 'submit', disabled: !token || FINAL.has(j.state) }, 'Scale'));
        sf.addEventListener('submit', async (e2) => {
          e2.preventDefault();
          try { await api('PATCH', `/api/v1/jobs/${id}`, { replicas: Number(n.value) }); await refresh(); } catch (e) { showFormError(sf, msg, e); }
        });
        parts.push(el('section', {}, el('h2', {}, 'Replicas'), sf, table('', [
          { label: 'replica', get: (r) => String(r.replica), num: true },
          { label: 'job', get: (r) => el('a', { href: `#/jobs/${r.id}` }, String(r.id)) },
          { label: 'state', get: (r) => el('span', { class: `badge st-${r.state}` }, r.state) },
          { label: 'pool', get: (r) => r.pool || '–' },
          { label: 'nodes', get: (r) => r.nodes || '–' },
        ], j.replicas)));
      }
      parts.push(el('section', {}, el('h2', {}, 'Events'), table('', [
        { label: 'when', get: (e) => when(e.at) },
        { label: 'event', get: (e) => e.kind },
        { label: 'detail', get: (e) => e.detail },
      ], ev.events.slice().reverse())));
      parts.push(el('details', {}, el('summary', {}, 'Job specification (JSON)'), el('pre', {}, JSON.stringify(spec, null, 2))));
      clear(box).append(...parts);
    }
    await refresh();
    return { refresh, onEvent: true };
  }

  function tabs(names, render) {
    const bar = el('div', { class: 'tabs', role: 'group', 'aria-label': 'Kind' });
    const body = el('div');
    const show = (n) => {
      bar.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.tab === n)));
      render(n, clear(body));
    };
    names.forEach(([n, label]) => {
      const b = el('button', { type: 'button', 'data-tab': n, 'aria-pressed': 'false' }, label);
      b.addEventListener('click', () => show(n));
      bar.append(b);
    });
    show(names[0][0]);
    return [bar, body];
  }

  const layoutText = (l) => `tp${l.tp} pp${l.pp} dp${l.dp}${l.cp > 1 ? ' cp' + l.cp : ''}${l.ep > 1 ? ' ep' + l.ep : ''} mb${l.micro_batch}${l.vpp > 1 ? ' vpp' + l.vpp : ''}`;
  const launchText = (lv) => [lv.framework, ...lv.args.map(shellQuote)].join(' ');

  // A checkbox per live pool, all checked: the pools a plan may use.
  function poolPicker(pools) {
    const f = el('fieldset', { class: 'checks', 'data-field': 'pools' }, el('legend', {}, 'Pools'),
      pools.map((p) => el('label', {}, el('input', { type: 'checkbox', name: 'pool', value: p.name, checked: true }), ` ${p.name} (${p.chips} × ${p.chip})`)));
    return f;
  }
  const chosenPools = (form) => [...form.querySelectorAll('input[name=pool]:checked')].map((c) => c.value);

  async function viewPlan(root) {
    const ms = await models();
    const pools = (await api('GET', '/api/v1/pools')).pools;
    root.append(el('h1', {}, 'Plan'), el('p', { class: 'muted' }, 'The planners over the live fleet: each pool with the nodes that are up now, and the configured links between pools.'),
      ...tabs([['train', 'Training'], ['serve', 'Serving']], (n, body) => (n === 'train' ? planTrain(body, ms, pools) : planServe(body, ms, pools))));
    return {};
  }

  function planTrain(body, ms, pools) {
    const out = el('div', { id: 'plan-result', 'aria-live': 'polite' });
    const box = el('div');
    const src = select('source', [['catalog', 'a catalog model'], ['hf', 'a pasted Hugging Face config.json']], 'catalog');
    const model = select('model', modelOptions(ms), 'llama2-7b');
    const hf = el('textarea', { name: 'hf-config', 'data-field': 'hf-config', rows: 8, placeholder: '{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, …}' });
    const hfField = field('config.json', hf);
    hfField.hidden = true;
    src.addEventListener('change', () => { hfField.hidden = src.value !== 'hf'; model.parentElement.hidden = src.value === 'hf'; });
    const form = el('form', { id: 'plan-train-form', novalidate: true }, box, el('div', { class: 'grid' },
      field('Model from', src), field('Model', model), hfField,
      field('Sequence length', input('seq-len', { type: 'number', min: 1, value: 4096 })),
      field('Global batch (sequences)', input('global-batch', { type: 'number', min: 1, placeholder: 'about 4M tokens' })),
      field('Tokens to train on', input('tokens', { type: 'number', min: 1, step: 'any', placeholder: 'for days and cost' })),
      field('Precision', select('precision', ['bf16', 'fp8'], 'bf16')),
      field('Objective', select('objective', ['time', 'cost'], 'time')),
      field('Plans to show', input('top', { type: 'number', min: 1, max: 100, value: 5 }))),
    poolPicker(pools), el('button', { type: 'submit' }, 'Plan'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const b = {
        'seq-len': optNum(form, 'seq-len'), 'global-batch': optNum(form, 'global-batch'), tokens: optNum(form, 'tokens'),
        precision: val(form, 'precision'), objective: val(form, 'objective'), top: optNum(form, 'top'),
        pools: chosenPools(form),
      };
      if (src.value === 'hf') b['hf-config'] = hf.value; else b.model = model.value;
      for (const k of Object.keys(b)) if (b[k] === undefined) delete b[k];
      clear(out).append(el('p', { class: 'muted' }, 'Planning…'));
      try {
        const r = await api('POST', '/api/v1/plan/train', b);
        clear(box);
        renderTrainPlan(clear(out), r);
      } catch (e) { clear(out); showFormError(form, box, e); }
    });
    body.append(form, out);
  }

  function renderTrainPlan(out, r) {
    out.append(el('h2', {}, `Ranked layouts for ${r.model}`),
      el('p', { class: 'recommendation' }, r.recommendation),
      el('p', { class: 'muted' }, `${num(r.evaluated)} layouts evaluated, ${num(r.pruned)} pruned, in ${num(r.search_time_s * 1000, 1)} ms (objective: ${r.objective}).`),
      table('Ranked plans', [
        { label: 'rank', get: (p) => String(p.rank), num: true },
        { label: 'pool', get: (p) => p.pool },
        { label: 'chip', get: (p) => p.chip },
        { label: 'chips', get: (p) => `${p.chips} of ${p.pool_chips}`, num: true },
        { label: 'layout', get: (p) => el('span', { class: 'layout' }, layoutText(p.layout)) },
        { label: 'tokens/s', get: (p) => num(p.estimate.tokens_per_s), num: true },
        { label: 'MFU', get: (p) => pct(p.estimate.mfu), num: true },
        { label: 'memory/chip', get: (p) => `${num(p.estimate.memory.total_gib, 1)} GiB`, num: true },
        { label: 'days', get: (p) => num(p.days_to_train, 1), num: true },
        { label: 'USD/M tokens', get: (p) => num(p.usd_per_million_tokens, 3), num: true },
        { label: 'calibrated', get: (p) => (p.calibrated ? 'yes' : 'no') },
      ], r.plans, { empty: 'no layout fits any pool' }));
    r.plans.forEach((p, i) => {
      const block = codeBlock(launchText(p.launch), 'Copy launch');
      const notes = p.launch.notes.length ? el('ul', { class: 'plain muted' }, p.launch.notes.map((n) => el('li', {}, n))) : null;
      if (i === 0) out.append(el('h3', {}, `Launch of the top plan (${p.launch.framework} on ${p.pool})`), ...[block, notes].filter(Boolean));
      else out.append(el('details', {}, el('summary', {}, `Launch of plan ${p.rank} (${p.pool})`), block, notes));
    });
    out.append(el('h3', {}, 'Why the best rejected layouts lost'), table('', [
      { label: 'pool', get: (x) => x.pool },
      { label: 'layout', get: (x) => layoutText(x.layout) },
      { label: 'tokens/s on paper', get: (x) => num(x.tokens_per_s), num: true },
      { label: 'why', get: (x) => x.why },
    ], r.rejected));
    out.append(el('h3', {}, 'Pools'), table('', [
      { label: 'pool', get: (x) => x.pool }, { label: 'chip', get: (x) => x.chip },
      { label: 'chips', get: (x) => String(x.chips), num: true },
      { label: 'best tokens/s', get: (x) => num(x.best_tokens_per_s), num: true },
      { label: 'note', get: (x) => x.note },
    ], r.pools));
    out.append(el('h3', {}, 'Mixed-vendor options'), table('', [
      { label: 'form', get: (m) => m.form },
      { label: 'pools', get: (m) => m.pools.join(' + ') },
      { label: 'tokens/s', get: (m) => num(m.tokens_per_s), num: true },
      { label: 'efficiency', get: (m) => pct(m.efficiency), num: true },
      { label: 'beats the best pool', get: (m) => (m.worthwhile ? 'yes' : 'no') },
      { label: 'note', get: (m) => m.note },
    ], r.mixed, { empty: 'none: configure a [[link]] between two pools' }));
    r.mixed.filter((m) => m.launch).forEach((m) => out.append(el('details', {}, el('summary', {}, `Launch across ${m.pools.join(' + ')} (${m.launch.framework})`), codeBlock(launchText(m.launch), 'Copy launch'),
      m.launch.config ? el('pre', {}, m.launch.config) : null)));
  }

  function planServe(body, ms, pools) {
    const out = el('div', { id: 'serve-result', 'aria-live': 'polite' });
    const box = el('div');
    const form = el('form', { id: 'plan-serve-form', novalidate: true }, box, el('div', { class: 'grid' },
      field('Model', select('model', modelOptions(ms), 'llama2-7b')),
      field('Requests/s', input('rate', { type: 'number', min: 0, step: 'any', value: 10 })),
      field('Input tokens', input('input-len', { type: 'number', min: 1, value: 1024 })),
      field('Output tokens', input('output-len', { type: 'number', min: 1, value: 256 })),
      field('TTFT limit (s)', input('ttft-slo-s', { type: 'number', min: 0, step: 'any', placeholder: 'none' })),
      field('TPOT limit (s)', input('tpot-slo-s', { type: 'number', min: 0, step: 'any', placeholder: '0.2' })),
      field('Precision', select('precision', ['bf16', 'fp8', 'int8', 'int4', 'fp4'], 'bf16')),
      field('Plans to show', input('top', { type: 'number', min: 1, max: 100, value: 5 }))),
    poolPicker(pools), el('button', { type: 'submit' }, 'Plan'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const b = {
        model: val(form, 'model'), rate: optNum(form, 'rate'), 'input-len': optNum(form, 'input-len'), 'output-len': optNum(form, 'output-len'),
        'ttft-slo-s': optNum(form, 'ttft-slo-s'), 'tpot-slo-s': optNum(form, 'tpot-slo-s'), precision: val(form, 'precision'), top: optNum(form, 'top'),
        pools: chosenPools(form),
      };
      for (const k of Object.keys(b)) if (b[k] === undefined) delete b[k];
      clear(out).append(el('p', { class: 'muted' }, 'Planning…'));
      try {
        const r = await api('POST', '/api/v1/plan/serve', b);
        clear(box);
        clear(out).append(el('h2', {}, `Serving plans for ${r.model} at ${r.rate} requests/s`),
          table('Ranked plans', [
            { label: 'rank', get: (p) => String(p.rank), num: true },
            { label: 'pool', get: (p) => p.pool }, { label: 'chip', get: (p) => p.chip },
            { label: 'layout', get: (p) => `tp${p.layout.tp} pp${p.layout.pp}${p.layout.ep > 1 ? ' ep' + p.layout.ep : ''}${p.layout.attn_dp > 1 ? ' attn-dp' + p.layout.attn_dp : ''}` },
            { label: 'replicas', get: (p) => String(p.replicas), num: true },
            { label: 'chips', get: (p) => String(p.chips), num: true },
            { label: 'TTFT p90', get: (p) => dur(p.per_replica.ttft_p90_s), num: true },
            { label: 'TPOT', get: (p) => `${num(p.per_replica.tpot_s * 1000, 1)} ms`, num: true },
            { label: 'output tokens/s per replica', get: (p) => num(p.per_replica.output_tokens_per_s), num: true },
            { label: 'bottleneck', get: (p) => p.per_replica.bottleneck },
            { label: 'USD/M output tokens', get: (p) => num(p.usd_per_million_output_tokens, 3), num: true },
          ], r.plans, { empty: 'no plan meets the limits on any pool' }));
        r.plans.forEach((p, i) => {
          const block = codeBlock(launchText(p.launch), 'Copy launch');
          if (i === 0) out.append(el('h3', {}, `Launch of the top plan (${p.launch.framework})`), block);
          else out.append(el('details', {}, el('summary', {}, `Launch of plan ${p.rank}`), block));
        });
        out.append(el('h3', {}, 'Pools'), table('', [
          { label: 'pool', get: (x) => x.pool }, { label: 'chip', get: (x) => x.chip },
          { label: 'chips', get: (x) => String(x.chips), num: true }, { label: 'note', get: (x) => x.note },
        ], r.pools));
      } catch (e) { clear(out); showFormError(form, box, e); }
    });
    body.append(form, out);
  }

  const SAMPLE_JOBS = `# LLM training jobs: model, chips, tokens, arrival-s (tessera simulate --jobs)
[[job]]
model = "llama2-7b"
chips = 8
tokens = 2e9
arrival-s = 0
repeat = 6
every-s = 1800

[[job]]
model = "llama2-13b"
chips = 16
tokens = 3e9
arrival-s = 600
repeat = 2
every-s = 3600
`;

  // The first jobs of Gavel's small_test.trace (job type, command, working directory,
  // number of steps argument, needs data dir, total steps, scale factor, priority weight,
  // SLO, arrival time), tab-separated.
  const SAMPLE_TRACE = [
    ['Transformer (batch size 128)', 'python3 train.py -data %s/translation/multi30k.atok.low.pt -batch_size 128 -proj_share_weight', 'translation', '-step', '1', '346', '2', '1', '-1.000000', '0'],
    ['Recommendation (batch size 8192)', 'python3 train.py --data_dir %s/ml-20m/pro_sg/ --batch_size 8192', 'recommendation', '-n', '1', '36', '1', '1', '-1.000000', '0'],
    ['Transformer (batch size 256)', 'python3 train.py -data %s/translation/multi30k.atok.low.pt -batch_size 256 -proj_share_weight', 'translation', '-step', '1', '102', '1', '1', '-1.000000', '0'],
  ].map((r) => r.join('\t')).join('\n') + '\n';

  async function viewWhatIf(root) {
    const out = el('div', { id: 'whatif-result', 'aria-live': 'polite' });
    const box = el('div');
    const file = el('input', { type: 'file', accept: '.toml,.trace,text/plain', id: 'jobs-file' });
    const text = el('textarea', { name: 'jobs-toml', 'data-field': 'jobs-toml', rows: 12, spellcheck: 'false' }, SAMPLE_JOBS);
    const kind = select('input', [['jobs', 'an LLM job file (tessera simulate --jobs)'], ['trace', 'a Gavel trace (Gavel\'s throughput table)']], 'jobs');
    const cluster = input('cluster', { placeholder: 'the live fleet' });
    // Each input keeps its own cluster (catalog chips for job files, Gavel's types for traces).
    const clusterOf = { jobs: '', trace: 'v100=4,p100=4,k80=4' };
    let shown = 'jobs';
    kind.addEventListener('change', () => {
      clusterOf[shown] = cluster.value;
      shown = kind.value;
      cluster.value = clusterOf[shown];
      const trace = kind.value === 'trace';
      text.setAttribute('data-field', trace ? 'trace' : 'jobs-toml');
      if (trace && text.value === SAMPLE_JOBS) text.value = SAMPLE_TRACE;
      if (!trace && text.value === SAMPLE_TRACE) text.value = SAMPLE_JOBS;
      cluster.placeholder = trace ? 'Gavel\'s types, e.g. v100=8,p100=16,k80=24' : 'the live fleet';
    });
    file.addEventListener('change', async () => {
      if (!file.files[0]) return;
      text.value = await file.files[0].text();
      kind.value = file.files[0].name.endsWith('.trace') ? 'trace' : 'jobs';
      kind.dispatchEvent(new Event('change'));
    });
    const picks = el('fieldset', { class: 'checks' }, el('legend', {}, 'Policies (up to 6)'),
      POLICIES.map((p, i) => el('label', {}, el('input', { type: 'checkbox', name: 'policy', value: p, checked: i < 3 || p === 'shortest-job-first-perf' }), ` ${p}`)));
    picks.setAttribute('data-field', 'policies');
    const form = el('form', { id: 'whatif-form', novalidate: true }, box,
      field('Input', kind),
      field('Job file or trace', file, 'a tessera job file ([[job]] tables) or a Gavel trace (.trace); it fills the text below'),
      field('Jobs', text),
      picks,
      el('div', { class: 'grid' },
        field('Cluster', cluster, 'TYPE=N,… of catalog chips, e.g. huawei-ascend-910b2=64,nvidia-a800-sxm4-80gb=64; for a Gavel trace of Gavel\'s types'),
        field('Round (s)', input('round-s', { type: 'number', min: 1, value: 360 })),
        field('Restart cost (s)', input('restart-s', { type: 'number', min: 0, value: 0 })),
        field('Link between types', input('link', { placeholder: 'none, e.g. host-staged:12.5' }), 'jobs may also run as gangs across two types'),
        field('Elastic sizes', select('elastic', [['false', 'no'], ['true', 'half or twice the chips']], 'false'))),
      el('button', { type: 'submit' }, 'Compare'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const b = {
        [kind.value === 'trace' ? 'trace' : 'jobs-toml']: text.value,
        policies: [...form.querySelectorAll('input[name=policy]:checked')].map((c) => c.value),
        'round-s': optNum(form, 'round-s'), 'restart-s': optNum(form, 'restart-s'),
        elastic: val(form, 'elastic') === 'true',
      };
      if (val(form, 'cluster')) b.cluster = val(form, 'cluster');
      if (val(form, 'link')) b.link = val(form, 'link');
      clear(out).append(el('p', { class: 'muted' }, 'Replaying…'));
      try {
        const r = await api('POST', '/api/v1/simulate', b);
        clear(box);
        renderWhatIf(clear(out), r);
      } catch (e) { clear(out); showFormError(form, box, e); }
    });
    root.append(el('h1', {}, 'What-if'), el('p', { class: 'muted' }, 'Replays the jobs under each policy with the simulator of tessera simulate --jobs: each job\'s speed on each chip type comes from the training planner.'), form, out);
    return {};
  }

  function renderWhatIf(out, r) {
    const types = r.cluster.map(([t, n]) => `${t}=${n}`).join(', ');
    const h = (s) => dur(s);
    out.append(el('h2', {}, `${r.runs.length} policies on ${types}`),
      table('Summary per policy', [
        { label: 'policy', get: (x) => x.result.policy },
        { label: 'average JCT', get: (x) => h(x.result.avg_jct_s), num: true },
        { label: 'median JCT', get: (x) => h(x.result.median_jct_s), num: true },
        { label: 'p99 JCT', get: (x) => h(x.result.p99_jct_s), num: true },
        { label: 'makespan', get: (x) => h(x.result.makespan_s), num: true },
        { label: 'utilization', get: (x) => x.result.utilization.map((u) => pct(u, 0)).join(' / '), num: true },
        { label: 'worst finish-time ratio', get: (x) => num(x.result.ftf_rho_max, 2), num: true },
        { label: 'preemptions', get: (x) => String(x.result.preemptions), num: true },
        { label: 'unschedulable', get: (x) => String(x.result.unschedulable.length), num: true },
      ], r.runs));
    const cdf = r.runs.map((x) => {
      const j = x.result.jobs.map((y) => y.jct_s).filter((v) => v !== null).sort((a, b) => a - b);
      return { name: x.result.policy, points: j.map((v, i) => [v / 3600, (i + 1) / j.length]) };
    });
    out.append(lineChart({ title: 'Job completion time distribution', xLabel: 'JCT (h)', yLabel: 'fraction of jobs', yFmt: (v) => pct(v, 0), xFmt: (v) => num(v, 2), yMax: 1, series: cdf, step: true }));
    out.append(el('div', { class: 'side' }, r.runs.map((x) => lineChart({
      title: `Utilization, ${x.result.policy}`, xLabel: 'time (h)', yLabel: 'busy', yMax: 1, step: true,
      yFmt: (v) => pct(v, 0), xFmt: (v) => num(v, 1),
      series: r.cluster.map(([t], k) => ({ name: t, points: x.timeline.map((p) => [p.t_s / 3600, p.utilization[k]]) })),
    }))));
    const reasons = r.runs.flatMap((x) => x.result.unschedulable_reasons.map((s) => `${x.result.policy}: ${s}`));
    if (reasons.length) out.append(el('h3', {}, 'Unschedulable jobs'), el('ul', {}, reasons.map((s) => el('li', {}, s))));
  }

  async function viewProcure(root) {
    const out = el('div', { id: 'procure-result', 'aria-live': 'polite' });
    const box = el('div');
    const src = select('source', [...SCENARIOS.map((s) => [s, `built-in: ${s}`]), ['toml', 'a scenario file (TOML)']], SCENARIOS[0]);
    const text = el('textarea', { name: 'scenario-toml', 'data-field': 'scenario-toml', rows: 10, spellcheck: 'false' });
    const file = el('input', { type: 'file', accept: '.toml,text/plain' });
    file.addEventListener('change', async () => { if (file.files[0]) { text.value = await file.files[0].text(); src.value = 'toml'; sync(); } });
    const tomlField = el('div', {}, field('Scenario file', file), field('Scenario', text));
    const sync = () => { tomlField.hidden = src.value !== 'toml'; };
    src.addEventListener('change', sync);
    sync();
    const form = el('form', { id: 'procure-form', novalidate: true }, box, el('div', { class: 'grid' },
      field('Scenario', src),
      field('Chips owned', select('owned', [['live', 'the live pools'], ['scenario', 'the scenario\'s list']], 'live'))),
    tomlField, el('button', { type: 'submit' }, 'Run'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const b = { owned: val(form, 'owned') };
      if (src.value === 'toml') b['scenario-toml'] = text.value; else b.scenario = src.value;
      clear(out).append(el('p', { class: 'muted' }, 'Solving…'));
      try {
        const r = await api('POST', '/api/v1/procure', b);
        clear(box);
        renderProcure(clear(out), r);
      } catch (e) { clear(out); showFormError(form, box, e); }
    });
    root.append(el('h1', {}, 'Procure'), el('p', { class: 'muted' }, 'Purchase planning: the cheapest purchase that meets the scenario\'s training deadlines and serving rates with chips the buyer may obtain on the date.'), form, out);
    return {};
  }

  function renderProcure(out, r) {
    const money = (x) => (x === null || x === undefined ? '–' : `${r.currency} ${num(x)}`);
    out.append(el('h2', {}, `${r.name}: ${r.feasible ? 'a purchase meets every goal' : 'no purchase meets every goal'}`),
      el('p', { class: 'muted' }, `Buyer in ${r.country} on ${r.date}; ${r.solves} solves.`));
    if (r.infeasibility) {
      out.append(el('div', { class: 'error', role: 'status' }, r.infeasibility.reason),
        table('What would make it feasible', [{ label: 'constraint', get: (b) => b.constraint }, { label: 'detail', get: (b) => b.detail }], r.infeasibility.fixes));
    }
    const buy = Object.entries(r.purchase);
    out.append(table('Purchase', [
      { label: 'chip', get: ([c]) => c }, { label: 'chips', get: ([, n]) => num(n), num: true },
      { label: 'nodes', get: ([c]) => num(r.nodes[c]), num: true },
    ], buy, { empty: 'nothing to buy' }),
    el('dl', { class: 'kv wide' },
      el('dt', {}, 'capital cost'), el('dd', { id: 'capital-cost' }, money(r.capital_cost)),
      el('dt', {}, 'power'), el('dd', {}, r.power_kw === null ? '–' : `${num(r.power_kw)} kW`),
      el('dt', {}, 'energy per year'), el('dd', {}, money(r.yearly_energy_cost)),
      el('dt', {}, 'training done in'), el('dd', {}, r.train_days === null ? '–' : `${num(r.train_days, 1)} days`),
      el('dt', {}, 'serving capacity'), el('dd', {}, r.serve_capacity_rps === null ? '–' : `${num(r.serve_capacity_rps, 1)} requests/s`)),
    table('Training assignments', [
      { label: 'model', get: (t) => t.model }, { label: 'chip', get: (t) => (t.parts.length > 1 ? t.parts.map(([c, n]) => `${n} ${c}`).join(' + ') : t.chip) },
      { label: 'chips', get: (t) => num(t.chips), num: true }, { label: 'days', get: (t) => num(t.days, 1), num: true },
      { label: 'deadline (days)', get: (t) => num(t.deadline_days, 1), num: true },
    ], r.train),
    table('Serving assignments', [
      { label: 'model', get: (s) => s.model },
      { label: 'replicas', get: (s) => Object.entries(s.replicas).map(([c, [n, chips]]) => `${n} replica(s) on ${chips} ${c}`).join(', ') },
      { label: 'capacity (req/s)', get: (s) => num(s.capacity_rps, 1), num: true },
      { label: 'target (req/s)', get: (s) => num(s.target_rps, 1), num: true },
    ], r.serve),
    el('h3', {}, 'Binding constraints'),
    table('', [
      { label: 'constraint', get: (b) => b.constraint }, { label: 'detail', get: (b) => b.detail },
      { label: 'cost without it', get: (b) => money(b.cost_without), num: true },
    ], r.binding_constraints),
    el('h3', {}, 'Sensitivity'),
    table('', [
      { label: 'change', get: (s) => s.change }, { label: 'feasible', get: (s) => (s.feasible ? 'yes' : 'no') },
      { label: 'capital cost', get: (s) => money(s.capital_cost), num: true },
      { label: 'purchase changes', get: (s) => (s.purchase_changes ? 'yes' : 'no') },
      { label: 'note', get: (s) => s.note },
    ], r.sensitivity),
    el('h3', {}, 'Chips considered'),
    table('', [
      { label: 'chip', get: (c) => c.chip }, { label: 'owned', get: (c) => num(c.owned), num: true },
      { label: 'buyable', get: (c) => (c.buyable ? 'yes' : `no: ${c.not_buyable_because || ''}`) },
      { label: 'export status', get: (c) => c.export_status || '–' },
      { label: 'price', get: (c) => money(c.price), num: true },
    ], r.chips),
    el('h3', {}, 'Runners-up'),
    table('', [
      { label: 'option', get: (o) => o.label },
      { label: 'purchase', get: (o) => Object.entries(o.purchase).map(([c, n]) => `${n} ${c}`).join(', ') },
      { label: 'capital cost', get: (o) => money(o.capital_cost), num: true },
      { label: 'training days', get: (o) => num(o.train_days, 1), num: true },
    ], r.runners_up));
  }

  // ---------- shell: token, routing, live updates ----------
  function showToken() {
    const s = document.getElementById('token-state');
    s.textContent = token ? 'token set: writes allowed' : 'read-only';
    document.getElementById('token').value = '';
  }

  function route() {
    const hash = location.hash || '#/fleet';
    const [path, query] = hash.slice(1).split('?');
    const parts = path.split('/').filter(Boolean);
    return { view: parts[0] || 'fleet', arg: parts[1], params: new URLSearchParams(query || '') };
  }

  async function render() {
    const r = route();
    if (timer) { clearInterval(timer); timer = null; }
    current = null;
    document.querySelectorAll('nav a').forEach((a) => {
      if (a.dataset.view === r.view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    const root = clear(document.getElementById('main'));
    const views = { fleet: viewFleet, jobs: viewJobs, plan: viewPlan, whatif: viewWhatIf, procure: viewProcure };
    document.title = `tessera · ${r.view}`;
    try {
      let v;
      if (r.view === 'jobs' && r.arg) v = await viewJob(root, r.arg);
      else if (views[r.view]) v = await views[r.view](root, r.params);
      else { root.append(el('h1', {}, 'Not found'), el('p', {}, el('a', { href: '#/fleet' }, 'Go to the fleet'))); return; }
      current = Object.assign({ view: r.view }, v);
      // Views that follow the event stream poll every 5 s while it is down (with
      // read-needs-token the browser's EventSource cannot send the token).
      if (current.every || current.onEvent) {
        timer = setInterval(() => { if (current.every || !streamOpen) safeRefresh(); }, current.every || 5000);
      }
    } catch (e) {
      root.append(errorBox(e));
    }
  }

  let refreshing = false;
  async function safeRefresh() {
    if (!current || !current.refresh || refreshing) return;
    refreshing = true;
    try { await current.refresh(); } catch (e) { console.warn('refresh failed:', e.message); } finally { refreshing = false; }
  }

  // Live updates from the server's event stream: a view that shows jobs refreshes (at
  // most twice a second) when an event arrives.
  let pending = null;
  let streamOpen = false;
  function connectEvents() {
    const live = document.getElementById('live');
    if (typeof EventSource === 'undefined') return;
    const es = new EventSource('/api/v1/events/stream');
    es.onopen = () => { streamOpen = true; live.textContent = 'live'; live.classList.add('on'); };
    es.onerror = () => { streamOpen = false; live.textContent = 'polling'; live.classList.remove('on'); };
    const onAny = () => {
      if (!current || !current.onEvent || pending) return;
      pending = setTimeout(() => { pending = null; safeRefresh(); }, 500);
    };
    es.onmessage = onAny;
    for (const k of ['submitted', 'state', 'dispatching', 'cancel-requested', 'launch', 'predicted', 'scaled', 'replica', 'preempting', 'lost', 'failed', 'rejected', 'sized']) {
      es.addEventListener(k, onAny);
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    // The skip link moves focus to the view (its #main would otherwise be read as a route).
    document.querySelector('.skip').addEventListener('click', (ev) => {
      ev.preventDefault();
      document.getElementById('main').focus();
    });
    document.getElementById('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      token = document.getElementById('token').value.trim();
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
      showToken();
      render();
    });
    document.getElementById('token-forget').addEventListener('click', () => {
      token = '';
      sessionStorage.removeItem(TOKEN_KEY);
      showToken();
      render();
    });
    showToken();
    window.addEventListener('hashchange', render);
    connectEvents();
    render();
  });
})();
