import { z } from "zod";

/**
 * What a fleet of rwsplit instances shares about changes made while they run (issue #18). The
 * config file stays the source of truth for what the cluster is; this record carries what
 * happened at runtime, so every instance does the same:
 *
 * - `version` goes up by one per change anywhere in the fleet (a reload, a drain, an undrain):
 *   each instance shows the version it has applied (`/backends`, `rwsplit_config_version`);
 * - `reloads` goes up by one per reload: an instance that sees it move re-reads its own file;
 * - `drained` lists the backends drained for maintenance: an instance drains those it has and
 *   undrains the others (a new instance joining the fleet starts with them drained).
 *
 * `applyChange` is the one place the record changes (pure, table-tested); the stores
 * (runtime-store.ts, redis-runtime-store.ts) only read, write and announce it.
 */

export interface RuntimeRecord {
  version: number;
  reloads: number;
  drained: string[];
  /** The instance that made the last change, and what it was ("reload", "drain r2"). */
  by: string;
  change: string;
  /** Who asked for it: "SIGHUP", "admin token holder from 10.0.0.5", ... */
  who: string;
  at: number;
}

export type RuntimeOp =
  /** `removed`: backends the reload took out of the file, no longer drained by name. */
  | { kind: "reload"; removed: readonly string[] }
  | { kind: "drain"; backend: string }
  | { kind: "undrain"; backend: string };

export const EMPTY_RECORD: RuntimeRecord = {
  version: 0,
  reloads: 0,
  drained: [],
  by: "",
  change: "none",
  who: "",
  at: 0,
};

export function describeOp(op: RuntimeOp): string {
  return op.kind === "reload" ? "reload" : `${op.kind} ${op.backend}`;
}

/** The record after `op`: version + 1, and the reload count or the drained set as `op` says. */
export function applyChange(
  r: RuntimeRecord,
  op: RuntimeOp,
  by: { instance: string; who: string; at: number },
): RuntimeRecord {
  let drained = r.drained;
  let reloads = r.reloads;
  if (op.kind === "reload") {
    reloads += 1;
    drained = drained.filter((n) => !op.removed.includes(n));
  } else if (op.kind === "drain") {
    if (!drained.includes(op.backend)) drained = [...drained, op.backend];
  } else {
    drained = drained.filter((n) => n !== op.backend);
  }
  return {
    version: r.version + 1,
    reloads,
    drained,
    by: by.instance,
    change: describeOp(op),
    who: by.who,
    at: by.at,
  };
}

const recordSchema = z.object({
  version: z.number().int().nonnegative(),
  reloads: z.number().int().nonnegative(),
  drained: z.array(z.string().min(1)),
  by: z.string(),
  change: z.string(),
  who: z.string(),
  at: z.number().nonnegative(),
});

/** A record from the store or a message; null when it is not one (logged by the caller). */
export function parseRuntimeRecord(text: string): RuntimeRecord | null {
  try {
    const r = recordSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** What each instance reports of itself, for the fleet's view at /backends. */
export interface InstanceReport {
  instance: string;
  /** The record version it has applied. */
  version: number;
  /** A hash of the config it runs (effective values, file order): equal hashes, equal configs. */
  configHash: string;
  /** Keys its file changed that wait for its restart. */
  restartPending: number;
  at: number;
}

const reportSchema = z.object({
  instance: z.string(),
  version: z.number().int().nonnegative(),
  configHash: z.string(),
  restartPending: z.number().int().nonnegative(),
  at: z.number().nonnegative(),
});

export function parseInstanceReport(text: string): InstanceReport | null {
  try {
    const r = reportSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
