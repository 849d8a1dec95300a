// A dashboard page: its panels, drawn from the stream of the server's answers
// (GET /api/v1/dashboards/{name}/stream): the whole dashboard first, then the panels
// that changed. Nothing is polled: numbers move when the tables or the pipeline do.
import { el, errorBox } from './dom.js';
import { createPanel } from './panels.js';
import { follow } from './stream.js';

export function renderDashboard(main, name, setStatus) {
  const header = el('div', { class: 'page-head' });
  const grid = el('div', { class: 'grid' });
  main.replaceChildren(header, grid);
  const panels = new Map();
  let page = { title: name, description: '' };

  function head(data) {
    const versions = data.versions;
    header.replaceChildren(
      el('h1', {}, page.title),
      el('p', { class: 'muted' }, page.description),
      el(
        'p',
        { class: 'versions small', dataset: { computedAt: data.computedAt } },
        Object.entries(versions).map(([table, v]) =>
          el(
            'a',
            {
              class: 'version',
              href: `#/tables/${encodeURIComponent(table)}`,
              dataset: { table, version: v ?? '' },
            },
            `${table} ${v === null ? '(not yet)' : `v${v}`}`,
          ),
        ),
        el('span', { class: 'muted' }, ` · at ${new Date(data.computedAt).toLocaleTimeString()}`),
      ),
    );
  }

  function whole(data) {
    for (const p of panels.values()) p.destroy();
    panels.clear();
    page = data;
    document.title = `${data.title} · Tributary`;
    head(data);
    grid.replaceChildren(
      ...data.panels.map((meta) => {
        const panel = createPanel(meta);
        panels.set(meta.id, panel);
        return panel.el;
      }),
    );
    for (const p of data.panels) panels.get(p.id).update(p);
    main.dataset.loaded = 'true';
  }

  function changes(data) {
    head(data);
    for (const p of data.panels) panels.get(p.id)?.update(p);
  }

  const stop = follow(`/api/v1/dashboards/${encodeURIComponent(name)}/stream`, {
    onEvent: (event, data) => {
      if (event === 'dashboard') whole(data);
      else if (event === 'panels') changes(data);
    },
    onState: (state) => setStatus(state === 'live' ? 'live' : 'reconnecting…', state),
    onError: (err) => grid.replaceChildren(errorBox(err)),
  });

  return () => {
    stop();
    for (const p of panels.values()) p.destroy();
    setStatus('', '');
  };
}
