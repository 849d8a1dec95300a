// The SQL page: a read-only query over the lake's tables (POST /api/v1/sql, the server's
// sandbox), its answer as a table, or the server's reason for refusing it.
import { api } from './api.js';
import { dataTable, el, errorBox, NUMERIC_TYPE } from './dom.js';

const EXAMPLE =
  'SELECT status, count(*) AS orders\nFROM orders_current\nGROUP BY status\nORDER BY orders DESC';

export function renderSql(main, params) {
  const text = el('textarea', { name: 'sql', rows: 8, spellcheck: 'false', 'aria-label': 'SQL' });
  text.value = params.get('q') ?? sessionStorage.getItem('tributary.sql') ?? EXAMPLE;
  const maxRows = el('input', { name: 'maxRows', type: 'number', min: 1, value: 1000 });
  const result = el('div', { class: 'sql-result' });
  const run = el('button', { type: 'submit' }, 'Run');
  const abort = new AbortController();

  async function submit(e) {
    e?.preventDefault();
    sessionStorage.setItem('tributary.sql', text.value);
    run.disabled = true;
    result.replaceChildren(el('p', { class: 'muted' }, 'Running…'));
    const started = performance.now();
    try {
      const answer = await api('/api/v1/sql', {
        method: 'POST',
        body: { sql: text.value, maxRows: Number(maxRows.value) || 1000 },
        signal: abort.signal,
      });
      const ms = Math.round(performance.now() - started);
      result.replaceChildren(
        el(
          'p',
          { class: 'muted', dataset: { rows: answer.rows.length } },
          `${answer.rows.length} row${answer.rows.length === 1 ? '' : 's'} in ${ms} ms`,
          answer.truncated ? ` (cut at ${maxRows.value}: there were more)` : '',
        ),
        el(
          'div',
          { class: 'scroll' },
          dataTable(answer.columns, answer.rows, { numeric: (c) => NUMERIC_TYPE.test(c.type) }),
        ),
      );
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (err.status === 404 && err.code === 'HTTP_NOT_FOUND') {
        err.message = `this server has no SQL endpoint (${err.message})`;
      }
      result.replaceChildren(errorBox(err));
    } finally {
      run.disabled = false;
    }
  }

  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(e);
  });
  main.replaceChildren(
    el('h1', {}, 'SQL'),
    el(
      'p',
      { class: 'muted' },
      'Read-only DuckDB SQL over the tables by name, with time travel (FROM orders_current VERSION AS OF 3). Ctrl+Enter runs it.',
    ),
    el(
      'form',
      { class: 'sql', onsubmit: submit },
      text,
      el('div', { class: 'row' }, run, el('label', {}, ' at most ', maxRows, ' rows')),
    ),
    result,
  );
  if (params.get('q')) submit();
  return () => abort.abort();
}
