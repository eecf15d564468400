// The two forms shown before the app: first-run admin creation and login.

import { h } from '../dom.js';
import { post } from '../api.js';

function shell(title, subtitle, form) {
  return h('div', { class: 'login-shell' },
    h('div', { class: 'login-card' },
      h('div', { class: 'brand big' }, 'lqos'),
      h('h1', null, title),
      subtitle ? h('p', { class: 'muted' }, subtitle) : null,
      form));
}

function errorLine() {
  return h('div', { class: 'error-box', testid: 'login-error', role: 'alert', hidden: true });
}

function showError(el, err) {
  let text = err.message ?? String(err);
  if (err.status === 429 && err.retryAfter) text += ` (try again in ${err.retryAfter} s)`;
  el.textContent = text;
  el.hidden = false;
}

/**
 * "Create the first admin" → POST /api/setup; calls onSession with the session answer. The
 * setup token is the one lqosd wrote on the shaper (`session.setup_token_file`) and logged.
 */
export function renderSetup(root, session, onSession) {
  const error = errorLine();
  const file = session.setup_token_file ?? 'webui-setup-token in lqosd\'s state directory';
  const token = h('input', { testid: 'setup-token', name: 'setup-token', autocomplete: 'off', spellcheck: 'false',
    autofocus: true });
  const user = h('input', { testid: 'username', name: 'username', autocomplete: 'username' });
  const pass = h('input', { testid: 'password', name: 'password', type: 'password', autocomplete: 'new-password' });
  const confirm = h('input', { testid: 'password-confirm', name: 'password-confirm', type: 'password', autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'submit' }, 'Create admin and log in');
  const form = h('form', { testid: 'setup-form', class: 'stack', novalidate: true },
    h('label', { class: 'field' }, h('span', null, 'Setup token'), token,
      h('small', { class: 'muted', testid: 'setup-token-hint' },
        'On the shaper, as root: ', h('code', null, `cat ${file}`), ' (lqosd also logged it when it started).')),
    h('label', { class: 'field' }, h('span', null, 'User name'), user),
    h('label', { class: 'field' }, h('span', null, 'Password'), pass),
    h('label', { class: 'field' }, h('span', null, 'Password again'), confirm),
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!token.value.trim()) return showError(error, 'The setup token is needed (see the hint under it).');
    if (!user.value.trim()) return showError(error, 'A user name is needed.');
    if (!pass.value) return showError(error, 'A password is needed.');
    if (pass.value !== confirm.value) return showError(error, 'The two passwords differ.');
    submit.disabled = true;
    try {
      const answer = await post('/api/setup',
        { username: user.value.trim(), password: pass.value, token: token.value.trim() },
        { authRedirect: false });
      onSession(answer);
    } catch (err) {
      showError(error, err);
      if (err.status === 403) token.select();
      // 409: someone created the first user meanwhile; the login form is what is needed now.
      if (err.status === 409) setTimeout(() => onSession(null), 1500);
    } finally {
      submit.disabled = false;
    }
  });
  root.replaceChildren(shell('Create the first admin',
    'No user exists yet. This admin can change circuits and acknowledge issues; more users are added on the shaper with “lqosd user add”.', form));
  token.focus();
}

/** Login → POST /api/login; calls onSession with the session answer. */
export function renderLogin(root, onSession) {
  const error = errorLine();
  const user = h('input', { testid: 'username', name: 'username', autocomplete: 'username' });
  const pass = h('input', { testid: 'password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'submit' }, 'Log in');
  const form = h('form', { testid: 'login-form', class: 'stack', novalidate: true },
    h('label', { class: 'field' }, h('span', null, 'User name'), user),
    h('label', { class: 'field' }, h('span', null, 'Password'), pass),
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const session = await post('/api/login', { username: user.value.trim(), password: pass.value },
        { authRedirect: false });
      onSession(session);
    } catch (err) {
      showError(error, err);
      pass.select();
    } finally {
      submit.disabled = false;
    }
  });
  root.replaceChildren(shell('Log in', null, form));
  user.focus();
}
