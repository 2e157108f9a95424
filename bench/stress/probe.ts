import { BackendConnection } from "../../src/proxy/backend-connection.js";
import type { ProxyServer } from "../../src/proxy/server.js";

/**
 * Instrumentation of the relay for the stress test, from outside: it wraps BackendConnection's
 * methods in this process (nothing in src/ changes) to count how often a slow client really
 * made the proxy stop reading a backend (a loopback socket's buffers can hold tens of MB, so a
 * "slow" client is not necessarily slow enough), and to show each backend connection's pause
 * state when a response stalls. It only reads: no behaviour changes.
 *
 * Works on the code before and after the fix for issue #19 (1baf6be), and after the session core
 * redesign (#13), where the connection reads through a BackendLink instead of its socket: pauses
 * are counted where reading stops (the link, else the socket), whoever asks for them.
 */

export interface RelayCounters {
  /** Responses relayed (BackendConnection.relay calls). */
  relays: number;
  /** By backend name. */
  relaysByBackend: Record<string, number>;
  /** Backend socket paused because a client socket was full. */
  pauses: number;
  resumes: number;
  /**
   * A pause still in force when its response ended (the state issue #19 left behind), undone by
   * the fix's end-of-response resume. Counted only when that code is present.
   */
  pausedAtResponseEnd: number;
  /** A command sent on a backend connection whose socket was paused: its response cannot be read (#19). */
  relayStartedPaused: number;
  /** Whether this tree has the end-of-response resume (BackendConnection.endBackpressure). */
  endOfResponseResume: boolean;
}

export interface BackendSnapshot {
  id: number;
  backend: string;
  state: string;
  /** Paused for a congested client (BackendConnection.paused), where the getter exists. */
  paused: boolean | null;
  /** Reading is stopped (whoever paused it). */
  readingPaused: boolean;
  /** The backend socket's byte counts, where the connection exposes its socket. */
  bytesRead: number | null;
  bytesWritten: number | null;
}

export interface RelaySnapshot {
  at: string;
  counters: RelayCounters;
  backends: BackendSnapshot[];
  sessions: Record<string, unknown>[] | null;
}

export interface RelayProbe {
  readonly counters: RelayCounters;
  snapshot(server?: ProxyServer | null): RelaySnapshot;
  /** Counters since the last reset are what a run reports. */
  reset(): void;
}

/** What stops and restarts a connection's reads: its BackendLink (after #13), else its socket. */
interface Reader {
  pause(): unknown;
  resume(): unknown;
}

function readerOf(conn: BackendConnection): Reader {
  const c = conn as unknown as { link?: Reader; socket?: Reader };
  const r = c.link ?? c.socket;
  if (!r) throw new Error("relay probe: BackendConnection has neither a link nor a socket");
  return r;
}

function socketOf(conn: BackendConnection): { bytesRead: number; bytesWritten: number } | null {
  return (conn as unknown as { socket?: { bytesRead: number; bytesWritten: number } }).socket ?? null;
}

interface Wrapped {
  relay(this: BackendConnection, ...args: unknown[]): unknown;
  endBackpressure?: (this: BackendConnection) => void;
  __relayProbe?: RelayProbe;
}

/** BackendConnection.paused where this tree has it (1baf6be added it), else null. */
function pausedFlag(c: BackendConnection): boolean | null {
  const v = (c as unknown as { paused?: unknown }).paused;
  return typeof v === "boolean" ? v : null;
}

function zero(endOfResponseResume: boolean): RelayCounters {
  return {
    relays: 0,
    relaysByBackend: {},
    pauses: 0,
    resumes: 0,
    pausedAtResponseEnd: 0,
    relayStartedPaused: 0,
    endOfResponseResume,
  };
}

/** Installs the probe once per process; later calls return the same one. */
export function installRelayProbe(): RelayProbe {
  const proto = BackendConnection.prototype as unknown as Wrapped;
  if (proto.__relayProbe) return proto.__relayProbe;
  const hasEnd = typeof proto.endBackpressure === "function";
  let counters = zero(hasEnd);
  const live = new Set<BackendConnection>();
  /** Connections whose reads are stopped right now (tracked by the wrappers below). */
  const stopped = new WeakSet<BackendConnection>();
  const seen = new WeakSet<BackendConnection>();

  const track = (conn: BackendConnection) => {
    if (seen.has(conn)) return;
    seen.add(conn);
    live.add(conn);
    const r = readerOf(conn);
    const pause = r.pause.bind(r);
    const resume = r.resume.bind(r);
    r.pause = () => {
      if (!stopped.has(conn)) counters.pauses++;
      stopped.add(conn);
      return pause();
    };
    r.resume = () => {
      if (stopped.has(conn)) counters.resumes++;
      stopped.delete(conn);
      return resume();
    };
  };

  const relay = proto.relay;
  proto.relay = function (this: BackendConnection, ...args: unknown[]) {
    track(this);
    counters.relays++;
    const name = this.endpoint.name;
    counters.relaysByBackend[name] = (counters.relaysByBackend[name] ?? 0) + 1;
    if (stopped.has(this)) counters.relayStartedPaused++;
    return relay.apply(this, args);
  };
  if (hasEnd) {
    const end = proto.endBackpressure!;
    proto.endBackpressure = function (this: BackendConnection) {
      if (stopped.has(this) && this.state !== "closed") counters.pausedAtResponseEnd++;
      return end.call(this);
    };
  }

  const probe: RelayProbe = {
    get counters() {
      return counters;
    },
    reset() {
      counters = zero(hasEnd);
    },
    snapshot(server) {
      for (const c of live) if (c.state === "closed") live.delete(c);
      return {
        at: new Date().toISOString(),
        counters: structuredClone(counters),
        backends: [...live].map((c) => ({
          id: c.id,
          backend: c.endpoint.name,
          state: c.state,
          paused: pausedFlag(c),
          readingPaused: stopped.has(c),
          bytesRead: socketOf(c)?.bytesRead ?? null,
          bytesWritten: socketOf(c)?.bytesWritten ?? null,
        })),
        sessions: server ? server.sessionsInfo() : null,
      };
    },
  };
  proto.__relayProbe = probe;
  return probe;
}

/**
 * Relays the proxy's own stall watchdog reported and resumed (rwsplit_relay_stalls_total, from
 * #19's watchdog), or null in a tree without it. A stall the watchdog heals shows to a client as
 * a delay of limits.relay_stall_warn only, so the stress test counts these too: they must stay 0.
 */
export async function watchdogStalls(metrics: unknown): Promise<number | null> {
  const registry = (metrics as { registry?: { getSingleMetric(name: string): unknown } }).registry;
  const metric = registry?.getSingleMetric("rwsplit_relay_stalls_total") as
    | { get(): Promise<{ values: { value: number }[] }> }
    | undefined;
  if (!metric) return null;
  return (await metric.get()).values.reduce((n, v) => n + v.value, 0);
}
