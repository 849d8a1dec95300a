// The table browser: the lake's tables, a table's summary and history, and its rows at
// any version or time (time travel), a page at a time (/api/v1/tables...).
import { api, query } from './api.js';
import { cellText, dataTable, el, errorBox, NUMERIC_TYPE } from './dom.js';

const PAGE = 50;

export function renderTables(main, name, params) {
  const list = el('aside', { class: 'table-list' }, el('p', { class: 'muted' }, 'Loading…'));
  const view = el('div', { class: 'table-view' });
  main.replaceChildren(el('div', { class: 'tables' }, list, view));
  const abort = new AbortController();
  const { signal } = abort;

  api('/api/v1/tables', { signal }).then(
    ({ tables }) => {
      list.replaceChildren(
        el('h2', {}, 'Tables'),
        tables.length === 0
          ? el('p', { class: 'muted' }, 'No tables in this data directory yet.')
          : el(
              'ul',
              {},
              tables.map((t) =>
                el(
                  'li',
                  {},
                  el(
                    'a',
                    {
                      href: `#/tables/${encodeURIComponent(t.name)}`,
                      class: t.name === name ? 'current' : undefined,
                    },
                    t.name,
                  ),
                ),
              ),
            ),
      );
      if (!name && tables.length > 0) view.replaceChildren(el('p', { class: 'muted' }, 'Pick a table.'));
    },
    (err) => err.name !== 'AbortError' && list.replaceChildren(errorBox(err)),
  );
  if (name) showTable(view, name, params, signal);
  return () => abort.abort();
}

async function showTable(view, name, params, signal) {
  const at = {};
  if (params.get('version')) at.version = params.get('version');
  else if (params.get('timestamp')) at.timestamp = params.get('timestamp');
  const path = `/api/v1/tables/${encodeURIComponent(name)}`;
  view.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  let summary;
  let history;
  try {
    [summary, history] = await Promise.all([
      api(path + query(at), { signal }),
      api(`${path}/history?limit=50`, { signal }),
    ]);
  } catch (err) {
    if (err.name !== 'AbortError') view.replaceChildren(travelForm(name, at), errorBox(err));
    return;
  }
  const latest = history.entries[0]?.version;
  const rows = el('div', { class: 'rows' });
  view.replaceChildren(
    el('h1', {}, name),
    el(
      'p',
      { class: 'summary', dataset: { version: summary.version } },
      `version ${summary.version}${summary.version === latest ? ' (latest)' : ''} · committed ${summary.timestamp} · `,
      `${summary.files} files · ${summary.rows ?? '?'} rows · partitioned by ${summary.partitionColumns.join(', ') || 'nothing'}`,
    ),
    travelForm(name, at),
    rows,
    el('h2', {}, 'History'),
    el(
      'div',
      { class: 'scroll history' },
      dataTable(
        [{ name: 'version' }, { name: 'timestamp' }, { name: 'operation' }, { name: 'rows added' }],
        history.entries.map((e) => [
          el('a', { href: `#/tables/${encodeURIComponent(name)}?version=${e.version}` }, String(e.version)),
          e.timestamp,
          e.operation,
          e.metrics?.numOutputRows ?? e.metrics?.numTargetRowsInserted ?? '',
        ]),
      ),
    ),
  );
  await showRows(rows, path, { version: summary.version }, undefined, signal);
}

function travelForm(name, at) {
  const version = el('input', {
    name: 'version',
    type: 'number',
    min: 0,
    placeholder: 'latest',
    value: at.version,
  });
  const timestamp = el('input', {
    name: 'timestamp',
    type: 'text',
    placeholder: '2026-01-01T12:00:00Z',
    value: at.timestamp,
  });
  return el(
    'form',
    {
      class: 'travel',
      onsubmit: (e) => {
        e.preventDefault();
        const q =
          version.value !== ''
            ? `?version=${version.value}`
            : timestamp.value !== ''
              ? `?timestamp=${encodeURIComponent(timestamp.value)}`
              : '';
        location.hash = `#/tables/${encodeURIComponent(name)}${q}`;
      },
    },
    el('label', {}, 'Version ', version),
    el('label', {}, ' or as of ', timestamp),
    el('button', { type: 'submit' }, 'Time travel'),
    el('a', { href: `#/tables/${encodeURIComponent(name)}` }, 'latest'),
  );
}

async function showRows(box, path, at, cursor, signal) {
  let page;
  try {
    page = await api(`${path}/rows${query({ ...at, limit: PAGE, cursor })}`, { signal });
  } catch (err) {
    if (err.name !== 'AbortError') box.replaceChildren(errorBox(err));
    return;
  }
  const more = page.nextCursor
    ? el(
        'button',
        { type: 'button', onclick: () => showRows(box, path, at, page.nextCursor, signal) },
        `Next ${PAGE} rows`,
      )
    : el('span', { class: 'muted' }, 'end of table');
  box.replaceChildren(
    el('h2', {}, `Rows at version ${page.version}`),
    el(
      'div',
      { class: 'scroll' },
      dataTable(
        page.columns.map((c) => ({ name: c.name, type: typeof c.type === 'string' ? c.type : 'nested' })),
        page.rows.map((r) =>
          page.columns.map((c) =>
            typeof r[c.name] === 'object' && r[c.name] !== null ? cellText(r[c.name]) : r[c.name],
          ),
        ),
        { numeric: (c) => NUMERIC_TYPE.test(c.type) },
      ),
    ),
    more,
  );
}
