// foliostream console: the account page. It reads
// /api/accounts/{account}/snapshots[?as_of=DAY] (the JSON of `projector
// snapshots`) and draws the charts and tables from it.
'use strict';

(() => {
  const {el, getJSON, money, pct, yesNo, cell, chart, addDec} = folio;
  const account = decodeURIComponent(location.pathname.split('/')[2] || '');
  const status = document.getElementById('status');
  const asOfInput = document.getElementById('as-of');
  const asOfNote = document.getElementById('as-of-note');
  document.getElementById('account-name').textContent = account;
  document.title = `foliostream · ${account}`;

  // The broker snapshot charts: [id, title, series (name, value of a row)].
  const brokerCharts = [
    ['net_cash_flow', 'Net cash flow', [['net cash flow', (r) => r.net_cash_flow]]],
    ['realized_gains', 'Realized gains', [['realized', (r) => r.realized_gains]]],
    ['options_income', 'Options income', [['options', (r) => r.options_income]]],
    ['dividends_received', 'Dividends', [['dividends', (r) => r.dividends_received]]],
    ['commissions_fees', 'Commissions + fees', [['commissions + fees', (r) => addDec(r.commissions, r.fees)]]],
    ['deposited_withdrawn', 'Deposited / withdrawn', [['deposited', (r) => r.deposited], ['withdrawn', (r) => r.withdrawn]]],
  ];

  // The latest broker snapshot table: [field, label, format].
  const brokerFields = [
    ['date', 'Date', null],
    ['movement_counter', 'Movements', null],
    ['net_cash_flow', 'Net cash flow', money],
    ['realized_gains', 'Realized gains', money],
    ['realized_percentage', 'Realized %', pct],
    ['unrealized_gains', 'Unrealized gains', money],
    ['unrealized_gains_percentage', 'Unrealized %', pct],
    ['invested', 'Invested', money],
    ['options_income', 'Options income', money],
    ['dividends_received', 'Dividends', money],
    ['other_income', 'Other income', money],
    ['commissions', 'Commissions', money],
    ['fees', 'Fees', money],
    ['deposited', 'Deposited', money],
    ['withdrawn', 'Withdrawn', money],
    ['open_trades', 'Open trades', yesNo],
  ];

  const tickerFields = [
    ['total_shares', (s) => s],
    ['cost_basis', money],
    ['realized', money],
    ['options', money],
    ['dividends', money],
    ['performance', pct],
  ];

  const opFields = [
    ['realized', money], ['premium', money], ['dividends', money], ['dividend_taxes', money],
    ['commissions', money], ['fees', money], ['capital_deployed', money], ['performance', pct],
  ];

  function groupBy(rows, key) {
    const m = new Map();
    for (const r of rows) {
      const k = key(r);
      if (!m.has(k)) m.set(k, []);
      m.get(k).push(r);
    }
    return m;
  }

  function valueCell(field, v, fmt) {
    if (typeof v === 'boolean') return el('td', {'data-field': field, 'data-exact': String(v)}, fmt ? fmt(v) : String(v));
    if (fmt === null || typeof v === 'number') return el('td', {'data-field': field, 'data-exact': String(v), class: 'num'}, String(v));
    return cell(field, v, fmt(v));
  }

  function renderCurrencies(data) {
    const box = document.getElementById('currencies');
    const byCurrency = groupBy(data.broker_snapshots, (r) => r.currency);
    if (byCurrency.size === 0) {
      box.replaceChildren(el('p', {class: 'muted'}, 'No broker snapshots.'));
      return;
    }
    box.replaceChildren(...[...byCurrency].map(([cur, rows]) => {
      const latest = rows[rows.length - 1];
      const table = el('table', {class: 'data latest', 'data-latest': cur},
        el('tbody', {}, ...brokerFields.map(([f, label, fmt]) =>
          el('tr', {}, el('th', {}, label), valueCell(f, latest[f], fmt)))));
      const charts = brokerCharts.map(([id, title, series]) =>
        chart(id, title, series.map(([name, get]) => ({name, points: rows.map((r) => [r.date, get(r)])}))));
      return el('section', {class: 'currency', 'data-currency': cur},
        el('h2', {}, `${cur} · broker snapshots`, el('small', {class: 'muted'}, ` ${rows.length} ${rows.length === 1 ? 'day' : 'days'}`)),
        el('div', {class: 'currency-grid'},
          el('div', {}, el('h3', {}, `Latest (${latest.date})`), table),
          el('div', {class: 'charts'}, ...charts)));
    }));
  }

  function renderTickers(data) {
    const tbody = document.querySelector('#tickers tbody');
    const charts = document.getElementById('ticker-charts');
    const series = groupBy(data.ticker_snapshots, (r) => `${r.ticker}\u0000${r.currency}`);
    const rows = [];
    const figs = [];
    for (const list of series.values()) {
      const t = list[list.length - 1];
      rows.push(el('tr', {'data-ticker': t.ticker, 'data-currency': t.currency},
        el('td', {'data-field': 'ticker'}, t.ticker),
        el('td', {'data-field': 'currency'}, t.currency),
        el('td', {'data-field': 'date'}, t.date),
        ...tickerFields.map(([f, fmt]) => cell(f, t[f], fmt(t[f]))),
        el('td', {'data-field': 'open_trades', 'data-exact': String(t.open_trades)}, yesNo(t.open_trades))));
      const fig = chart('ticker', `${t.ticker} (${t.currency})`, [
        {name: 'cost basis', points: list.map((r) => [r.date, r.cost_basis])},
        {name: 'realized', points: list.map((r) => [r.date, r.realized])},
        {name: 'options', points: list.map((r) => [r.date, r.options])},
        {name: 'dividends', points: list.map((r) => [r.date, r.dividends])},
      ]);
      fig.dataset.ticker = t.ticker;
      fig.dataset.currency = t.currency;
      figs.push(fig);
    }
    tbody.replaceChildren(...rows);
    charts.replaceChildren(...figs);
    if (rows.length === 0) tbody.append(el('tr', {}, el('td', {colspan: 10, class: 'muted'}, 'No ticker snapshots.')));
  }

  function renderOperations(data) {
    const tbody = document.querySelector('#operations tbody');
    tbody.replaceChildren(...data.operations.map((o, i) => el('tr', {'data-operation': i, 'data-ticker': o.ticker},
      el('td', {'data-field': 'ticker'}, o.ticker),
      el('td', {'data-field': 'currency'}, o.currency),
      el('td', {'data-field': 'is_open', 'data-exact': String(o.is_open)},
        el('span', {class: o.is_open ? 'badge phase-publishing' : 'badge phase-completed'}, o.is_open ? 'open' : 'closed')),
      el('td', {'data-field': 'open_date'}, o.open_date),
      el('td', {'data-field': 'close_date'}, o.close_date || '–'),
      ...opFields.map(([f, fmt]) => cell(f, o[f], fmt(o[f]))))));
    if (data.operations.length === 0) tbody.append(el('tr', {}, el('td', {colspan: 13, class: 'muted'}, 'No operations.')));
  }

  let generation = 0;
  async function load() {
    const gen = ++generation;
    const asOf = asOfInput.value;
    const url = `/api/accounts/${encodeURIComponent(account)}/snapshots` + (asOf ? `?as_of=${encodeURIComponent(asOf)}` : '');
    status.textContent = 'loading…';
    status.classList.remove('error');
    document.body.dataset.loaded = '';
    try {
      const data = await getJSON(url);
      if (gen !== generation) return; // a newer request is on its way
      renderCurrencies(data);
      renderTickers(data);
      renderOperations(data);
      asOfNote.textContent = data.as_of ? `projections as of ${data.as_of}` : 'the stored projections (up to the last day with activity)';
      status.textContent = `${data.broker_snapshots.length} broker rows, ${data.ticker_snapshots.length} ticker rows, ${data.operations.length} operations`;
      document.body.dataset.loaded = data.as_of || 'stored';
    } catch (e) {
      if (gen !== generation) return;
      status.textContent = e.message;
      status.classList.add('error');
      document.body.dataset.loaded = 'error';
    }
  }

  const params = new URLSearchParams(location.search);
  if (/^\d{4}-\d{2}-\d{2}$/.test(params.get('as_of') || '')) asOfInput.value = params.get('as_of');
  asOfInput.addEventListener('change', () => {
    const u = new URL(location.href);
    if (asOfInput.value) u.searchParams.set('as_of', asOfInput.value);
    else u.searchParams.delete('as_of');
    history.replaceState(null, '', u);
    load();
  });
  document.getElementById('latest').addEventListener('click', () => {
    asOfInput.value = '';
    asOfInput.dispatchEvent(new Event('change'));
  });
  document.getElementById('as-of-form').addEventListener('submit', (e) => e.preventDefault());
  folio.nav();
  load();
})();
