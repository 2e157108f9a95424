import type { KeyObject } from "node:crypto";
import type { SecureContext } from "node:tls";
import type { Logger } from "pino";
import type { Config } from "../config/types.js";
import type { StatementSample } from "../digests/sample.js";
import type { ClientErrorSpec } from "../errors.js";
import type { ServerProtocol } from "../protocol/constants/capabilities.js";
import type { KillStatement } from "../routing/kill-statement.js";
import type { AcquireRequest, BackendPool } from "./backend-pool.js";
import type { KillIssuer } from "./commands/kill-policy.js";
import type { WaitResult } from "./consistency/gtid-wait.js";
import type { UserWriteLog } from "./consistency/user-write-log.js";
import type { ServerDefaults } from "./server-defaults.js";
import type { Upstreams } from "./upstreams.js";
import type { UserDirectory } from "./user-directory.js";

export interface TlsContext {
  secureContext: SecureContext;
  /** PEM sent to clients that ask for it during caching_sha2_password full authentication. */
  rsaPublicKeyPem: string;
  rsaPrivateKey: KeyObject;
}

/** Observations the data path reports (metrics are wired to these by the server). */
export interface SessionHooks {
  /**
   * One statement finished: where it ran and why, how long it took (ns), its ERR number or 0, and
   * for the query digests its digest, user, schema and rows sent (`sample`: the session's one
   * object, rewritten per statement; read it during the call, keep nothing of it). `endedAt`:
   * Date.now() when it ended, when the caller has read it already (else the hook reads it).
   */
  onStatement(
    route: "primary" | "replica",
    backend: string,
    reason: string,
    durationNs: number,
    errno: number,
    sample: StatementSample,
    endedAt?: number,
  ): void;
  onClientError(errno: number): void;
  /**
   * Connecting to `backend` failed, or a connection to it was lost mid-statement: the HA manager
   * has the monitor check it now rather than at its next interval. Failure paths only.
   */
  onBackendFailure?(backend: string): void;
  onClientConnect?(): void;
  onClientDisconnect?(): void;
  /**
   * The send-time guard stopped a statement that is not safe on a replica from going to one
   * (statement-run.ts). The router should make this impossible: it is counted so that it shows.
   */
  onReplicaWriteBlocked?(backend: string, reason: string): void;
  /** The stall watchdog found a relay paused while its client could take more (issue #19). */
  onRelayStall?(): void;
  /**
   * A read waited on `backend` for a write it must see (MASTER_GTID_WAIT, routing.consistency_wait);
   * on "timeout" or "error" it went to the primary.
   */
  onConsistencyWait?(backend: string, result: WaitResult): void;
}

/** A statement a session has running on a backend, as KILL needs to know it. */
export interface RunningStatement {
  pool: BackendPool;
  /** The server's thread id of the connection running it (from that connection's handshake). */
  threadId: number;
  /** The running session's login: same user, so the server lets us kill its thread. */
  req: AcquireRequest;
  /** The same statement still runs on the same connection (it may finish while we connect). */
  stillRunning(): boolean;
}

/** A live client session as other sessions see it (KILL), without its class. */
export interface SessionHandle {
  readonly connectionId: number;
  /** Null while it authenticates. */
  readonly userName: string | null;
  /** The statement it has running on a backend connection, or null. */
  runningStatement(): RunningStatement | null;
  close(): void;
}

/** KILL [CONNECTION|QUERY] n. */
export type ThreadKill = Extract<KillStatement, { kind: "thread" }>;

/** How a KILL went in the process that holds the session: OK (error null), or the server's error. */
export interface PeerKillResult {
  error: ClientErrorSpec | null;
}

/**
 * The sessions of rwsplit's other worker processes, for KILL: the id is looked up in every other
 * worker, and the one holding it carries the KILL out (commands/kill.ts) and says how it went;
 * null when none holds it.
 */
export interface SessionPeers {
  kill(stmt: ThreadKill, issuer: KillIssuer): Promise<PeerKillResult | null>;
}

/** Everything a client session needs from the proxy, passed down explicitly. */
export interface ProxyContext {
  readonly config: Config;
  readonly users: UserDirectory;
  readonly upstreams: Upstreams;
  readonly tls: TlsContext | null;
  readonly logger: Logger;
  readonly hooks: SessionHooks;
  serverVersion(): string;
  /** The primary's protocol flavour (MySQL, or MariaDB with its extended capabilities), from its greeting. */
  serverProtocol(): ServerProtocol;
  /** What a new session starts with on the primary (session tracking, idle timeouts, ...). */
  serverDefaults(): ServerDefaults;
  nextConnectionId(): number;
  /** The live session with this connection id (the one its handshake announced), for KILL. */
  session(connectionId: number): SessionHandle | undefined;
  /** Sessions of the other worker processes (KILL n of one of theirs); absent in one process. */
  readonly peers?: SessionPeers;
  /** True once SIGTERM started the drain: sessions close when idle. */
  draining(): boolean;
  /** routing.consistency: user — each user's last write (absent for the other scopes). */
  readonly userWrites?: UserWriteLog;
}
