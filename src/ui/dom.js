// Small DOM and formatting helpers. Text always goes in as text (never as HTML), so
// nothing a table holds can run in the page.

/** el('div', {class: 'x', dataset: {id: 1}}, 'text', child): an element. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

/** `open_orders` → `Open orders`. */
export function humanize(name) {
  const text = String(name)
    .replaceAll('_', ' ')
    .replace(/\bdlq\b/gi, 'DLQ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const MONEY = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A number as a panel shows it, by unit. Money arrives as exact decimal text. */
export function formatValue(value, unit) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string' && !/^-?\d+(\.\d+)?$/.test(value)) return value;
  switch (unit) {
    case 'money':
      return MONEY.format(Number(value));
    case 'ms':
      return `${INTEGER.format(Number(value))} ms`;
    case 'per_second':
      return `${INTEGER.format(Number(value))}/s`;
    case 'percent':
      return `${(Number(value) * 100).toFixed(2)} %`;
    default:
      return typeof value === 'string' && value.length > 15 ? value : INTEGER.format(Number(value));
  }
}

/** A table cell's text: nested values as JSON, null as NULL. */
export function cellText(value) {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A table of columns ({name, type}) and rows (arrays, or objects by column name); a cell may be an element. */
export function dataTable(columns, rows, { numeric = () => false } = {}) {
  return el(
    'table',
    { class: 'data' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        columns.map((c) => el('th', {}, c.name)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((row) =>
        el(
          'tr',
          {},
          columns.map((c, i) => {
            const v = Array.isArray(row) ? row[i] : row[c.name];
            const cls = numeric(c) ? 'num' : v === null ? 'null' : undefined;
            return el('td', { class: cls }, v instanceof Node ? v : cellText(v));
          }),
        ),
      ),
    ),
  );
}

export const NUMERIC_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|DECIMAL|byte|short|integer|long|float|double|decimal)/i;

/** An error box: the server's code and message. */
export function errorBox(err) {
  return el(
    'div',
    { class: 'error', role: 'alert' },
    el('strong', {}, err.code ?? 'ERROR'),
    ' ',
    err.message,
  );
}
