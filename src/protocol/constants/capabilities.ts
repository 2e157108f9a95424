/**
 * Capability flags of the MySQL client/server protocol ("Capabilities Flags" in the MySQL
 * internals manual; MariaDB's include/mysql_com.h). The lower 32 bits are sent in the handshake.
 * MariaDB's extended capabilities (bits 32..63, `MariadbCapability`) live in filler bytes, read
 * only when bit 0 is clear: MariaDB calls it CLIENT_MYSQL and a MariaDB server clears it.
 */
export const Capability = {
  LONG_PASSWORD: 1 << 0,
  FOUND_ROWS: 1 << 1,
  LONG_FLAG: 1 << 2,
  CONNECT_WITH_DB: 1 << 3,
  NO_SCHEMA: 1 << 4,
  COMPRESS: 1 << 5,
  ODBC: 1 << 6,
  LOCAL_FILES: 1 << 7,
  IGNORE_SPACE: 1 << 8,
  PROTOCOL_41: 1 << 9,
  INTERACTIVE: 1 << 10,
  SSL: 1 << 11,
  IGNORE_SIGPIPE: 1 << 12,
  TRANSACTIONS: 1 << 13,
  RESERVED: 1 << 14,
  SECURE_CONNECTION: 1 << 15,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
  // Bit 25 (optional resultset metadata), 27 (query attributes), 28 (MFA): MySQL 8 features
  // rwsplit does not offer.
  /** MySQL 8.0.18+: the compressed protocol with zstd (HandshakeResponse41 adds its level). */
  ZSTD_COMPRESSION_ALGORITHM: 1 << 26,
} as const;

/**
 * MariaDB's extended capabilities, as the 32-bit word that follows 6 zero filler bytes in
 * HandshakeV10 and fills bytes 19..22 of HandshakeResponse41's filler (capabilities >> 32 in
 * MariaDB's mysql_com.h, "MariaDB Capabilities Extension" in its protocol docs). Both sides use
 * them only when the server cleared CLIENT_MYSQL (= CLIENT_LONG_PASSWORD).
 */
export const MariadbCapability = {
  /** 1 << 32: progress report packets (0xFF 0xFFFF) inside responses. Not offered. */
  PROGRESS: 1 << 0,
  /** 1 << 33: COM_MULTI, gone from the server. Not offered. */
  COM_MULTI: 1 << 1,
  /** 1 << 34: COM_STMT_BULK_EXECUTE (0xFA), since 10.2. */
  STMT_BULK_OPERATIONS: 1 << 2,
  /** 1 << 35: column definitions carry extended type info (format `json`, `uuid`, ...), since 10.5. */
  EXTENDED_METADATA: 1 << 3,
  /**
   * 1 << 36: every column count is followed by int<1> metadata_follows; a prepared statement's
   * result skips its column definitions when they did not change since the server last sent
   * them for that statement (its PREPARE or an earlier EXECUTE), since 10.6.
   */
  CACHE_METADATA: 1 << 4,
  /** 1 << 37: a result per row of a bulk execute (11.5). Not offered. */
  BULK_UNIT_RESULTS: 1 << 5,
} as const;

/** The MariaDB extended capabilities rwsplit implements, offered in front of a MariaDB primary that has them. */
export const MARIADB_PROXY_CAPABILITIES =
  (MariadbCapability.STMT_BULK_OPERATIONS |
    MariadbCapability.EXTENDED_METADATA |
    MariadbCapability.CACHE_METADATA) >>>
  0;

/**
 * The extended capabilities a backend connection must share with its client: they change what
 * the server sends (column definitions, column counts) or accepts (COM_STMT_BULK_EXECUTE), so
 * they are part of the pool key, like WIRE_FORMAT_CAPABILITIES.
 */
export const MARIADB_WIRE_FORMAT_CAPABILITIES = MARIADB_PROXY_CAPABILITIES;

/** What the primary's greeting says of its protocol. */
export interface ServerProtocol {
  /** CLIENT_MYSQL clear: a MariaDB server, with `extended` capabilities. */
  readonly mariadb: boolean;
  /** MariaDB's extended capabilities it offers (0 for MySQL). */
  readonly extended: number;
}

/** Until the primary answered: a MariaDB 10.6+ (what the fallback version string claims). */
export const ASSUMED_MARIADB: ServerProtocol = { mariadb: true, extended: MARIADB_PROXY_CAPABILITIES };

/** What a server's HandshakeV10 capabilities say of it. */
export function serverProtocolOf(capabilities: number, extended: number): ServerProtocol {
  const mariadb = (capabilities & Capability.LONG_PASSWORD) === 0;
  return { mariadb, extended: mariadb ? extended >>> 0 : 0 };
}

/**
 * What rwsplit's greeting offers in front of `primary`: the MySQL set with CLIENT_LONG_PASSWORD
 * in front of MySQL; in front of MariaDB, CLIENT_MYSQL cleared and the extended capabilities
 * both the primary and rwsplit have (a MariaDB 10.4 primary has no CACHE_METADATA: not offered).
 */
export function offeredCapabilities(primary: ServerProtocol): { capabilities: number; extended: number } {
  if (!primary.mariadb) {
    // MySQL 8.0.18+ clients ask for zstd with --compression-algorithms=zstd; MariaDB has none.
    return {
      capabilities: (PROXY_SERVER_CAPABILITIES | Capability.ZSTD_COMPRESSION_ALGORITHM) >>> 0,
      extended: 0,
    };
  }
  return {
    capabilities: (PROXY_SERVER_CAPABILITIES & ~Capability.LONG_PASSWORD) >>> 0,
    extended: (primary.extended & MARIADB_PROXY_CAPABILITIES) >>> 0,
  };
}

/**
 * What rwsplit offers clients, whatever the primary (offeredCapabilities: in front of MariaDB
 * CLIENT_LONG_PASSWORD, which is CLIENT_MYSQL there, is cleared; in front of MySQL zstd is
 * added). CLIENT_COMPRESS is rwsplit's own, between the client and rwsplit: backend connections
 * never compress.
 */
export const PROXY_SERVER_CAPABILITIES =
  (Capability.LONG_PASSWORD |
    Capability.FOUND_ROWS |
    Capability.LONG_FLAG |
    Capability.CONNECT_WITH_DB |
    Capability.COMPRESS |
    Capability.ODBC |
    Capability.LOCAL_FILES |
    Capability.IGNORE_SPACE |
    Capability.PROTOCOL_41 |
    Capability.INTERACTIVE |
    Capability.IGNORE_SIGPIPE |
    Capability.TRANSACTIONS |
    Capability.SECURE_CONNECTION |
    Capability.MULTI_STATEMENTS |
    Capability.MULTI_RESULTS |
    Capability.PS_MULTI_RESULTS |
    Capability.PLUGIN_AUTH |
    Capability.CONNECT_ATTRS |
    Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
    Capability.CAN_HANDLE_EXPIRED_PASSWORDS |
    Capability.SESSION_TRACK |
    Capability.DEPRECATE_EOF) >>>
  0;

/**
 * Client flags that change what the server sends or accepts on the wire (EOF vs OK terminators,
 * affected-rows meaning, multi-statements, LOCAL INFILE, OK packet layout, function-name
 * parsing). A pooled backend connection serves only clients whose flags agree on these bits, so
 * results can be relayed byte for byte.
 */
export const WIRE_FORMAT_CAPABILITIES =
  (Capability.FOUND_ROWS |
    Capability.LOCAL_FILES |
    Capability.IGNORE_SPACE |
    Capability.MULTI_STATEMENTS |
    Capability.DEPRECATE_EOF) >>>
  0;

/** What rwsplit always asks of a backend, beyond the client's wire-format flags. */
export const BACKEND_BASE_CAPABILITIES =
  (Capability.LONG_PASSWORD |
    Capability.LONG_FLAG |
    Capability.CONNECT_WITH_DB |
    Capability.PROTOCOL_41 |
    Capability.TRANSACTIONS |
    Capability.SECURE_CONNECTION |
    Capability.MULTI_RESULTS |
    Capability.PS_MULTI_RESULTS |
    Capability.PLUGIN_AUTH |
    Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
    Capability.CONNECT_ATTRS |
    // Always on toward backends: OK packets then report schema and variable changes and the
    // session's GTID, which is how rwsplit tracks session state. Clients that did not ask for
    // it get OK packets rewritten to the plain layout.
    Capability.SESSION_TRACK) >>>
  0;
