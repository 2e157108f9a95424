import type { KeyObject } from "node:crypto";
import type { SecureContext } from "node:tls";
import type { Logger } from "pino";
import type { Config } from "../config/types.js";
import type { StatementSample } from "../digests/sample.js";
import type { ClientSession } from "./client-session.js";
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
   * object, rewritten per statement; read it during the call, keep nothing of it).
   */
  onStatement(
    route: "primary" | "replica",
    backend: string,
    reason: string,
    durationNs: number,
    errno: number,
    sample: StatementSample,
  ): void;
  onClientError(errno: number): void;
  /**
   * Connecting to `backend` failed, or a connection to it was lost mid-statement: the HA manager
   * has the monitor check it now rather than at its next interval. Failure paths only.
   */
  onBackendFailure?(backend: string): void;
  onClientConnect?(): void;
  onClientDisconnect?(): void;
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
  nextConnectionId(): number;
  /** The live session with this connection id (the one its handshake announced), for KILL. */
  session(connectionId: number): ClientSession | undefined;
  /** True once SIGTERM started the drain: sessions close when idle. */
  draining(): boolean;
}
