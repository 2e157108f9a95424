/**
 * The error catalog (STYLE.md principle 5).
 *
 * Two kinds of errors live here:
 * - `RwsplitError`: internal errors, each with a stable `code` that logs, metrics and tests match on.
 * - `ClientError`: what a MySQL client sees, as an ERR packet: a real MySQL/MariaDB error number, its
 *   SQLSTATE, and a message that says what to do. `CLIENT_ERRORS` lists every one the proxy sends.
 */

/** Stable internal error codes. Add new codes here, never inline strings elsewhere. */
export const ERROR_CODES = {
  CONFIG_INVALID: "config is invalid",
  CONFIG_UNREADABLE: "config file cannot be read",
  PROTOCOL_VIOLATION: "peer sent bytes that break the MySQL protocol",
  BACKEND_CONNECT_FAILED: "could not connect to a backend",
  BACKEND_AUTH_FAILED: "backend rejected our credentials",
  BACKEND_LOST: "backend connection closed unexpectedly",
  SESSION_LOST: "the backend connection holding a session's transaction or state is gone",
  BACKEND_TIMEOUT: "backend did not answer in time",
  POOL_EXHAUSTED: "no backend connection became free in time",
  NO_BACKEND: "no backend can serve this statement",
  BACKEND_REFUSED: "a backend answered one of the proxy's own statements with an error",
  SANDBOX_FAILED: "sandbox operation failed",
  SHUTTING_DOWN: "proxy is shutting down",
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
    errno: 1045,
    sqlState: "28000",
    message: `Access denied for user '${user}'@'${host}' (using password: ${usingPassword ? "YES" : "NO"})`,
  }),
  // Server accounts (auth.from_backend) refused after a correct password, as the server refuses.
  accountLocked: (): ClientErrorSpec => ({
    errno: 4151,
    sqlState: "HY000",
    message: "Access denied, this account is locked",
  }),
  /** ER_MUST_CHANGE_PASSWORD_LOGIN: the server's sandbox mode cannot be relayed. */
  passwordExpired: (): ClientErrorSpec => ({
    errno: 1862,
    sqlState: "HY000",
    message:
      "Your password has expired. To log in you must change it using a client that supports expired passwords: connect to the primary directly and run SET PASSWORD (or ALTER USER); rwsplit takes the new password at the next login",
  }),
  accountRequiresTls: (user: string, host: string): ClientErrorSpec => ({
    errno: 1045,
    sqlState: "28000",
    message: `Access denied for user '${user}'@'${host}': the account requires TLS (REQUIRE SSL/X509) and rwsplit logs in to the backends without TLS; use an account without REQUIRE for rwsplit, and TLS between the client and rwsplit (tls.enabled)`,
  }),
  /** A server account whose plugins a proxy cannot verify and relay (it never sees the password). */
  authPluginNotRelayable: (user: string, host: string, plugins: readonly string[]): ClientErrorSpec => ({
    errno: 1251,
    sqlState: "08004",
    message: `Client does not support authentication protocol requested by server: account '${user}'@'${host}' authenticates with ${plugins.join(" or ")}, which rwsplit cannot check and relay; give it a mysql_native_password method (ALTER USER ... IDENTIFIED VIA ${plugins[0]} USING PASSWORD('...') OR mysql_native_password USING PASSWORD('...')) or connect to the server directly`,
  }),
  tooManyConnections: (limit: number): ClientErrorSpec => ({
    errno: 1040,
    sqlState: "08004",
    message: `Too many connections: rwsplit accepts at most ${limit} client connections (limits.max_client_connections); retry later or raise the limit`,
  }),
  unknownCommand: (command: number, name: string): ClientErrorSpec => ({
    errno: 1047,
    sqlState: "08S01",
    message: `Unknown command ${name} (0x${command.toString(16).padStart(2, "0")}): rwsplit does not proxy it; use COM_QUERY or a supported command`,
  }),
  malformedPacket: (detail: string): ClientErrorSpec => ({
    errno: 1835,
    sqlState: "HY000",
    message: `Malformed communication packet: ${detail}`,
  }),
  handshakeError: (detail: string): ClientErrorSpec => ({
    errno: 1043,
    sqlState: "08S01",
    message: `Bad handshake: ${detail}`,
  }),
  authPluginUnsupported: (plugin: string): ClientErrorSpec => ({
    errno: 1251,
    sqlState: "08004",
    message: `Client does not support authentication protocol requested by server (${plugin}); use mysql_native_password or caching_sha2_password`,
  }),
  secureTransportRequired: (): ClientErrorSpec => ({
    errno: 3159,
    sqlState: "HY000",
    message:
      "Connections using insecure transport are prohibited: full caching_sha2_password authentication needs TLS or the server's RSA public key",
  }),
  backendUnavailable: (detail: string): ClientErrorSpec => ({
    errno: 2003,
    sqlState: "HY000",
    message: `Can't connect to a backend MySQL server: ${detail}; check /backends on the admin port`,
  }),
  lostConnection: (detail: string): ClientErrorSpec => ({
    errno: 2013,
    sqlState: "HY000",
    message: `Lost connection to MySQL server during query: ${detail}; the statement may or may not have run, retry if it is safe to`,
  }),
  sessionLost: (detail: string): ClientErrorSpec => ({
    errno: 2013,
    sqlState: "HY000",
    message: `Lost connection to MySQL server: ${detail}. This statement did not run`,
  }),
  poolTimeout: (backend: string, waitedMs: number): ClientErrorSpec => ({
    errno: 1040,
    sqlState: "08004",
    message: `Too many connections: no backend connection to ${backend} became free within ${waitedMs} ms (pool.max_per_backend); retry later or raise the pool size`,
  }),
  shuttingDown: (): ClientErrorSpec => ({
    errno: 1053,
    sqlState: "08S01",
    message: "Server shutdown in progress: rwsplit is draining; reconnect to another instance",
  }),
  /**
   * ER_UNSUPPORTED_PS, the server's answer to COM_STMT_BULK_EXECUTE from a client that did not
   * negotiate MARIADB_CLIENT_STMT_BULK_OPERATIONS.
   */
  unsupportedPs: (): ClientErrorSpec => ({
    errno: 1295,
    sqlState: "HY000",
    message: "This command is not supported in the prepared statement protocol yet",
  }),
  /**
   * ER_UNKNOWN_STMT_HANDLER as the server words it: `command` is its function's name
   * (mysqld_stmt_execute, also for COM_STMT_BULK_EXECUTE; mysqld_stmt_reset, mysqld_stmt_fetch).
   */
  unknownStatement: (id: number, command: string): ClientErrorSpec => ({
    errno: 1243,
    sqlState: "HY000",
    message: `Unknown prepared statement handler (${id}) given to ${command}`,
  }),
  /** The server's own answer to COM_STMT_FETCH without an open cursor (ER_STMT_HAS_NO_OPEN_CURSOR). */
  noOpenCursor: (id: number): ClientErrorSpec => ({
    errno: 1421,
    sqlState: "HY000",
    message: `The statement (${id}) has no open cursor`,
  }),
  // KILL: the number is one of rwsplit's connection ids (src/proxy/session-kill.ts).
  noSuchThread: (id: string): ClientErrorSpec => ({
    errno: 1094,
    sqlState: "HY000",
    message: `Unknown thread id: ${id}. Through rwsplit, KILL takes rwsplit's connection id, the one in the handshake (mysql2 conn.threadId, JDBC's own cancel()); CONNECTION_ID() and SHOW PROCESSLIST give a backend's thread id, which rwsplit does not accept here`,
  }),
  killDenied: (id: string): ClientErrorSpec => ({
    errno: 1095,
    sqlState: "HY000",
    message: `You are not owner of thread ${id}: through rwsplit a user may kill only its own connections; log in as that connection's user`,
  }),
  killNotSupported: (what: string, instead: string): ClientErrorSpec => ({
    errno: 1235,
    sqlState: "42000",
    message: `rwsplit doesn't support '${what}': ${instead}`,
  }),
  killSyntax: (): ClientErrorSpec => ({
    errno: 1064,
    sqlState: "42000",
    message:
      "You have an error in your SQL syntax: KILL needs a connection id: KILL [HARD | SOFT] [CONNECTION | QUERY] <rwsplit connection id>",
  }),
  /** The server's own answer to KILL QUERY of the issuing connection. */
  queryInterrupted: (): ClientErrorSpec => ({
    errno: 1317,
    sqlState: "70100",
    message: "Query execution was interrupted",
  }),
  /** The server's own answer to KILL [CONNECTION] of the issuing connection, before it closes. */
  connectionKilled: (): ClientErrorSpec => ({
    errno: 1927,
    sqlState: "70100",
    message: "Connection was killed",
  }),
  /**
   * ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, what the server answers a write in a READ ONLY
   * transaction; rwsplit answers it for anything that is not safe on the replica such a
   * transaction runs on.
   */
  writeInReadOnlyTransaction: (): ClientErrorSpec => ({
    errno: 1792,
    sqlState: "25006",
    message:
      "Cannot execute statement in a READ ONLY transaction: rwsplit runs READ ONLY transactions on a replica, where only reads, COMMIT/ROLLBACK, savepoints and session variables may run; end the transaction first, or start it with /* rwsplit: route=primary */",
  }),
  /** routing.read_fallback=error and no replica may serve a read. */
  noReplica: (why: string): ClientErrorSpec => ({
    errno: 2003,
    sqlState: "HY000",
    message: `Can't connect to a backend MySQL server: no replica can serve this read (${why}) and routing.read_fallback is "error"; retry, add /* rwsplit: route=primary */, or check /backends`,
  }),
  packetTooLarge: (max: number): ClientErrorSpec => ({
    errno: 1153,
    sqlState: "08S01",
    message: `Got a packet bigger than 'max_allowed_packet' bytes (${max})`,
  }),
} as const;

/** Internal error codes whose client answer is fixed; anything else is "backend unavailable". */
const CLIENT_ANSWER: Partial<Record<ErrorCode, (message: string) => ClientErrorSpec>> = {
  POOL_EXHAUSTED: (m) => ({ errno: 1040, sqlState: "08004", message: m }),
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
