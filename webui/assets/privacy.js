// Privacy mode: subscriber names and addresses are replaced in the DOM itself (not hidden
// with CSS), so screen shares and screenshots cannot leak them. Stored in localStorage
// `lqos.privacy`; the server is not involved.

const KEY = 'lqos.privacy';
const listeners = new Set();
export const MASK = '•••••';

let on = false;
try {
  on = ['true', '1', 'on'].includes(localStorage.getItem(KEY));
} catch { /* storage disabled: start off */ }

export const isPrivate = () => on;

export function setPrivate(value) {
  on = Boolean(value);
  try { localStorage.setItem(KEY, on ? 'true' : 'false'); } catch { /* ignore */ }
  for (const f of listeners) f(on);
}

export function onPrivacyChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Subscriber text (circuit/device name, IP, MAC, comment): the text, or a mask. */
export function pii(text, mask = MASK) {
  if (text == null || text === '') return '';
  return on ? mask : String(text);
}

/** A list of addresses: joined, or one mask. */
export function piiList(items, max = 3) {
  const list = items ?? [];
  if (!list.length) return '';
  if (on) return MASK;
  const shown = list.slice(0, max).join(', ');
  return list.length > max ? `${shown} +${list.length - max}` : shown;
}

const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?\b/g;
const HEXCOLON = /[0-9a-f]*:[0-9a-f:.]*(?:\/\d{1,3})?/gi;

/** IPv6 addresses and MACs: a '::' or at least five colons, and a digit (not "12:34:56"). */
const maskHex = (t) => (/\d/.test(t) && t.length >= 6 && (t.includes('::') || t.split(':').length > 5)
  ? MASK : t);

/**
 * Free text from the server (issue messages, scheduler errors): with privacy on, addresses
 * and MACs are masked. Names inside free text cannot be recognised, so pages hide long
 * details (issue context, ShapedDevices.csv) entirely instead.
 */
export function scrub(text) {
  if (text == null) return '';
  if (!on) return String(text);
  return String(text).replace(HEXCOLON, maskHex).replace(IPV4, MASK);
}
