// foliostream console: the imports page. It polls /api/sessions and updates
// the table in place; the page is never reloaded.
'use strict';

(() => {
  const {el, getJSON, localTime, duration} = folio;
  const POLL_MS = 1000;
  const tbody = document.querySelector('#sessions tbody');
  const status = document.getElementById('status');
  const empty = document.getElementById('empty');
  const rows = new Map(); // session ID -> {tr, extra, reportKey, session}

  const fields = ['file', 'account', 'broker', 'phase', 'chunks', 'movements', 'rejected', 'started', 'took', 'error'];

  function newRow(s) {
    const tr = el('tr', {'data-session': s.id});
    for (const f of fields) tr.append(el('td', {'data-field': f}));
    const extra = el('tr', {class: 'extra', 'data-extra-for': s.id, hidden: true},
      el('td', {colspan: fields.length}));
    return {tr, extra, reportKey: null, session: s};
  }

  function setText(td, s) {
    if (td.textContent !== s) td.textContent = s;
  }

  function update(row, s) {
    row.session = s;
    const td = (f) => row.tr.querySelector(`td[data-field="${f}"]`);
    const file = td('file');
    setText(file, s.file);
    file.title = s.path || s.file;
    const acct = td('account');
    if (!acct.firstChild || acct.firstChild.textContent !== s.account) {
      acct.replaceChildren(el('a', {href: '/accounts/' + encodeURIComponent(s.account)}, s.account));
    }
    setText(td('broker'), s.broker);
    const phase = td('phase');
    phase.replaceChildren(el('span', {class: `badge phase-${s.phase}`, 'data-phase': s.phase}, s.phase));
    if (s.unfinished) phase.append(' ', el('span', {class: 'badge unfinished'}, 'unfinished'));
    else if (s.phase === 'publishing') phase.append(' ', el('span', {class: 'muted'}, 'in progress'));
    const chunks = td('chunks');
    chunks.replaceChildren(
      el('span', {'data-value': 'chunks'}, `${s.chunks_published} / ${s.chunks_total}`),
      el('progress', {max: Math.max(s.chunks_total, 1), value: s.chunks_published}),
      el('small', {'data-value': 'stored'}, `stored ${s.chunks_stored}`));
    setText(td('movements'), `${s.movements_published} / ${s.movements}`);
    setText(td('rejected'), String(s.rejected));
    setText(td('started'), localTime(s.started_at));
    const took = s.elapsed_ms !== null ? s.elapsed_ms : (s.started_at ? Date.now() - Date.parse(s.started_at) : null);
    setText(td('took'), duration(took));
    setText(td('error'), s.error || '');
    updateExtra(row, s);
  }

  // The extra row: the resume command of an unfinished session, the report
  // of a failed one or of one with rejected rows.
  function updateExtra(row, s) {
    const needsReport = s.phase === 'failed' || s.rejected > 0;
    row.extra.hidden = !(s.unfinished || needsReport);
    if (row.extra.hidden) return;
    const box = row.extra.firstChild;
    let resume = box.querySelector('.resume');
    if (s.unfinished) {
      if (!resume) {
        resume = el('div', {class: 'resume'});
        box.prepend(resume);
      }
      const text = resume.querySelector('code');
      if (!text || text.textContent !== s.resume_command) {
        resume.replaceChildren('Unfinished import. Resume it with ', el('code', {'data-field': 'resume'}, s.resume_command));
      }
    } else if (resume) {
      resume.remove();
    }
    const key = `${s.phase}/${s.rejected}/${s.error || ''}`;
    if (needsReport && row.reportKey !== key) {
      row.reportKey = key;
      let report = box.querySelector('.report');
      if (report) report.remove();
      report = el('details', {class: 'report', open: s.phase === 'failed'},
        el('summary', {}, s.phase === 'failed' ? `Failed: ${s.error || 'no reason recorded'}` : `${s.rejected} rejected rows`));
      box.append(report);
      loadReport(report, s.id);
    }
  }

  async function loadReport(report, id) {
    try {
      const d = await getJSON('/api/sessions/' + encodeURIComponent(id));
      const rejects = d.rejects || [];
      if (rejects.length === 0) {
        report.append(el('p', {class: 'muted'}, d.rejected > 0 ? 'The rejected rows are not in the session record.' : 'No rejected rows.'));
        return;
      }
      const table = el('table', {class: 'data rejects'},
        el('thead', {}, el('tr', {}, el('th', {}, 'Line'), el('th', {}, 'Column'), el('th', {}, 'Value'), el('th', {}, 'Reason'))),
        el('tbody', {}, ...rejects.map((r) => el('tr', {'data-line': r.line},
          el('td', {class: 'num'}, r.line), el('td', {}, r.column || ''), el('td', {}, r.value || ''), el('td', {}, r.reason)))));
      report.append(table);
      if (d.rejects_truncated) report.append(el('p', {class: 'muted'}, `Only the first ${rejects.length} of ${d.rejected} rows are kept in the record.`));
    } catch (e) {
      report.append(el('p', {class: 'error'}, 'report unavailable: ' + e.message));
    }
  }

  function render(body) {
    const sessions = body.sessions.slice().reverse(); // newest first
    const ids = new Set(sessions.map((s) => s.id));
    for (const [id, row] of rows) {
      if (!ids.has(id)) {
        row.tr.remove();
        row.extra.remove();
        rows.delete(id);
      }
    }
    let prev = null;
    for (const s of sessions) {
      let row = rows.get(s.id);
      if (!row) {
        row = newRow(s);
        rows.set(s.id, row);
      }
      update(row, s);
      // Keep DOM order: newest first, each row followed by its extra row.
      const after = prev ? prev.extra : null;
      if ((after ? after.nextSibling : tbody.firstChild) !== row.tr) {
        tbody.insertBefore(row.tr, after ? after.nextSibling : tbody.firstChild);
      }
      if (row.tr.nextSibling !== row.extra) tbody.insertBefore(row.extra, row.tr.nextSibling);
      prev = row;
    }
    empty.hidden = sessions.length > 0;
    const open = sessions.filter((s) => s.phase === 'publishing' || s.phase === 'sealed').length;
    const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;
    let msg = `${plural(sessions.length, 'session')}, ${open} in progress · updated ${new Date().toLocaleTimeString()}`;
    if (!body.live) msg += ' · ' + (body.warning || 'session records not available: store only');
    status.textContent = msg;
    status.classList.toggle('error', !!body.warning);
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    return sessions.filter((s) => s.phase === 'completed').length;
  }

  // The accounts in the header change when a session completes.
  let lastNav = 0;
  let lastCompleted = -1;
  async function poll() {
    try {
      const completed = render(await getJSON('/api/sessions'));
      if (completed !== lastCompleted || Date.now() - lastNav > 30000) {
        lastNav = Date.now();
        lastCompleted = completed;
        folio.nav();
      }
    } catch (e) {
      status.textContent = 'cannot read the sessions: ' + e.message;
      status.classList.add('error');
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
