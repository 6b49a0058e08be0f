// The dashboard page: one ES module, no build step. It listens to /api/events (Server-Sent Events:
// one "snapshot" per refresh, the same body as /api/stats) and fetches records, rejects and chart
// history on demand. Everything from the server is put in the page as text (textContent), never HTML.
import uPlot from '/vendor/uPlot.esm.js';

const $ = (id) => document.getElementById(id);
const intFmt = new Intl.NumberFormat('en-US');
const rateFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
// axis ticks: short enough for a phone's chart (12K, 1.5M)
const tickFmt = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
const MAX_POINTS = 600;
const MAX_LEDGER_ROWS = 200;

const state = {
  snap: undefined,
  route: parseRoute(),
  alive: new Map(), // lane -> last known alive, to announce changes
  chart: undefined,
  chartLane: undefined,
  chartData: [[], [], []],
  logsFor: '', // lane + filter + updatedAt the records table shows
  logsBusy: false,
  logsSeq: 0,
  rejectsFor: '',
  services: new Set(),
  overviewChart: undefined,
  overviewKey: undefined, // the lanes the overview chart was made for
  overviewData: [[]],
};

// --- small helpers ----------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('data-')) el.setAttribute(k, String(v));
    else if (k in el) el[k] = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
  return el;
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(n) : rateFmt.format(n)} ${units[i]}`;
}

function age(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s ago`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s ago`;
  return `${Math.round(ms / 60_000)} min ago`;
}

const REASONS = { stale: 'stats not updated', pid_dead: 'process gone', no_stats: 'no stats.json', unreadable: 'stats.json unreadable' };

function statusText(health) {
  return health.alive ? 'up' : `down · ${REASONS[health.reason] ?? health.reason}`;
}

/** Sets a cell's text and raw value only when it changed (keeps focus and selection stable). */
function put(el, value, text = String(value)) {
  const v = String(value);
  if (el.dataset.value !== v) el.dataset.value = v;
  if (el.textContent !== text) el.textContent = text;
}

function time(ts) {
  if (typeof ts !== 'string') return '';
  const m = /T(\d\d:\d\d:\d\d(?:\.\d+)?)/.exec(ts);
  return m ? m[1] : ts;
}

function parseRoute() {
  const m = /^#\/lane\/(.+)$/.exec(location.hash);
  return m ? { view: 'lane', lane: decodeURIComponent(m[1]) } : { view: 'overview' };
}

// --- overview --------------------------------------------------------------------------------------

// [field, label (a card's caption on a narrow screen), value, text]
const OVERVIEW_FIELDS = [
  ['recordsPerSec', 'Records/s', (l) => l.rates.recordsPerSec, rateFmt.format],
  ['bytesPerSec', 'Bytes/s', (l) => l.rates.bytesPerSec, (n) => `${bytes(n)}/s`],
  ['received', 'Received', (l) => l.totals.received, intFmt.format],
  ['persisted', 'Persisted', (l) => l.totals.persisted, intFmt.format],
  ['rejected', 'Rejected', (l) => l.totals.rejected, intFmt.format],
  ['dropped', 'Dropped', (l) => l.totals.dropped, intFmt.format],
  ['duplicates', 'Duplicates', (l) => l.totals.duplicates, intFmt.format],
  ['gaps', 'Gaps', (l) => l.totals.gaps, intFmt.format],
  ['compressionRatio', 'Compression', (l) => l.totals.compressionRatio ?? '', ratio],
  ['tlsHandshakeFailures', 'TLS fails', (l) => l.totals.tlsHandshakeFailures ?? '', optInt],
  ['connectionsOpen', 'Connections', (l) => l.totals.connectionsOpen, intFmt.format],
];

function ratio(n) {
  return n === '' || n === null || n === undefined ? '—' : `${rateFmt.format(n)}×`;
}

function optInt(n) {
  return n === '' || n === null || n === undefined ? '—' : intFmt.format(n);
}

function renderOverview(snap) {
  const body = $('lanes-body');
  body.querySelector('tr.empty')?.remove();
  for (const lane of snap.lanes) {
    let row = body.querySelector(`tr[data-lane="${CSS.escape(lane.name)}"]`);
    if (!row) {
      row = h('tr', { 'data-lane': lane.name },
        h('th', { scope: 'row' }, h('a', { href: `#/lane/${encodeURIComponent(lane.name)}` }, lane.name)),
        h('td', { 'data-field': 'transport', 'data-label': 'Transport' }),
        h('td', { 'data-label': 'Status' }, h('span', { class: 'status', 'data-field': 'status' })),
        ...OVERVIEW_FIELDS.map(([f, label]) => h('td', { class: 'num', 'data-field': f, 'data-label': label })),
        h('td', { class: 'num', 'data-field': 'age', 'data-label': 'Updated' }),
      );
      body.append(row);
    }
    put(row.querySelector('[data-field="transport"]'), lane.transport);
    put(row.querySelector('[data-field="status"]'), lane.health.alive ? 'up' : 'down', statusText(lane.health));
    for (const [f, , get, fmt] of OVERVIEW_FIELDS) put(row.querySelector(`[data-field="${f}"]`), get(lane), fmt(get(lane)));
    put(row.querySelector('[data-field="age"]'), lane.health.ageMs ?? '', age(lane.health.ageMs));
  }
  renderLedgerAll(snap);
}

// [field, label (a card's caption on a narrow screen)]
const LEDGER_FIELDS = [['hwm', 'HWM'], ['received', 'Received'], ['gaps', 'Gaps'], ['duplicates', 'Duplicates'], ['reordered', 'Reordered']];

function ledgerCells(st) {
  return LEDGER_FIELDS.map(([f, label]) => h('td', { class: 'num', 'data-field': f, 'data-label': label, 'data-value': st?.[f] ?? '' }, typeof st?.[f] === 'number' ? intFmt.format(st[f]) : '—'));
}

/** The overview's ledger: every stream of every lane (bounded), rebuilt from each snapshot. */
function renderLedgerAll(snap) {
  const rows = [];
  let total = 0;
  for (const lane of snap.lanes) {
    const streams = lane.stats?.streams && typeof lane.stats.streams === 'object' ? Object.entries(lane.stats.streams) : [];
    total += streams.length;
    for (const [id, st] of streams) {
      if (rows.length >= MAX_LEDGER_ROWS) break;
      rows.push(h('tr', { 'data-ledger-lane': lane.name, 'data-stream': id }, h('th', { scope: 'row' }, lane.name), h('td', { 'data-label': 'Stream' }, id), ...ledgerCells(st)));
    }
  }
  if (!rows.length) rows.push(h('tr', { class: 'empty' }, h('td', { colSpan: 7 }, 'No streams yet.')));
  $('ledger-all-body').replaceChildren(...rows);
  put($('ledger-all-note'), total > MAX_LEDGER_ROWS ? `Showing ${MAX_LEDGER_ROWS} of ${total} streams; each lane's page lists its own.` : '');
}

// --- one lane ---------------------------------------------------------------------------------------

const TOTAL_CARDS = [
  ['recordsPerSec', 'Records/s', (l) => l.rates.recordsPerSec, rateFmt.format],
  ['bytesPerSec', 'Wire bytes/s', (l) => l.rates.bytesPerSec, (n) => `${bytes(n)}/s`],
  ['received', 'Received', (l) => l.totals.received, intFmt.format],
  ['persisted', 'Persisted', (l) => l.totals.persisted, intFmt.format],
  ['rejected', 'Rejected', (l) => l.totals.rejected, intFmt.format],
  ['duplicates', 'Duplicates', (l) => l.totals.duplicates, intFmt.format],
  ['dropped', 'Dropped', (l) => l.totals.dropped, intFmt.format],
  ['gaps', 'Gaps', (l) => l.totals.gaps, intFmt.format],
  ['reordered', 'Reordered', (l) => l.totals.reordered, intFmt.format],
  ['connectionsOpen', 'Connections open', (l) => l.totals.connectionsOpen, intFmt.format],
  ['connectionsTotal', 'Connections total', (l) => l.totals.connectionsTotal, intFmt.format],
  ['bytesWire', 'Wire bytes', (l) => l.totals.bytesWire, bytes],
  ['bytesDecoded', 'Decoded bytes', (l) => l.totals.bytesDecoded, bytes],
  ['compressionRatio', 'Compression ratio', (l) => l.totals.compressionRatio ?? '', ratio],
  ['tlsHandshakeFailures', 'TLS handshake failures', (l) => l.totals.tlsHandshakeFailures ?? '', optInt],
  ['writesRefused', 'Writes refused', (l) => (l.totals.writesRefused ? Object.values(l.totals.writesRefused).reduce((a, b) => a + b, 0) : ''), optInt],
  ['streams', 'Streams', (l) => l.totals.streams, intFmt.format],
];

function renderCards(dl, items) {
  const keys = new Set();
  for (const [key, label, value, text] of items) {
    keys.add(key);
    let dd = dl.querySelector(`dd[data-field="${CSS.escape(key)}"]`);
    if (!dd) {
      dd = h('dd', { 'data-field': key });
      dl.append(h('div', {}, h('dt', {}, label), dd));
    }
    put(dd, value, text);
  }
  // another lane's reasons must not stay on the page
  for (const dd of dl.querySelectorAll('dd[data-field]')) if (!keys.has(dd.dataset.field)) dd.parentElement.remove();
}

function renderLane(lane) {
  put($('lane-name'), lane.name);
  const st = $('lane-status');
  st.className = 'status';
  put(st, lane.health.alive ? 'up' : 'down', statusText(lane.health));
  const s = lane.stats ?? {};
  const meta = [`transport ${lane.transport}`, `data dir ${lane.dataDir}`];
  if (lane.health.pid) meta.push(`pid ${lane.health.pid}`);
  if (s.startedAt) meta.push(`started ${s.startedAt}`);
  meta.push(`updated ${age(lane.health.ageMs)}`);
  if (lane.statsError) meta.push(lane.statsError);
  put($('lane-meta'), meta.join(' · '));
  renderCards($('lane-totals'), TOTAL_CARDS.map(([k, label, get, fmt]) => [k, label, get(lane), fmt(get(lane))]));
  renderTls(s.tls);
  renderLedger(s.streams);
  const reasons = s.rejects && typeof s.rejects === 'object' ? Object.entries(s.rejects).filter(([, n]) => typeof n === 'number') : [];
  renderCards($('reject-reasons'), reasons.map(([r, n]) => [r, r, n, intFmt.format(n)]));
  const drops = Object.entries(lane.totals.drops ?? {});
  renderCards($('drop-reasons'), drops.map(([r, n]) => [r, r, n, intFmt.format(n)]));
  put($('drops-note'), drops.length ? '' : 'Nothing dropped.');
}

function renderLedger(streams) {
  const body = $('ledger-body');
  const entries = streams && typeof streams === 'object' ? Object.entries(streams) : [];
  entries.sort((a, b) => Number(a[0]) - Number(b[0]) || (a[0] < b[0] ? -1 : 1));
  const shown = entries.slice(0, MAX_LEDGER_ROWS);
  const rows = shown.map(([id, st]) =>
    h('tr', { 'data-stream': id },
      h('th', { scope: 'row' }, id),
      ...ledgerCells(st),
    ));
  if (!rows.length) rows.push(h('tr', { class: 'empty' }, h('td', { colSpan: 6 }, 'No streams yet (text lanes have none).')));
  body.replaceChildren(...rows);
  put($('ledger-note'), entries.length > shown.length ? `Showing ${shown.length} of ${entries.length} streams.` : '');
}

const TLS_LABELS = {
  version: 'Protocol version', protocol: 'Protocol version', cipher: 'Cipher', mtls: 'Client certificates required',
  requestCert: 'Client certificates requested', clientSubjects: 'Client subjects', handshakeFailures: 'Handshake failures by reason',
  handshakes: 'Handshakes', certificate: 'Server certificate', serverCert: 'Server certificate', sessions: 'Sessions',
};

function tlsLabel(k) {
  return TLS_LABELS[k] ?? k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
}

function scalarText(v) {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return intFmt.format(v);
  return String(v);
}

/** The tls section has no fixed shape beyond a few names: show scalars as a list, maps as tables. */
function tlsBlock(value, depth) {
  const dl = h('dl');
  const blocks = [];
  for (const [k, v] of Object.entries(value)) {
    if (v === null || typeof v !== 'object') dl.append(h('dt', {}, tlsLabel(k)), h('dd', { 'data-field': `tls.${k}` }, scalarText(v)));
    else if (Array.isArray(v)) dl.append(h('dt', {}, tlsLabel(k)), h('dd', { 'data-field': `tls.${k}` }, v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : 'none'));
    else if (Object.values(v).every((x) => typeof x === 'number')) {
      const entries = Object.entries(v);
      blocks.push(h('h4', {}, tlsLabel(k)));
      blocks.push(entries.length
        ? h('table', { 'data-field': `tls.${k}` },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'num' }, 'Count'))),
            h('tbody', {}, ...entries.map(([name, n]) => h('tr', {}, h('td', {}, name), h('td', { class: 'num' }, intFmt.format(n))))))
        : h('p', { class: 'note' }, 'none'));
    } else if (depth < 2) {
      blocks.push(h('h4', {}, tlsLabel(k)), tlsBlock(v, depth + 1));
    } else dl.append(h('dt', {}, tlsLabel(k)), h('dd', {}, JSON.stringify(v)));
  }
  return h('div', {}, dl, ...blocks);
}

function renderTls(tls) {
  const sec = $('lane-tls');
  if (!tls || typeof tls !== 'object') {
    sec.hidden = true;
    return;
  }
  const key = JSON.stringify(tls);
  if (sec.dataset.key === key && !sec.hidden) return;
  sec.dataset.key = key;
  $('tls-body').replaceChildren(tlsBlock(tls, 0));
  sec.hidden = false;
}

// --- chart (uPlot) ----------------------------------------------------------------------------------

async function ensureChart(laneName) {
  // chartLane is set while the history loads too: one chart per lane visit, however many snapshots arrive
  if (state.chartLane === laneName) return;
  state.chart?.destroy();
  state.chart = undefined;
  state.chartLane = laneName;
  let hist;
  try {
    const res = await fetch(`/api/history?lane=${encodeURIComponent(laneName)}`);
    hist = res.ok ? await res.json() : undefined;
  } catch {
    hist = undefined;
  }
  if (state.chartLane !== laneName) return; // the user moved on meanwhile
  if (!hist) {
    state.chartLane = undefined; // try again on the next snapshot
    return;
  }
  state.chartData = [hist.t, hist.recordsPerSec, hist.bytesPerSec];
  const el = $('rate-chart');
  el.replaceChildren();
  state.chart = new uPlot(
    {
      width: chartWidth(el),
      height: chartHeight(),
      scales: { x: { time: true }, rec: { auto: true, range: (_u, min, max) => [0, Math.max(1, max * 1.1)] }, bytes: { auto: true, range: (_u, min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [
        {},
        { label: 'records/s', scale: 'rec', stroke: '#2563eb', width: 2, value: (_u, v) => (v == null ? '—' : rateFmt.format(v)) },
        { label: 'wire bytes/s', scale: 'bytes', stroke: '#d97706', width: 2, dash: [6, 3], value: (_u, v) => (v == null ? '—' : `${bytes(v)}/s`) },
      ],
      axes: [
        {},
        { scale: 'rec', label: 'records/s', size: 60, values: (_u, ticks) => ticks.map((v) => tickFmt.format(v)) },
        { scale: 'bytes', side: 1, label: 'bytes/s', size: 80, grid: { show: false }, values: (_u, ticks) => ticks.map((v) => bytes(v)) },
      ],
    },
    state.chartData,
    el,
  );
}

function pushChartPoint(snap, lane) {
  if (!state.chart || state.chartLane !== lane.name) return;
  const [t, r, b] = state.chartData;
  t.push(Date.parse(snap.now) / 1000);
  r.push(lane.rates.recordsPerSec);
  b.push(lane.rates.bytesPerSec);
  if (t.length > MAX_POINTS) {
    t.shift();
    r.shift();
    b.shift();
  }
  state.chart.setData(state.chartData);
}

// --- the overview's chart: records/s of every lane over the last minutes ---------------------------

const OVERVIEW_WINDOW_S = 5 * 60;
// distinct at a glance, and in both colour schemes
const LANE_COLOURS = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#ea580c', '#0d9488', '#4b5563'];

const chartWidth = (el) => Math.max(240, el.clientWidth - 16);
const chartHeight = () => (innerWidth < 600 ? 200 : 240);

async function ensureOverviewChart(snap) {
  const names = snap.lanes.map((l) => l.name);
  const key = names.join('\n');
  if (state.overviewKey === key) return;
  state.overviewChart?.destroy();
  state.overviewChart = undefined;
  state.overviewKey = key;
  let hist;
  try {
    const res = await fetch('/api/history');
    hist = res.ok ? await res.json() : undefined;
  } catch {
    hist = undefined;
  }
  if (state.overviewKey !== key || state.route.view !== 'overview') return;
  if (!hist) {
    state.overviewKey = undefined; // try again on the next snapshot
    return;
  }
  // the monitors refresh on the same tick: one time axis (the first lane's), a series per lane
  const byLane = new Map(hist.lanes.map((l) => [l.lane, l]));
  const t = [...(hist.lanes[0]?.t ?? [])];
  state.overviewData = [t, ...names.map((n) => {
    const l = byLane.get(n);
    return l && l.t.length === t.length ? [...l.recordsPerSec] : t.map(() => null);
  })];
  trimOverview(Date.parse(snap.now) / 1000);
  const el = $('overview-chart');
  el.replaceChildren();
  state.overviewChart = new uPlot(
    {
      width: chartWidth(el),
      height: chartHeight(),
      scales: { x: { time: true }, y: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: LANE_COLOURS[i % LANE_COLOURS.length], width: 2, value: (_u, v) => (v == null ? '—' : rateFmt.format(v)) }))],
      axes: [{}, { label: 'records/s', size: 60, values: (_u, ticks) => ticks.map((v) => tickFmt.format(v)) }],
    },
    state.overviewData,
    el,
  );
}

/** Only the last OVERVIEW_WINDOW_S seconds. */
function trimOverview(now) {
  const [t] = state.overviewData;
  let drop = 0;
  while (drop < t.length && t[drop] < now - OVERVIEW_WINDOW_S) drop++;
  if (drop) for (const arr of state.overviewData) arr.splice(0, drop);
}

function pushOverviewPoint(snap) {
  if (!state.overviewChart || state.overviewKey !== snap.lanes.map((l) => l.name).join('\n')) return;
  const now = Date.parse(snap.now) / 1000;
  state.overviewData[0].push(now);
  snap.lanes.forEach((l, i) => state.overviewData[i + 1].push(l.rates.recordsPerSec));
  trimOverview(now);
  state.overviewChart.setData(state.overviewData);
}

function dropOverviewChart() {
  state.overviewChart?.destroy();
  state.overviewChart = undefined;
  state.overviewKey = undefined;
}

addEventListener('resize', () => {
  const el = $('rate-chart');
  state.chart?.setSize({ width: chartWidth(el), height: chartHeight() });
  const ov = $('overview-chart');
  state.overviewChart?.setSize({ width: chartWidth(ov), height: chartHeight() });
});

// --- records and rejects ----------------------------------------------------------------------------

function filterValues() {
  return { level: $('f-level').value, service: $('f-service').value.trim(), limit: $('f-limit').value };
}

async function loadRecords(lane, force = false) {
  const f = filterValues();
  const key = JSON.stringify([lane.name, f, lane.health.updatedAt, lane.totals.persisted]);
  if (!force && (key === state.logsFor || state.logsBusy)) return;
  state.logsBusy = true;
  const seq = ++state.logsSeq;
  try {
    const qs = new URLSearchParams({ lane: lane.name, limit: f.limit });
    if (f.level) qs.set('level', f.level);
    if (f.service) qs.set('service', f.service);
    const res = await fetch(`/api/logs?${qs}`);
    const body = await res.json();
    if (seq !== state.logsSeq) return; // a newer request (e.g. the filter changed) answers instead
    if (!res.ok) {
      put($('records-note'), `Cannot show records: ${body.error?.message ?? res.status}`);
      return;
    }
    state.logsFor = key;
    const rows = body.records.map(({ record: r }) => {
      const rx = r._rx ?? {};
      if (typeof r.service === 'string') state.services.add(r.service);
      return h('tr', { 'data-level': r.level ?? '' },
        h('td', { title: r.ts ?? '' }, time(r.ts)),
        h('td', { class: `lvl lvl-${r.level}` }, r.level ?? ''),
        h('td', {}, r.service ?? ''),
        h('td', {}, r.host ?? ''),
        h('td', { class: 'msg' }, typeof r.msg === 'string' ? r.msg : JSON.stringify(r.msg)),
        h('td', { class: 'num' }, rx.stream !== undefined ? `${rx.stream}/${rx.seq}` : ''),
        h('td', {}, rx.peer ?? ''),
      );
    });
    if (!rows.length) rows.push(h('tr', { class: 'empty' }, h('td', { colSpan: 7 }, 'No records match.')));
    $('records-body').replaceChildren(...rows);
    put($('records-note'), `${body.count} record${body.count === 1 ? '' : 's'}, newest first${f.level ? `, level ${f.level}` : ''}${f.service ? `, service ${f.service}` : ''}.`);
    const dl = $('services');
    if (dl.childElementCount !== state.services.size) dl.replaceChildren(...[...state.services].sort().map((s) => h('option', { value: s })));
  } catch (err) {
    put($('records-note'), `Cannot show records: ${err}`);
  } finally {
    if (seq === state.logsSeq) state.logsBusy = false;
  }
}

async function loadRejects(lane) {
  const key = JSON.stringify([lane.name, lane.totals.rejected]);
  if (key === state.rejectsFor) return;
  state.rejectsFor = key;
  const res = await fetch(`/api/rejects?lane=${encodeURIComponent(lane.name)}&limit=50`);
  if (!res.ok) return;
  const body = await res.json();
  const rows = body.rejects.map((r) =>
    h('tr', {},
      h('td', { title: r.ts ?? '' }, time(r.ts)),
      h('td', {}, r.reason ?? ''),
      h('td', { class: 'num' }, r.seq ?? ''),
      h('td', {}, r.peer ?? ''),
      h('td', { class: 'sample' }, typeof r.sample === 'string' ? r.sample : JSON.stringify(r.sample ?? '')),
    ));
  if (!rows.length) rows.push(h('tr', { class: 'empty' }, h('td', { colSpan: 5 }, 'No rejects.')));
  $('rejects-body').replaceChildren(...rows);
}

// --- wiring ---------------------------------------------------------------------------------------------

function announce(snap) {
  const changes = [];
  for (const lane of snap.lanes) {
    const before = state.alive.get(lane.name);
    if (before !== undefined && before !== lane.health.alive) changes.push(`Lane ${lane.name} is ${statusText(lane.health)}.`);
    state.alive.set(lane.name, lane.health.alive);
  }
  if (changes.length) $('announce').textContent = changes.join(' ');
  const down = snap.lanes.filter((l) => !l.health.alive).length;
  document.title = `${down ? `(${down} down) ` : ''}LogStream dashboard`;
}

function render() {
  const snap = state.snap;
  const r = state.route;
  $('view-overview').hidden = r.view !== 'overview';
  $('view-chart').hidden = r.view !== 'overview';
  $('view-ledger').hidden = r.view !== 'overview';
  put($('chart-minutes'), OVERVIEW_WINDOW_S / 60);
  $('view-lane').hidden = r.view !== 'lane';
  if (!snap) return;
  put($('stale-s'), snap.staleMs / 1000);
  renderOverview(snap);
  if (r.view === 'overview') void ensureOverviewChart(snap);
  if (r.view === 'lane') {
    const lane = snap.lanes.find((l) => l.name === r.lane);
    if (!lane) {
      put($('lane-name'), r.lane);
      put($('lane-meta'), 'No such lane on this dashboard.');
      return;
    }
    renderLane(lane);
    void ensureChart(lane.name);
    void loadRecords(lane);
    void loadRejects(lane);
  }
}

function onSnapshot(snap) {
  state.snap = snap;
  announce(snap);
  render();
  if (state.route.view === 'overview') pushOverviewPoint(snap);
  if (state.route.view === 'lane') {
    const lane = snap.lanes.find((l) => l.name === state.route.lane);
    if (lane) pushChartPoint(snap, lane);
  }
}

addEventListener('hashchange', () => {
  state.route = parseRoute();
  state.logsFor = '';
  state.rejectsFor = '';
  if (state.route.view !== 'lane') {
    state.chart?.destroy();
    state.chart = undefined;
    state.chartLane = undefined;
  }
  if (state.route.view !== 'overview') dropOverviewChart();
  render();
  $('main').focus();
});

$('filter').addEventListener('submit', (e) => {
  e.preventDefault();
  const lane = state.snap?.lanes.find((l) => l.name === state.route.lane);
  if (lane) void loadRecords(lane, true);
});
for (const id of ['f-level', 'f-limit']) {
  $(id).addEventListener('change', () => $('filter').requestSubmit());
}

function connect() {
  const conn = $('conn');
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => {
    conn.dataset.state = 'live';
    conn.textContent = 'live';
  });
  es.addEventListener('error', () => {
    conn.dataset.state = 'lost';
    conn.textContent = 'connection to the dashboard lost — retrying';
  });
  es.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
}

render();
connect();
