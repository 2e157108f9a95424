/** Collation ids used in handshakes (SHOW COLLATION's `Id`). */
export const Collation = {
  LATIN1_SWEDISH_CI: 8,
  UTF8MB3_GENERAL_CI: 33,
  UTF8MB4_GENERAL_CI: 45,
  BINARY: 63,
} as const;

/** The collation rwsplit announces in its greeting (MariaDB 10.11's default is utf8mb4). */
export const DEFAULT_COLLATION = Collation.UTF8MB4_GENERAL_CI;
