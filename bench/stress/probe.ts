import { BackendConnection } from "../../src/proxy/backend-connection.js";
import type { ProxyServer } from "../../src/proxy/server.js";

/**
 * Instrumentation of the relay for the stress test, from outside: it wraps BackendConnection's
 * methods in this process (nothing in src/ changes) to count how often a slow client really
 * made the proxy stop reading a backend (a loopback socket's buffers can hold tens of MB, so a
 * "slow" client is not necessarily slow enough), and to show each backend connection's pause
 * state when a response stalls. It only reads: no behaviour changes.
 *
 * Works on the code before and after the fix for issue #19 (1baf6be): pauses are counted on the
 * backend socket itself, whoever pauses it.
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
  /** The socket itself is not reading (whoever paused it). */
  socketPaused: boolean;
  bytesRead: number;
  bytesWritten: number;
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
  const seen = new WeakSet<BackendConnection>();

  const track = (conn: BackendConnection) => {
    if (seen.has(conn)) return;
    seen.add(conn);
    live.add(conn);
    const socket = conn.socket;
    const pause = socket.pause.bind(socket);
    const resume = socket.resume.bind(socket);
    socket.pause = () => {
      if (!socket.isPaused()) counters.pauses++;
      return pause();
    };
    socket.resume = () => {
      if (socket.isPaused()) counters.resumes++;
      return resume();
    };
    socket.once("close", () => live.delete(conn));
  };

  const relay = proto.relay;
  proto.relay = function (this: BackendConnection, ...args: unknown[]) {
    track(this);
    counters.relays++;
    const name = this.endpoint.name;
    counters.relaysByBackend[name] = (counters.relaysByBackend[name] ?? 0) + 1;
    if (this.socket.isPaused()) counters.relayStartedPaused++;
    return relay.apply(this, args);
  };
  if (hasEnd) {
    const end = proto.endBackpressure!;
    proto.endBackpressure = function (this: BackendConnection) {
      if (this.socket.isPaused() && !this.socket.destroyed) counters.pausedAtResponseEnd++;
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
      return {
        at: new Date().toISOString(),
        counters: structuredClone(counters),
        backends: [...live].map((c) => ({
          id: c.id,
          backend: c.endpoint.name,
          state: c.state,
          paused: pausedFlag(c),
          socketPaused: c.socket.isPaused(),
          bytesRead: c.socket.bytesRead,
          bytesWritten: c.socket.bytesWritten,
        })),
        sessions: server ? server.sessionsInfo() : null,
      };
    },
  };
  proto.__relayProbe = probe;
  return probe;
}
