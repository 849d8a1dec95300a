// The dashboard's page: a hash router over four views (a dashboard per scenario, the
// table browser, the SQL box, sign-in). It talks to the server's HTTP API only.
import { api, getToken, onUnauthorized, setToken } from './api.js';
import { renderDashboard } from './dashboard.js';
import { el, errorBox } from './dom.js';
import { renderLogin } from './login.js';
import { renderSql } from './sql.js';
import { renderTables } from './tables.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const status = document.getElementById('status');
const signout = document.getElementById('signout');

let dashboards = [];
let cleanup = () => {};
let signingIn = false;

function setStatus(text, state) {
  status.textContent = text;
  status.dataset.state = state;
}

function showLogin(reason) {
  cleanup();
  cleanup = () => {};
  signingIn = true;
  nav.replaceChildren();
  signout.hidden = true;
  renderLogin(main, {
    reason,
    onSignedIn: () => {
      signingIn = false;
      start();
    },
  });
}

onUnauthorized((err) => {
  if (signingIn) return;
  // A token that was given and refused: say why; none at all: just ask for one.
  setToken(null);
  showLogin(err.code === 'AUTH_REQUIRED' ? undefined : err);
});

// The pages with something to show here (a table of theirs, or their pipeline running),
// and the one open even if it has not.
function drawNav(current) {
  const shown = dashboards.filter((d) => d.available || current === `dash/${d.name}`);
  nav.replaceChildren(
    ...shown.map((d) =>
      el(
        'a',
        { href: `#/dash/${d.name}`, class: current === `dash/${d.name}` ? 'current' : undefined },
        d.title,
      ),
    ),
    el('a', { href: '#/tables', class: current === 'tables' ? 'current' : undefined }, 'Tables'),
    el('a', { href: '#/sql', class: current === 'sql' ? 'current' : undefined }, 'SQL'),
  );
}

function route() {
  if (signingIn) return;
  cleanup();
  cleanup = () => {};
  delete main.dataset.loaded;
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?');
  const params = new URLSearchParams(search);
  const [view, ...rest] = path.split('/');
  const name = rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined;
  if (view === 'tables') {
    drawNav('tables');
    cleanup = renderTables(main, name, params);
  } else if (view === 'sql') {
    drawNav('sql');
    cleanup = renderSql(main, params);
  } else if (view === 'dash' && name) {
    drawNav(`dash/${name}`);
    cleanup = renderDashboard(main, name, setStatus);
  } else if (dashboards.length > 0) {
    // The page of the pipeline running here (a demo's), else the first with tables.
    const first = dashboards.find((d) => d.live) ?? dashboards.find((d) => d.available) ?? dashboards[0];
    location.replace(`#/dash/${first.name}`);
  } else {
    drawNav('');
    main.replaceChildren(el('p', {}, 'This server has no dashboards.'));
  }
}

async function start() {
  try {
    ({ dashboards } = await api('/api/v1/dashboards'));
  } catch (err) {
    if (err.status !== 401) main.replaceChildren(errorBox(err));
    return;
  }
  signout.hidden = getToken() === null;
  route();
}

signout.addEventListener('click', () => {
  setToken(null);
  showLogin();
});
window.addEventListener('hashchange', route);
start();
