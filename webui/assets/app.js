// The app shell: session start-up, the top bar and the hash router.
// Pages export mount(root, params, ctx) → {destroy?, rerender?}.

import { h } from './dom.js';
import { get, post, setCsrf, onUnauthorized, poll } from './api.js';
import { isPrivate, setPrivate, onPrivacyChange } from './privacy.js';
import { renderLogin, renderSetup } from './pages/login.js';
import * as dashboard from './pages/dashboard.js';
import * as tree from './pages/tree.js';
import * as circuits from './pages/circuits.js';
import * as circuit from './pages/circuit.js';
import * as unknown from './pages/unknown.js';
import * as cpuTree from './pages/cpu-tree.js';
import * as cpuWeights from './pages/cpu-weights.js';
import * as scheduler from './pages/scheduler.js';
import * as issues from './pages/issues.js';
import * as config from './pages/config.js';
import * as integrations from './pages/integrations.js';
import * as asns from './pages/asns.js';
import * as globe from './pages/globe.js';
import * as sitemap from './pages/sitemap.js';
import * as about from './pages/about.js';

const NAV = [
  ['dashboard', '#/', 'Dashboard'],
  ['tree', '#/tree', 'Network'],
  ['circuits', '#/circuits', 'Circuits'],
  ['unknown', '#/unknown', 'Unknown IPs'],
  ['cpu-tree', '#/cpu-tree', 'CPU Tree'],
  ['cpu-weights', '#/cpu-weights', 'CPU Weights'],
  ['scheduler', '#/scheduler', 'Scheduler'],
  ['issues', '#/issues', 'Issues'],
  ['config', '#/config', 'Configuration'],
  ['integrations', '#/integrations', 'Integrations'],
  ['asns', '#/asns', 'ASNs'],
  ['globe', '#/globe', 'Globe'],
  ['sitemap', '#/sitemap', 'Site Map'],
  ['about', '#/about', 'About'],
];

// [path pattern, page module, nav entry]; the captured group is the URL-encoded parameter.
const ROUTES = [
  [/^\/$/, dashboard, 'dashboard'],
  [/^\/tree(?:\/(.+))?$/, tree, 'tree'],
  [/^\/circuits$/, circuits, 'circuits'],
  [/^\/circuit\/(.+)$/, circuit, 'circuits'],
  [/^\/unknown$/, unknown, 'unknown'],
  [/^\/cpu-tree$/, cpuTree, 'cpu-tree'],
  [/^\/cpu-weights$/, cpuWeights, 'cpu-weights'],
  [/^\/scheduler$/, scheduler, 'scheduler'],
  [/^\/issues$/, issues, 'issues'],
  [/^\/config$/, config, 'config'],
  [/^\/integrations(?:\/(.+))?$/, integrations, 'integrations'],
  [/^\/asns(?:\/(.+))?$/, asns, 'asns'],
  [/^\/globe$/, globe, 'globe'],
  [/^\/sitemap$/, sitemap, 'sitemap'],
  [/^\/about$/, about, 'about'],
];

const root = document.getElementById('app');
let current = null; // {page, destroy, rerender}
let stopBadge = null;
let ctx = null;

/** '#/circuits?q=x' → {path: '/circuits', query: URLSearchParams} */
function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const i = raw.indexOf('?');
  return { path: i < 0 ? raw : raw.slice(0, i), query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

function decode(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

function leavePage() {
  try { current?.destroy?.(); } catch (e) { console.warn(e); }
  current = null;
}

function route() {
  if (!ctx) return;
  leavePage();
  const { path, query } = parseHash();
  const main = document.getElementById('main');
  main.replaceChildren();
  for (const a of document.querySelectorAll('.nav a')) a.classList.remove('active');
  const hit = ROUTES.map(([re, mod, nav]) => [path.match(re), mod, nav]).find(([m]) => m);
  if (!hit) {
    main.append(h('div', { class: 'page', testid: 'page-not-found' },
      h('h1', null, 'Not found'), h('p', null, 'No page at ', h('code', null, path), '. ',
        h('a', { href: '#/' }, 'Back to the dashboard'))));
    return;
  }
  const [m, mod, nav] = hit;
  document.querySelector(`[data-testid="nav-${nav}"]`)?.classList.add('active');
  const param = m[1] == null ? null : decode(m[1]);
  try {
    current = mod.mount(main, { param, query }, ctx) ?? {};
  } catch (e) {
    console.error(e);
    main.append(h('div', { class: 'error-box' }, `This page failed: ${e.message}`));
  }
}

function rerender() {
  if (current?.rerender) current.rerender();
  else route();
}

function setBadge({ unacknowledged = 0, total = 0 } = {}) {
  const badge = document.querySelector('[data-testid="issues-badge"]');
  if (!badge) return;
  badge.textContent = String(unacknowledged);
  badge.dataset.unacknowledged = String(unacknowledged);
  badge.classList.toggle('urgent', unacknowledged > 0);
  badge.title = unacknowledged > 0
    ? `${unacknowledged} unacknowledged urgent issue(s) of ${total}`
    : `No unacknowledged urgent issues (${total} in all)`;
}

async function refreshBadge() {
  const { issues: list } = await get('/api/issues');
  setBadge({ unacknowledged: list.filter((i) => !i.acknowledged).length, total: list.length });
}

function topBar(session) {
  const toggle = h('input', { type: 'checkbox', testid: 'privacy-toggle', checked: isPrivate(),
    onchange: (e) => setPrivate(e.target.checked) });
  const logout = h('button', { type: 'button', class: 'link-button', testid: 'logout', onclick: async () => {
    try { await post('/api/logout'); } catch { /* the session is gone either way */ }
    showLogin();
  } }, 'Log out');
  return h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#/', title: `lqos ${session.version ?? ''}` }, 'lqos',
      session.node_name ? h('span', { class: 'node-name', testid: 'node-name' }, session.node_name) : null),
    h('nav', { class: 'nav' }, NAV.filter(([id]) => id !== 'integrations' || session.user.role === 'admin')
      .map(([id, href, label]) => h('a', { href, testid: `nav-${id}` }, label))),
    h('div', { class: 'topbar-right' },
      h('a', { href: '#/issues', class: 'issues-badge', testid: 'issues-badge', title: 'Urgent issues' }, '0'),
      h('label', { class: 'privacy', title: 'Privacy mode: hide subscriber names and addresses' },
        toggle, h('span', null, 'Privacy')),
      h('span', { class: 'user', testid: 'user-menu' },
        session.user.username, ' ', h('span', { class: `role role-${session.user.role}` },
          session.user.role === 'admin' ? 'admin' : 'read-only')),
      logout));
}

function startApp(session) {
  setCsrf(session.csrf);
  const isAdmin = session.user.role === 'admin';
  ctx = { user: session.user, isAdmin, setBadge, refreshBadge: () => refreshBadge().catch(() => {}) };
  root.replaceChildren(topBar(session), h('main', { id: 'main' }));
  stopBadge = poll(refreshBadge, 30000);
  route();
}

function stopApp() {
  leavePage();
  stopBadge?.();
  stopBadge = null;
  ctx = null;
  setCsrf(null);
}

function showLogin() {
  stopApp();
  renderLogin(root, (s) => (s?.user ? startApp(s) : boot()));
}

async function boot() {
  stopApp();
  let session;
  try {
    session = await get('/api/session', { authRedirect: false });
  } catch (e) {
    root.replaceChildren(h('div', { class: 'login-shell' }, h('div', { class: 'error-box' },
      `Cannot load the session: ${e.message}`, ' ', h('button', { type: 'button', onclick: boot }, 'Retry'))));
    return;
  }
  if (session.setup_required) renderSetup(root, session, (s) => (s?.user ? startApp(s) : boot()));
  else if (!session.user) showLogin();
  else startApp(session);
}

onUnauthorized(() => { if (ctx) showLogin(); });
onPrivacyChange((on) => {
  const t = document.querySelector('[data-testid="privacy-toggle"]');
  if (t) t.checked = on;
  document.body.classList.toggle('private', on);
  if (ctx) rerender();
});
document.body.classList.toggle('private', isPrivate());
window.addEventListener('hashchange', route);
boot();
