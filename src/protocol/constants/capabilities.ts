/**
 * Capability flags of the MySQL client/server protocol ("Capabilities Flags" in the MySQL
 * internals manual; MariaDB's include/mysql_com.h). The lower 32 bits are sent in the handshake;
 * MariaDB's extended capabilities live in the filler bytes and are never offered by rwsplit (we
 * keep CLIENT_LONG_PASSWORD set, which tells MariaDB clients not to use them).
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
  // Bits 25..31 (optional resultset metadata, zstd, query attributes, MFA, ...) are MySQL 8
  // features rwsplit does not offer.
} as const;

/** What rwsplit offers clients. Compression is not proxied (README: "Not supported"). */
export const PROXY_SERVER_CAPABILITIES =
  (Capability.LONG_PASSWORD |
    Capability.FOUND_ROWS |
    Capability.LONG_FLAG |
    Capability.CONNECT_WITH_DB |
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
