/**
 * The error catalog (STYLE.md principle 5; undici's lib/core/errors.js is the model).
 *
 * Two kinds of errors live here:
 * - `RwsplitError` and its subclasses: internal errors, each with a stable `code` from
 *   `ERROR_CODES` that logs, metrics, the admin API and tests match on. Nothing in src/ throws a
 *   plain `Error` (test/unit/errors.test.ts checks).
 * - `ClientError`: what a MySQL client sees, as an ERR packet: a real MySQL/MariaDB error number, its
 *   SQLSTATE, and a message that says what to do. `CLIENT_ERRORS` lists every one the proxy sends,
 *   and `clientErrorFor` is the one place an internal error becomes one.
 * The server error numbers rwsplit sends or matches on are named once, in `ERRNO`.
 */

/** Stable internal error codes. Add new codes here, never inline strings elsewhere. */
export const ERROR_CODES = {
  CONFIG_INVALID: "config is invalid",
  CONFIG_UNREADABLE: "config file cannot be read",
  PROTOCOL_VIOLATION: "peer sent bytes that break the MySQL protocol",
  PACKET_TOO_LARGE:
    "a client sent a packet the servers' max_allowed_packet (or limits.max_allowed_packet) refuses",
  BACKEND_CONNECT_FAILED: "could not connect to a backend",
  BACKEND_AUTH_FAILED: "backend rejected our credentials",
  BACKEND_LOST: "backend connection closed unexpectedly",
  SESSION_LOST: "the backend connection holding a session's transaction or state is gone",
  BACKEND_TIMEOUT: "backend did not answer in time",
  POOL_EXHAUSTED: "no backend connection became free in time",
  NO_BACKEND: "no backend can serve this statement",
  BACKEND_REFUSED: "a backend answered one of the proxy's own statements with an error",
  MONITOR_CHECK_FAILED: "a health check got an answer it cannot use",
  SANDBOX_FAILED: "sandbox operation failed",
  SHUTTING_DOWN: "proxy is shutting down",
  WORKER_UNAVAILABLE: "a worker process (serve --workers) is gone or did not answer in time",
  INTERNAL: "a bug in rwsplit: a part was used in a way its code rules out",
  CLI_USAGE: "the command line names something that does not exist or cannot be used",
  ADMIN_API_REFUSED: "the running proxy's admin API refused the request",
  COORDINATOR_UNAVAILABLE: "the fleet coordinator's store (Redis) is unreachable or did not answer in time",
  // High availability (src/ha): HaError carries these, with the admin API's HTTP status (HA_STATUS).
  HA_NOT_CONFIGURED: "failover.user is not configured: no topology change is possible",
  HA_UNKNOWN_BACKEND: "the request names a backend that is not in the config",
  HA_BAD_REQUEST: "the requested topology change makes no sense for this topology",
  HA_CONFLICT: "the topology is not in a state that allows the requested change",
  HA_BUSY: "a topology change is already running on this instance",
  HA_LEASE_HELD: "another instance holds the topology lock",
  HA_NO_CANDIDATE: "no replica can be promoted",
  HA_PUBLISH_FAILED: "the new topology could not be published after the servers were changed",
  // The replication operations (src/ha/replication-ops.ts).
  REPLICATION_OP_FAILED: "a replication operation on a node failed",
  REPLICATION_DIVERGED: "a node has transactions the primary does not have",
  BACKUP_FAILED: "a backup, verify, restore or scrub failed",
  // Changing the cluster while it runs (src/cluster): RuntimeChangeError carries these, with the
  // admin API's HTTP status (CHANGE_STATUS).
  CHANGE_UNKNOWN_BACKEND: "a drain or undrain names a backend that is not in the config",
  CHANGE_REFUSED: "the requested drain, undrain or reload cannot be done in this state",
  RELOAD_NO_FILE: "the proxy was started without a config file: there is nothing to reload",
  BACKUP_NOT_FOUND: "no complete backup with that id at any destination",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RwsplitError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code], options);
    this.name = "RwsplitError";
    this.code = code;
  }
}

/** A packet over the framer's limit (protocol/framing.ts): the first of its header's sequence id. */
export class PacketTooLargeError extends RwsplitError {
  constructor(
    readonly limit: number,
    readonly seq: number,
  ) {
    super("PACKET_TOO_LARGE", `packet larger than the ${limit}-byte limit`);
    this.name = "PacketTooLargeError";
  }
}

/** A server (backend, or a node under an HA operation) did not answer within a deadline. */
export class DeadlineError extends RwsplitError {
  constructor(
    /** What was waited for: "connect to 10.0.0.5:3306", "SET GLOBAL read_only", "monitor check". */
    what: string,
    readonly ms: number,
  ) {
    super("BACKEND_TIMEOUT", `${what}: no answer within ${ms} ms`);
    this.name = "DeadlineError";
  }
}

export type HaErrorCode = keyof typeof HA_STATUS;

/** The admin API's HTTP status per HA error code (POST /switchover, /rejoin, /failover). */
export const HA_STATUS = {
  HA_UNKNOWN_BACKEND: 400,
  HA_BAD_REQUEST: 400,
  HA_NOT_CONFIGURED: 409,
  HA_CONFLICT: 409,
  HA_BUSY: 409,
  HA_LEASE_HELD: 409,
  REPLICATION_DIVERGED: 409,
  HA_PUBLISH_FAILED: 500,
  HA_NO_CANDIDATE: 503,
} as const satisfies Partial<Record<ErrorCode, 400 | 409 | 500 | 503>>;

/** A topology change refused or failed midway; `status` is what the admin API answers. */
export class HaError extends RwsplitError {
  declare readonly code: HaErrorCode;
  /** HTTP status for the admin API: 400 bad request, 409 conflict, 500 failed midway, 503 nothing to promote. */
  readonly status: 400 | 409 | 500 | 503;
  constructor(code: HaErrorCode, message: string) {
    super(code, message);
    this.name = "HaError";
    this.status = HA_STATUS[code];
  }
}

export type ChangeErrorCode = keyof typeof CHANGE_STATUS;

/** The admin API's HTTP status per runtime change error (POST /config/reload, /backends/NAME/drain). */
export const CHANGE_STATUS = {
  CHANGE_UNKNOWN_BACKEND: 404,
  CHANGE_REFUSED: 409,
  RELOAD_NO_FILE: 409,
} as const satisfies Partial<Record<ErrorCode, 404 | 409>>;

/** A drain, undrain or reload refused; `status` is what the admin API answers. */
export class RuntimeChangeError extends RwsplitError {
  declare readonly code: ChangeErrorCode;
  readonly status: 404 | 409;
  constructor(code: ChangeErrorCode, message: string) {
    super(code, message);
    this.name = "RuntimeChangeError";
    this.status = CHANGE_STATUS[code];
  }
}

/** A replication operation (src/ha/replication-ops.ts): which one, on which node, why, and what to do. */
export class ReplicationOpError extends RwsplitError {
  declare readonly code: "REPLICATION_OP_FAILED" | "REPLICATION_DIVERGED";
  constructor(
    /** readPosition, waitApplied, promote, repoint, setReadOnly, waitForGtid, demote, checkDiverged, binlogPos. */
    readonly op: string,
    /** The node the operation ran on. */
    readonly node: string,
    message: string,
    options?: { cause?: unknown; code?: "REPLICATION_DIVERGED" },
  ) {
    super(options?.code ?? "REPLICATION_OP_FAILED", `${op} ${node}: ${message}`, options);
    this.name = "ReplicationOpError";
  }
}

/** A node whose history has transactions the (new) primary does not have: no retry can fix it. */
export class DivergedError extends ReplicationOpError {
  constructor(
    op: string,
    node: string,
    /** The primary the node was to replicate from. */
    readonly primary: string,
    /** The node's @@gtid_binlog_pos, and the GTIDs of it the primary does not have. */
    readonly nodePos: string,
    readonly extraGtids: string[],
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      op,
      node,
      `diverged from ${primary}: ${detail}. ${node} is left read_only and not replicating; restore it from a backup of ${primary} (or discard those transactions) before it rejoins`,
      { ...options, code: "REPLICATION_DIVERGED" },
    );
    this.name = "DivergedError";
  }
}

/**
 * Server error numbers rwsplit sends or matches on, by the server's own names (MariaDB's
 * include/mysqld_error.h; CR_* from the client library's errmsg.h). Nowhere else in src/ is an
 * error number written as a literal (test/unit/errors.test.ts checks).
 */
export const ERRNO = {
  ER_CON_COUNT_ERROR: 1040,
  ER_HANDSHAKE_ERROR: 1043,
  ER_ACCESS_DENIED_ERROR: 1045,
  ER_UNKNOWN_COM_ERROR: 1047,
  ER_BAD_DB_ERROR: 1049,
  ER_SERVER_SHUTDOWN: 1053,
  ER_BAD_FIELD_ERROR: 1054,
  ER_PARSE_ERROR: 1064,
  ER_NO_SUCH_THREAD: 1094,
  ER_KILL_DENIED_ERROR: 1095,
  ER_TABLEACCESS_DENIED_ERROR: 1142,
  ER_COLUMNACCESS_DENIED_ERROR: 1143,
  ER_NO_SUCH_TABLE: 1146,
  ER_NET_PACKET_TOO_LARGE: 1153,
  ER_SPECIFIC_ACCESS_DENIED_ERROR: 1227,
  ER_NOT_SUPPORTED_YET: 1235,
  ER_MASTER_FATAL_ERROR_READING_BINLOG: 1236,
  ER_UNKNOWN_STMT_HANDLER: 1243,
  ER_NOT_SUPPORTED_AUTH_MODE: 1251,
  ER_UNSUPPORTED_PS: 1295,
  ER_QUERY_INTERRUPTED: 1317,
  ER_STMT_HAS_NO_OPEN_CURSOR: 1421,
  ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: 1792,
  ER_MALFORMED_PACKET: 1835,
  ER_MUST_CHANGE_PASSWORD_LOGIN: 1862,
  ER_CONNECTION_KILLED: 1927,
  ER_SECURE_TRANSPORT_REQUIRED: 3159,
  ER_ACCOUNT_HAS_BEEN_LOCKED: 4151,
  CR_CONN_HOST_ERROR: 2003,
  CR_SERVER_LOST: 2013,
} as const;

/** An ERR reply from a server as mysql2 reports it (the connection is fine), not a network failure. */
export function isServerError(e: unknown): e is Error & { errno: number; sqlState: string } {
  const err = e as { errno?: unknown; sqlState?: unknown; fatal?: unknown } | null;
  return typeof err?.errno === "number" && typeof err.sqlState === "string" && err.fatal !== true;
}

/** The server's error number of a mysql2 error, or 0 when `e` carries none. */
export function serverErrno(e: unknown): number {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === "number" ? n : 0;
}

/** An error to send to a client as an ERR packet. */
export interface ClientErrorSpec {
  /** MySQL/MariaDB error number (e.g. 1045 ER_ACCESS_DENIED_ERROR). */
  readonly errno: number;
  /** Five-character SQLSTATE. */
  readonly sqlState: string;
  readonly message: string;
}

/**
 * Every ERR the proxy itself generates. Numbers and SQLSTATEs are the server's own
 * (MariaDB's include/mysqld_error.h and the client library's errmsg.h) so that drivers map them to
 * the right exception classes.
 */
export const CLIENT_ERRORS = {
  accessDenied: (user: string, host: string, usingPassword: boolean): ClientErrorSpec => ({
    errno: ERRNO.ER_ACCESS_DENIED_ERROR,
    sqlState: "28000",
    message: `Access denied for user '${user}'@'${host}' (using password: ${usingPassword ? "YES" : "NO"})`,
  }),
  // Server accounts (auth.from_backend) refused after a correct password, as the server refuses.
  accountLocked: (): ClientErrorSpec => ({
    errno: ERRNO.ER_ACCOUNT_HAS_BEEN_LOCKED,
    sqlState: "HY000",
    message: "Access denied, this account is locked",
  }),
  /** ER_MUST_CHANGE_PASSWORD_LOGIN: the server's sandbox mode cannot be relayed. */
  passwordExpired: (): ClientErrorSpec => ({
    errno: ERRNO.ER_MUST_CHANGE_PASSWORD_LOGIN,
    sqlState: "HY000",
    message:
      "Your password has expired. To log in you must change it using a client that supports expired passwords: connect to the primary directly and run SET PASSWORD (or ALTER USER); rwsplit takes the new password at the next login",
  }),
  accountRequiresTls: (user: string, host: string): ClientErrorSpec => ({
    errno: ERRNO.ER_ACCESS_DENIED_ERROR,
    sqlState: "28000",
    message: `Access denied for user '${user}'@'${host}': the account requires TLS (REQUIRE SSL/X509) and rwsplit logs in to the backends without TLS; use an account without REQUIRE for rwsplit, and TLS between the client and rwsplit (tls.enabled)`,
  }),
  /** A server account whose plugins a proxy cannot verify and relay (it never sees the password). */
  authPluginNotRelayable: (user: string, host: string, plugins: readonly string[]): ClientErrorSpec => ({
    errno: ERRNO.ER_NOT_SUPPORTED_AUTH_MODE,
    sqlState: "08004",
    message: `Client does not support authentication protocol requested by server: account '${user}'@'${host}' authenticates with ${plugins.join(" or ")}, which rwsplit cannot check and relay; give it a mysql_native_password method (ALTER USER ... IDENTIFIED VIA ${plugins[0]} USING PASSWORD('...') OR mysql_native_password USING PASSWORD('...')) or connect to the server directly`,
  }),
  tooManyConnections: (limit: number): ClientErrorSpec => ({
    errno: ERRNO.ER_CON_COUNT_ERROR,
    sqlState: "08004",
    message: `Too many connections: rwsplit accepts at most ${limit} client connections (limits.max_client_connections); retry later or raise the limit`,
  }),
  unknownCommand: (command: number, name: string): ClientErrorSpec => ({
    errno: ERRNO.ER_UNKNOWN_COM_ERROR,
    sqlState: "08S01",
    message: `Unknown command ${name} (0x${command.toString(16).padStart(2, "0")}): rwsplit does not proxy it; use COM_QUERY or a supported command`,
  }),
  changeUserRefused: (refusals: number): ClientErrorSpec => ({
    errno: ERRNO.ER_UNKNOWN_COM_ERROR,
    sqlState: "08S01",
    message: `Unknown command: COM_CHANGE_USER is refused on a connection after ${refusals} failed ones, as the server does; open a new connection to log in as another user`,
  }),
  malformedPacket: (detail: string): ClientErrorSpec => ({
    errno: ERRNO.ER_MALFORMED_PACKET,
    sqlState: "HY000",
    message: `Malformed communication packet: ${detail}`,
  }),
  handshakeError: (detail: string): ClientErrorSpec => ({
    errno: ERRNO.ER_HANDSHAKE_ERROR,
    sqlState: "08S01",
    message: `Bad handshake: ${detail}`,
  }),
  authPluginUnsupported: (plugin: string): ClientErrorSpec => ({
    errno: ERRNO.ER_NOT_SUPPORTED_AUTH_MODE,
    sqlState: "08004",
    message: `Client does not support authentication protocol requested by server (${plugin}); use mysql_native_password or caching_sha2_password`,
  }),
  secureTransportRequired: (): ClientErrorSpec => ({
    errno: ERRNO.ER_SECURE_TRANSPORT_REQUIRED,
    sqlState: "HY000",
    message:
      "Connections using insecure transport are prohibited: full caching_sha2_password authentication needs TLS or the server's RSA public key",
  }),
  backendUnavailable: (detail: string): ClientErrorSpec => ({
    errno: ERRNO.CR_CONN_HOST_ERROR,
    sqlState: "HY000",
    message: `Can't connect to a backend MySQL server: ${detail}; check /backends on the admin port`,
  }),
  lostConnection: (detail: string): ClientErrorSpec => ({
    errno: ERRNO.CR_SERVER_LOST,
    sqlState: "HY000",
    message: `Lost connection to MySQL server during query: ${detail}; the statement may or may not have run, retry if it is safe to`,
  }),
  sessionLost: (detail: string): ClientErrorSpec => ({
    errno: ERRNO.CR_SERVER_LOST,
    sqlState: "HY000",
    message: `Lost connection to MySQL server: ${detail}. This statement did not run`,
  }),
  poolTimeout: (backend: string, waitedMs: number): ClientErrorSpec => ({
    errno: ERRNO.ER_CON_COUNT_ERROR,
    sqlState: "08004",
    message: `Too many connections: no backend connection to ${backend} became free within ${waitedMs} ms (pool.max_per_backend); retry later or raise the pool size`,
  }),
  shuttingDown: (): ClientErrorSpec => ({
    errno: ERRNO.ER_SERVER_SHUTDOWN,
    sqlState: "08S01",
    message: "Server shutdown in progress: rwsplit is draining; reconnect to another instance",
  }),
  /**
   * ER_UNSUPPORTED_PS, the server's answer to COM_STMT_BULK_EXECUTE from a client that did not
   * negotiate MARIADB_CLIENT_STMT_BULK_OPERATIONS.
   */
  unsupportedPs: (): ClientErrorSpec => ({
    errno: ERRNO.ER_UNSUPPORTED_PS,
    sqlState: "HY000",
    message: "This command is not supported in the prepared statement protocol yet",
  }),
  /**
   * ER_UNKNOWN_STMT_HANDLER as the server words it: `command` is its function's name
   * (mysqld_stmt_execute, also for COM_STMT_BULK_EXECUTE; mysqld_stmt_reset, mysqld_stmt_fetch).
   */
  unknownStatement: (id: number, command: string): ClientErrorSpec => ({
    errno: ERRNO.ER_UNKNOWN_STMT_HANDLER,
    sqlState: "HY000",
    message: `Unknown prepared statement handler (${id}) given to ${command}`,
  }),
  /** The server's own answer to COM_STMT_FETCH without an open cursor (ER_STMT_HAS_NO_OPEN_CURSOR). */
  noOpenCursor: (id: number): ClientErrorSpec => ({
    errno: ERRNO.ER_STMT_HAS_NO_OPEN_CURSOR,
    sqlState: "HY000",
    message: `The statement (${id}) has no open cursor`,
  }),
  // KILL: the number is one of rwsplit's connection ids (src/proxy/session-kill.ts).
  noSuchThread: (id: string): ClientErrorSpec => ({
    errno: ERRNO.ER_NO_SUCH_THREAD,
    sqlState: "HY000",
    message: `Unknown thread id: ${id}. Through rwsplit, KILL takes rwsplit's connection id, the one in the handshake (mysql2 conn.threadId, JDBC's own cancel()); CONNECTION_ID() and SHOW PROCESSLIST give a backend's thread id, which rwsplit does not accept here`,
  }),
  killDenied: (id: string): ClientErrorSpec => ({
    errno: ERRNO.ER_KILL_DENIED_ERROR,
    sqlState: "HY000",
    message: `You are not owner of thread ${id}: through rwsplit a user may kill only its own connections; log in as that connection's user`,
  }),
  killNotSupported: (what: string, instead: string): ClientErrorSpec => ({
    errno: ERRNO.ER_NOT_SUPPORTED_YET,
    sqlState: "42000",
    message: `rwsplit doesn't support '${what}': ${instead}`,
  }),
  killSyntax: (): ClientErrorSpec => ({
    errno: ERRNO.ER_PARSE_ERROR,
    sqlState: "42000",
    message:
      "You have an error in your SQL syntax: KILL needs a connection id: KILL [HARD | SOFT] [CONNECTION | QUERY] <rwsplit connection id>",
  }),
  /** The server's own answer to KILL QUERY of the issuing connection. */
  queryInterrupted: (): ClientErrorSpec => ({
    errno: ERRNO.ER_QUERY_INTERRUPTED,
    sqlState: "70100",
    message: "Query execution was interrupted",
  }),
  /** The server's own answer to KILL [CONNECTION] of the issuing connection, before it closes. */
  connectionKilled: (): ClientErrorSpec => ({
    errno: ERRNO.ER_CONNECTION_KILLED,
    sqlState: "70100",
    message: "Connection was killed",
  }),
  /**
   * ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, what the server answers a write in a READ ONLY
   * transaction; rwsplit answers it for anything that is not safe on the replica such a
   * transaction runs on.
   */
  writeInReadOnlyTransaction: (): ClientErrorSpec => ({
    errno: ERRNO.ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION,
    sqlState: "25006",
    message:
      "Cannot execute statement in a READ ONLY transaction: rwsplit runs READ ONLY transactions on a replica, where only reads, COMMIT/ROLLBACK, savepoints and session variables may run; end the transaction first, or start it with /* rwsplit: route=primary */",
  }),
  /** routing.read_fallback=error and no replica may serve a read. */
  noReplica: (why: string): ClientErrorSpec => ({
    errno: ERRNO.CR_CONN_HOST_ERROR,
    sqlState: "HY000",
    message: `Can't connect to a backend MySQL server: no replica can serve this read (${why}) and routing.read_fallback is "error"; retry, add /* rwsplit: route=primary */, or check /backends`,
  }),
  packetTooLarge: (max: number): ClientErrorSpec => ({
    errno: ERRNO.ER_NET_PACKET_TOO_LARGE,
    sqlState: "08S01",
    message: `Got a packet bigger than 'max_allowed_packet' bytes (${max}): send less at once, or raise max_allowed_packet on the servers (rwsplit reads the primary's at start) and limits.max_allowed_packet`,
  }),
} as const;

/** Internal error codes whose client answer is fixed; anything else is "backend unavailable". */
const CLIENT_ANSWER: Partial<Record<ErrorCode, (message: string) => ClientErrorSpec>> = {
  POOL_EXHAUSTED: (m) => ({ errno: ERRNO.ER_CON_COUNT_ERROR, sqlState: "08004", message: m }),
  SHUTTING_DOWN: () => CLIENT_ERRORS.shuttingDown(),
  BACKEND_LOST: (m) => CLIENT_ERRORS.lostConnection(m),
  SESSION_LOST: (m) => CLIENT_ERRORS.sessionLost(m),
};

/**
 * The ERR packet a client gets for any error met while serving its command: the one place
 * internal errors become MySQL errors. An error that carries the server's own answer (a backend
 * refused one of the proxy's statements) passes it on unchanged.
 */
export function clientErrorFor(e: unknown): ClientErrorSpec {
  if (typeof e === "object" && e !== null && "clientError" in e) {
    return (e as { clientError: ClientErrorSpec }).clientError;
  }
  if (e instanceof RwsplitError) {
    return (CLIENT_ANSWER[e.code] ?? CLIENT_ERRORS.backendUnavailable)(e.message);
  }
  return CLIENT_ERRORS.backendUnavailable(String(e));
}
