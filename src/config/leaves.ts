import { z } from "zod";
import { DURATION_HINT, KIB, MAX_DURATION_MS, parseByteSize, parseDuration } from "./duration.js";

/**
 * The building blocks of the config schema (schema.ts, backup-schema.ts): leaves that check one
 * value and say what was expected and what was found, strict mappings that name a misspelt key,
 * sections that default key by key. Secrets are described, never echoed.
 */

// ---- messages --------------------------------------------------------------------------------

/** A short rendering of a YAML value for messages: strings quoted, collections summarised. */
export function show(v: unknown): string {
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

/** Secrets are described, never shown. */
export function showSecret(v: unknown): string {
  return typeof v === "string" ? `a ${v.length}-character string` : show(v);
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const typed = key.toLowerCase();
  const near =
    known
      .map((k) => ({ k, d: distance(typed, k) }))
      .filter(({ k, d }) => d <= Math.max(2, Math.floor(k.length / 3)))
      .sort((x, y) => x.d - y.d)[0]?.k ??
    // "schema" for default_schema, "max_per_backend_connections" for max_per_backend
    known.find((k) => typed.length >= 4 && (k.includes(typed) || typed.includes(k)));
  return `unknown key: ${near ? `did you mean "${near}"?` : `expected one of ${known.join(", ")}`}`;
}

// ---- leaves ----------------------------------------------------------------------------------

/** `parse` returns the value, undefined for "not what was expected", or a `Reject` with its own message. */
export class Reject {
  constructor(readonly message: string) {}
}

export function leaf<T>(expected: string, parse: (v: unknown) => T | Reject | undefined, secret = false) {
  return z.unknown().transform((v, ctx): T => {
    const out = v === undefined ? new Reject(`missing: expected ${expected}`) : parse(v);
    if (out instanceof Reject || out === undefined) {
      const found = secret ? showSecret(v) : show(v);
      ctx.addIssue({
        code: "custom",
        message: out instanceof Reject ? out.message : `expected ${expected}, found ${found}`,
      });
      return z.NEVER;
    }
    return out as T;
  });
}

/** YAML reads `password: 1234` as a number; converting it back could silently change it (0123 → 123). */
export function notQuoted(v: unknown, secret: boolean): Reject | undefined {
  if (typeof v !== "number" && typeof v !== "boolean") return undefined;
  const shown = secret ? `a ${typeof v}` : `the ${typeof v} ${String(v)}`;
  return new Reject(`expected a string, found ${shown}: quote it in YAML`);
}

export const text = (what = "a non-empty string") =>
  leaf(what, (v) => notQuoted(v, false) ?? (typeof v === "string" && v.length > 0 ? v : undefined));

/** A bearer token: a secret, so never echoed; short ones are guessable. */
export const adminToken = () =>
  leaf(
    "a string of at least 16 characters (e.g. from `openssl rand -hex 16`)",
    (v) => {
      if (typeof v !== "string") return notQuoted(v, true);
      return v.length >= 16 && !/\s/.test(v) ? v : undefined;
    },
    true,
  );

export const bool = () => leaf("true or false", (v) => (typeof v === "boolean" ? v : undefined));

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  leaf(max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number ${min}..${max}`, (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : undefined,
  );

/** `workers`: 1..256 processes, or "auto" for one per core. */
export const workersLeaf = () =>
  leaf('a whole number 1..256 or "auto"', (v) =>
    v === "auto"
      ? ("auto" as const)
      : typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 256
        ? v
        : undefined,
  );

export const oneOf = <const T extends readonly string[]>(values: T) =>
  leaf(`one of ${values.join(", ")}`, (v) => (values.includes(v as string) ? (v as T[number]) : undefined));

/** `positive`: intervals and timeouts, where 0 would spin or fail everything at once. */
export const duration = (positive = true) =>
  leaf(`${positive ? "a positive" : "a"} ${DURATION_HINT}`, (v) => {
    const ms = parseDuration(v);
    if (ms === null || (positive && ms === 0)) return undefined;
    if (ms > MAX_DURATION_MS)
      return new Reject(`expected at most ${MAX_DURATION_MS} ms (~24.8 days), found ${show(v)}`);
    return ms;
  });

/** MariaDB's max_allowed_packet range: 1 KiB up to the protocol's 1 GiB ceiling. */
export const packetSize = () =>
  leaf('a size from 1024 to 1G, like 16777216, "64M" or "1G"', (v) => {
    const n = parseByteSize(v);
    return n !== null && n >= KIB && n <= KIB ** 3 ? n : undefined;
  });

/** Plaintext, or a mysql_native_password hash as SELECT PASSWORD('...') prints it (ProxySQL accepts both). */
export const password = () =>
  leaf(
    "a string",
    (v) => {
      if (typeof v !== "string") return notQuoted(v, true);
      if (v.startsWith("*") && !/^\*[0-9A-Fa-f]{40}$/.test(v)) {
        return new Reject(
          `a password starting with "*" is a mysql_native_password hash: expected "*" and 40 hex digits, found ${showSecret(v)}`,
        );
      }
      return v;
    },
    true,
  );

/** The heartbeat schema is interpolated into SQL, so it must be a plain identifier. */
export const identifier = () =>
  leaf("an identifier of letters, digits, _ and $ (at most 64)", (v) =>
    typeof v === "string" && /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/.test(v) ? v : undefined,
  );

export const redisUrl = () =>
  leaf("a redis://[:password@]host:port[/db] or rediss:// URL", (v) => {
    if (typeof v !== "string") return undefined;
    try {
      const u = new URL(v);
      return u.protocol === "redis:" || u.protocol === "rediss:" ? v : undefined;
    } catch {
      return undefined;
    }
  });

export function objectError(expected: string) {
  return (iss: z.core.$ZodRawIssue) =>
    iss.code === "invalid_type"
      ? iss.input === undefined
        ? `missing: expected ${expected}`
        : `expected ${expected}, found ${show(iss.input)}`
      : undefined;
}

/**
 * A strict mapping. Unknown keys become one issue per mapping; its message holds one line per key,
 * in `keys` order, which load.ts splits back into one problem per key.
 */
export function mapping<S extends z.core.$ZodLooseShape>(shape: S, expected: string) {
  const known = Object.keys(shape);
  const wrongType = objectError(expected);
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === "unrecognized_keys"
        ? iss.keys.map((k) => unknownKeyMessage(k, known)).join("\n")
        : wrongType(iss),
  });
}

/**
 * A section: a mapping that defaults to {} and is then filled key by key, so a partial section keeps
 * its other defaults. ({} is valid input because every key of a section has a default; TypeScript
 * cannot see that through the generic shape.)
 */
export const section = <S extends z.core.$ZodLooseShape>(shape: S) =>
  mapping(shape, "a mapping").prefault({} as never);

export function list<T extends z.ZodType>(element: T, expected: string, min = 0, tooFew = "") {
  const wrongType = objectError(expected);
  return z.array(element, { error: wrongType }).min(min, { error: tooFew });
}
