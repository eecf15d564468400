// Talking to lqosd: JSON requests with the CSRF token, errors as ApiError, text files read
// only as far as needed, Server-Sent Events, and polling that pauses in hidden tabs.

export class ApiError extends Error {
  constructor(status, message, problems = [], retryAfter = null) {
    super(message);
    this.status = status;
    this.problems = problems;
    this.retryAfter = retryAfter;
  }
}

let csrf = null;
let unauthorized = () => {};

export const setCsrf = (token) => { csrf = token ?? null; };
/** Called on any 401 from the API (the session ended): the app shows the login form. */
export const onUnauthorized = (f) => { unauthorized = f; };

async function send(method, path, body, signal) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-Token'] = csrf ?? '';
  }
  try {
    return await fetch(path, {
      method, headers, signal, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `Cannot reach lqosd (${e.message}).`);
  }
}

async function failure(res, authRedirect) {
  let message = `${res.status} ${res.statusText}`.trim();
  let problems = [];
  try {
    const j = await res.json();
    if (j && typeof j.error === 'string') message = j.error;
    if (j && Array.isArray(j.problems)) problems = j.problems.map(String);
  } catch { /* not JSON: keep the status line */ }
  const retry = res.headers.get('Retry-After');
  if (res.status === 401 && authRedirect) unauthorized();
  return new ApiError(res.status, message, problems, retry == null ? null : Number(retry));
}

/**
 * One request. Answers: parsed JSON, text for non-JSON bodies, null for 204.
 * `authRedirect: false` for the login and setup calls (their 401 is shown in the form).
 */
export async function request(method, path, body, { signal, authRedirect = true } = {}) {
  const res = await send(method, path, body, signal);
  if (!res.ok) throw await failure(res, authRedirect);
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') ?? '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * The first `limit` bytes of a text answer, without downloading the rest:
 * {text, truncated, size (Content-Length or null)}.
 */
export async function getTextHead(path, limit, { signal } = {}) {
  const res = await send('GET', path, undefined, signal);
  if (!res.ok) throw await failure(res, true);
  const size = Number(res.headers.get('Content-Length')) || null;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = limit - bytes;
    if (value.length > room) {
      text += decoder.decode(value.subarray(0, room), { stream: true });
      truncated = true;
      reader.cancel().catch(() => {});
      break;
    }
    bytes += value.length;
    text += decoder.decode(value, { stream: true });
  }
  if (!truncated) text += decoder.decode();
  return { text, truncated, size };
}

/**
 * Server-Sent Events from /api/live. `handlers`: {dashboard(data), circuit(data), state(s)}
 * where s is 'open', 'reconnecting' or 'stale' (no event for 5 s). Returns close().
 */
export function live(params, handlers) {
  let es = null;
  let closed = false;
  let retry = null;
  let lastEvent = Date.now();
  let current = null;
  const state = (s) => { if (s !== current) { current = s; handlers.state?.(s); } };
  const seen = () => { lastEvent = Date.now(); state('open'); };
  const watchdog = setInterval(() => { if (Date.now() - lastEvent > 5000) state('stale'); }, 1000);

  const open = () => {
    es = new EventSource(`/api/live${qs(params ?? {})}`);
    es.onopen = () => state('open');
    for (const name of ['dashboard', 'circuit']) {
      es.addEventListener(name, (e) => {
        seen();
        if (!handlers[name]) return;
        let data;
        try { data = JSON.parse(e.data); } catch { return; }
        handlers[name](data);
      });
    }
    es.onerror = () => {
      state('reconnecting');
      if (es.readyState !== EventSource.CLOSED || closed) return;
      // The browser gave up (e.g. 401): ask whether we are still logged in, then retry.
      es.close();
      get('/api/session').then((s) => {
        if (!s.user) unauthorized();
        else if (!closed) retry = setTimeout(open, 3000);
      }, () => { if (!closed) retry = setTimeout(open, 3000); });
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(retry);
    clearInterval(watchdog);
    es?.close();
  };
}

/**
 * Calls `fn` now and then every `ms` after it settles, skipping while the tab is hidden.
 * Returns stop().
 */
export function poll(fn, ms) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await fn(); } catch { /* the page shows its own errors */ }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
