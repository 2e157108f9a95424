/**
 * The config file's units. Durations: "500ms", "2s", "1.5s", "1m", "1h", or a bare number of
 * milliseconds (the YAML number 500, or the string "500"); everything downstream works in whole
 * milliseconds. Sizes: bytes, or my.cnf style "64M" / "1G".
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;

/**
 * Node's timers hold a signed 32-bit delay; anything longer fires after 1 ms with a
 * TimeoutOverflowWarning, so a "30d" timeout would silently become "now".
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** For messages: "expected a " + DURATION_HINT. */
export const DURATION_HINT = 'duration like "500ms", "2s", "1m" or a number of milliseconds';

/** Milliseconds, or null when `value` is not a duration (negative, fractional ms, malformed). */
export function parseDuration(value: unknown): number | null {
  let ms: number;
  if (typeof value === "number") {
    ms = value;
  } else if (typeof value === "string") {
    const m = DURATION.exec(value.trim());
    if (!m) return null;
    const unit = (m[2] ?? "ms") as keyof typeof UNIT_MS;
    // Round away float noise ("1.1s" is 1100.0000000000002) but keep "0.5ms" an error below.
    ms = Math.round(Number(m[1]) * UNIT_MS[unit] * 1000) / 1000;
  } else {
    return null;
  }
  if (!Number.isInteger(ms) || ms < 0) return null;
  return ms;
}

/** The shortest exact spelling: 60000 → "1m", 1500 → "1500ms", 2000 → "2s". */
export function formatDuration(ms: number): string {
  if (ms >= UNIT_MS.h && ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms >= UNIT_MS.m && ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms >= UNIT_MS.s && ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}

export const KIB = 1024;
const SIZE_UNITS = [
  ["G", KIB ** 3],
  ["M", KIB ** 2],
  ["K", KIB],
] as const;

/** Bytes: a number, or "16K" / "64M" / "1G" (also "64MiB"): powers of 1024, as the server reads my.cnf. */
export function parseByteSize(v: unknown): number | null {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 ? v : null;
  if (typeof v !== "string") return null;
  const m = /^(\d+)\s*(?:([kmg])(?:ib)?)?$/i.exec(v.trim());
  if (!m) return null;
  const unit = SIZE_UNITS.find(([u]) => u === m[2]?.toUpperCase());
  return Number(m[1]) * (unit ? unit[1] : 1);
}

/** "1G" / "64M" / "16K" when exact, bytes otherwise. */
export function formatByteSize(bytes: number): string | number {
  const unit = SIZE_UNITS.find(([, n]) => bytes >= n && bytes % n === 0);
  return unit ? `${bytes / unit[1]}${unit[0]}` : bytes;
}
