import { z } from "zod";

/**
 * The fleet's shared truth about who is primary, and the failover lease it is written under.
 *
 * A record is only ever replaced by one whose `generation` is exactly one higher (checked in the
 * store, atomically with the write), so "higher generation wins" is the whole merge rule: an
 * instance adopts a record it sees only when its generation is above the one it holds, and never
 * goes back.
 */

/** The shared truth about who is primary. `generation` increases by exactly 1 per change. */
export interface TopologyRecord {
  generation: number;
  /** Backend name, as in the config. */
  primary: string;
  /** Old primaries that must never be written again. */
  fenced: string[];
  /** "failover" | "switchover" | "rejoin" | "initial" ... */
  reason: string;
  /** Instance id that wrote it. */
  by: string;
  /** Date.now() when it was written. */
  at: number;
  /** Token of the lease under which it was written (0 for a record no lease wrote, e.g. "initial"). */
  fencingToken: number;
}

/**
 * The failover lock. `token` is the fencing token: strictly increasing across every lease ever
 * granted by the store, so a write stamped with a lower token is known to come from an older
 * holder. `expiresAt` is this instance's conservative view (measured from before the request was
 * sent); the store is the authority.
 */
export interface Lease {
  token: number;
  instance: string;
  expiresAt: number;
}

/** What a caller proposes in `publish`; the coordinator stamps `fencingToken`, `by` and `at`. */
export type TopologyProposal = Omit<TopologyRecord, "fencingToken" | "by" | "at">;

const generation = z.number().int().nonnegative();

/** Unknown keys are dropped, so a newer instance may add fields without older ones rejecting the record. */
export const topologyRecordSchema = z.object({
  generation,
  primary: z.string().min(1),
  fenced: z.array(z.string().min(1)),
  reason: z.string(),
  by: z.string(),
  at: z.number().int().nonnegative(),
  fencingToken: z.number().int().nonnegative(),
});

export const topologyProposalSchema = topologyRecordSchema.pick({
  generation: true,
  primary: true,
  fenced: true,
  reason: true,
});

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** Validates a record that came from outside this process (the store, a pub/sub message). */
export function parseTopologyRecord(value: unknown): ParseResult<TopologyRecord> {
  const r = topologyRecordSchema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: describe(r.error) };
}

/** `parseTopologyRecord` of JSON text; malformed JSON is an error value, not a throw. */
export function parseTopologyJson(text: string): ParseResult<TopologyRecord> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  return parseTopologyRecord(value);
}

export function parseTopologyProposal(value: unknown): ParseResult<TopologyProposal> {
  const r = topologyProposalSchema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: describe(r.error) };
}

/** A deep copy, so no caller can change a coordinator's record through a reference it was handed. */
export function copyRecord(r: TopologyRecord): TopologyRecord {
  return { ...r, fenced: [...r.fenced] };
}
