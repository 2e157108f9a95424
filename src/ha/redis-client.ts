import { Redis, type RedisOptions } from "ioredis";
import { RwsplitError } from "../errors.js";
import { ACQUIRE, PUBLISH, RELEASE, RENEW, RESTORE } from "./lua-scripts.js";

/**
 * An ioredis client that fails fast, for a caller that must never wait on Redis: the fleet
 * coordinator sits next to query routing, and a Redis outage has to cost it a failed call, not
 * a stalled one.
 *
 * - `enableOfflineQueue: false`: a command while disconnected rejects at once instead of waiting
 *   for a reconnect that may never come.
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command in flight when the
 *   connection drops is failed, never resent later; a call reported failed must not take effect
 *   behind its caller's back after a reconnect.
 * - `commandTimeout` and `socketTimeout` of `opTimeoutMs`: a Redis that accepts a command and goes
 *   silent (frozen, or a dead link) fails the command and gets the connection dropped and redialled
 *   rather than trusted as "ready".
 * - reconnects after 100, 200, 400, 800 ms, then every second, so a Redis that comes back is
 *   found within about a second.
 */

/** The scripts of lua-scripts.ts as ioredis commands (EVALSHA, EVAL after a NOSCRIPT). */
export interface FleetCommands {
  fleetAcquire(
    lock: string,
    counter: string,
    record: string,
    instance: string,
    ttlMs: number,
  ): Promise<number>;
  fleetRenew(lock: string, value: string, ttlMs: number): Promise<number>;
  fleetRelease(lock: string, value: string): Promise<number>;
  fleetPublish(
    lock: string,
    record: string,
    value: string,
    json: string,
    generation: number,
    channel: string,
  ): Promise<[number, string, string?]>;
  fleetRestore(
    record: string,
    counter: string,
    json: string,
    generation: number,
    fencingToken: number,
    channel: string,
  ): Promise<[number, string | null]>;
}

export type FleetClient = Redis & FleetCommands;

export function retryDelay(times: number): number {
  return Math.min(100 * 2 ** Math.min(times - 1, 4), 1000);
}

/** The options of the file comment, for any client that must fail fast (named `connectionName`). */
export function failFastOptions(opTimeoutMs: number, connectionName: string): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: opTimeoutMs,
    socketTimeout: opTimeoutMs,
    connectTimeout: Math.max(1000, 2 * opTimeoutMs),
    retryStrategy: retryDelay,
    disableClientInfo: true,
    connectionName,
  };
}

/**
 * Connects at once (in the background). The caller must attach an 'error' listener before the
 * current tick ends: an 'error' event without one is thrown.
 */
export function createFleetClient(url: string, opTimeoutMs: number, role: string): FleetClient {
  const options: RedisOptions = {
    ...failFastOptions(opTimeoutMs, `rwsplit-fleet-${role}`),
    scripts: {
      fleetAcquire: { lua: ACQUIRE, numberOfKeys: 3 },
      fleetRenew: { lua: RENEW, numberOfKeys: 1 },
      fleetRelease: { lua: RELEASE, numberOfKeys: 1 },
      fleetPublish: { lua: PUBLISH, numberOfKeys: 2 },
      fleetRestore: { lua: RESTORE, numberOfKeys: 2 },
    },
  };
  return new Redis(url, options) as FleetClient;
}

/** Resolves true once `client` is ready, false after `timeoutMs`; never rejects. */
export function whenReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on("ready", onReady);
  });
}

/**
 * Races `p` against a deadline. The race subscribes to `p`, so `p` rejecting after the deadline
 * won is handled, not an unhandled rejection.
 */
export async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RwsplitError("COORDINATOR_UNAVAILABLE", `${what} timed out after ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
