// Formatting of rates, sizes, counts and times for display.

const RATE_UNITS = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

function scaled(value, units) {
  let v = Math.abs(value);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  const digits = i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${value < 0 ? '-' : ''}${v.toFixed(digits)} ${units[i]}`;
}

/** 12345678 → "12.3 Mbit/s" */
export function fmtBps(bps) {
  if (bps == null || !Number.isFinite(Number(bps))) return '—';
  return scaled(Number(bps), RATE_UNITS);
}

/** Axis label: shorter, "12 M". */
export function fmtBpsShort(bps) {
  const s = fmtBps(bps);
  return s.replace(/bit\/s$/, '').replace(/(\.\d*?)0+ /, '$1 ').replace('. ', ' ').trim();
}

/** Plan rate in Mbps: 12.5 → "12.5", 10000 → "10000" (as in ShapedDevices.csv). */
export function fmtMbps(mbps) {
  if (mbps == null || !Number.isFinite(Number(mbps))) return '—';
  return String(Math.round(Number(mbps) * 1000) / 1000);
}

/** min/max plan pair: "50 / 100". */
export const fmtPlan = (min, max) => `${fmtMbps(min)} / ${fmtMbps(max)}`;

export function fmtBytes(n) {
  if (n == null || !Number.isFinite(Number(n))) return '—';
  return scaled(Number(n), BYTE_UNITS);
}

export function fmtCount(n) {
  if (n == null || !Number.isFinite(Number(n))) return '—';
  return Number(n).toLocaleString('en-US');
}

export function fmtPct(fraction) {
  if (fraction == null || !Number.isFinite(Number(fraction))) return '—';
  return `${Math.round(Number(fraction) * 100)}%`;
}

const pad = (n) => String(n).padStart(2, '0');

/** Unix seconds → "2024-05-01 12:34:56" (local time). */
export function fmtTime(unix) {
  if (unix == null || !unix) return '—';
  const d = new Date(Number(unix) * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Unix seconds → "5 s" / "12 min" / "3 h" / "2 d", without direction. */
export function fmtSecs(secs) {
  if (secs == null || !Number.isFinite(Number(secs))) return '—';
  const s = Math.abs(Math.round(Number(secs)));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** Unix seconds → "12 s ago" or "in 5 min". */
export function fmtAgo(unix, now = Date.now() / 1000) {
  if (unix == null || !unix) return '—';
  const diff = now - Number(unix);
  return diff >= 0 ? `${fmtSecs(diff)} ago` : `in ${fmtSecs(diff)}`;
}

/** "2024-05-01 12:34:56 (3 min ago)" */
export const fmtWhen = (unix) => (unix ? `${fmtTime(unix)} (${fmtAgo(unix)})` : '—');

/** Milliseconds → "850 ms" / "12.3 s". */
export function fmtMs(ms) {
  if (ms == null || !Number.isFinite(Number(ms))) return '—';
  const v = Number(ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
  return fmtSecs(v / 1000);
}
