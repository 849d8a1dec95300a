// A dashboard panel: its frame (title, what it counts, the query behind it) and its
// body, drawn by kind from the answer's columns and rows (src/server/dashboard/definition.ts).
import { TimeChart } from './charts.js';
import { cellText, dataTable, el, formatValue, humanize, NUMERIC_TYPE } from './dom.js';

export function createPanel(meta) {
  const body = el('div', { class: 'panel-body' });
  const sql = el('details', { class: 'panel-sql', hidden: true });
  const root = el(
    'section',
    {
      class: `panel kind-${meta.kind} w${meta.width ?? 6}`,
      dataset: { panel: meta.id, source: meta.source },
    },
    el('h2', {}, meta.title),
    el('p', { class: 'muted small' }, meta.description),
    body,
    sql,
  );
  let chart;
  const format = (v, column) => formatValue(v, meta.columnUnits?.[column] ?? meta.unit);

  function update(panel) {
    root.dataset.state = panel.error ? 'error' : panel.note ? 'note' : 'ok';
    if (panel.sql) {
      sql.hidden = false;
      sql.replaceChildren(
        el('summary', {}, 'SQL'),
        el('pre', {}, panel.sql),
        el('a', { href: `#/sql?q=${encodeURIComponent(panel.sql)}` }, 'Open in the SQL page'),
      );
    }
    if (panel.error || panel.note) {
      chart?.destroy();
      chart = undefined;
      body.replaceChildren(
        panel.error
          ? el('div', { class: 'error' }, el('strong', {}, panel.error.code), ' ', panel.error.message)
          : el('p', { class: 'note' }, panel.note),
      );
      return;
    }
    if (meta.kind === 'timeseries') {
      if (!chart) {
        const box = el('div', { class: 'chart' });
        body.replaceChildren(box);
        chart = new TimeChart(box, { format });
      }
      if (panel.rows.length === 0) body.dataset.empty = 'true';
      else delete body.dataset.empty;
      chart.update(panel);
      return;
    }
    if (meta.kind === 'stat') body.replaceChildren(stats(panel, format));
    else if (meta.kind === 'bars') body.replaceChildren(bars(panel, format));
    else body.replaceChildren(table(panel));
  }

  return {
    el: root,
    update,
    destroy() {
      chart?.destroy();
    },
  };
}

function stats(panel, format) {
  const row = panel.rows[0] ?? [];
  return el(
    'div',
    { class: 'stats' },
    panel.columns.map((c, i) =>
      el(
        'div',
        { class: 'stat', dataset: { column: c.name, value: cellText(row[i]) } },
        el('span', { class: 'stat-value' }, format(row[i], c.name)),
        el('span', { class: 'stat-label' }, humanize(c.name)),
      ),
    ),
  );
}

function bars(panel, format) {
  if (panel.rows.length === 0) return el('p', { class: 'note' }, 'nothing yet');
  const max = Math.max(...panel.rows.map((r) => Number(r[1]) || 0), 1);
  return el(
    'ul',
    { class: 'bars' },
    panel.rows.map((r) => {
      const bar = el('span', { class: 'bar' });
      bar.style.width = `${(100 * (Number(r[1]) || 0)) / max}%`;
      return el(
        'li',
        { dataset: { label: cellText(r[0]), value: cellText(r[1]) } },
        el('span', { class: 'bar-label' }, cellText(r[0])),
        el('span', { class: 'bar-track' }, bar),
        el('span', { class: 'bar-value' }, format(r[1])),
      );
    }),
  );
}

function table(panel) {
  if (panel.rows.length === 0) return el('p', { class: 'note' }, 'nothing yet');
  return dataTable(panel.columns, panel.rows, { numeric: (c) => NUMERIC_TYPE.test(c.type) });
}
