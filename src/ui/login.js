// Sign-in: the page asks for a bearer token (tributary token create --role reader),
// checks it with the server, and keeps it for this tab only (sessionStorage).
import { api, setToken } from './api.js';
import { el, errorBox } from './dom.js';

export function renderLogin(main, { reason, onSignedIn }) {
  const token = el('textarea', {
    name: 'token',
    rows: 4,
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-label': 'Token',
    required: true,
  });
  const message = el('div', { class: 'login-message' }, reason ? errorBox(reason) : null);
  const submit = el('button', { type: 'submit' }, 'Sign in');
  main.replaceChildren(
    el(
      'form',
      {
        class: 'login',
        onsubmit: async (e) => {
          e.preventDefault();
          submit.disabled = true;
          setToken(token.value.trim());
          try {
            await api('/api/v1/dashboards');
            onSignedIn();
          } catch (err) {
            setToken(null);
            message.replaceChildren(errorBox(err));
          } finally {
            submit.disabled = false;
          }
        },
      },
      el('h1', {}, 'Sign in'),
      el(
        'p',
        { class: 'muted' },
        'Paste a bearer token. Make one with ',
        el('code', {}, 'tributary token create --role reader'),
        '.',
      ),
      token,
      submit,
      message,
    ),
  );
  token.focus();
}
