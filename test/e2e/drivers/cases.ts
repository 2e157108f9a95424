/**
 * The scenario every driver runs, once against the primary and once through rwsplit, as named
 * cases. Each driver script implements the cases its API allows (a driver with no change-user
 * call has no change_user case) with the same SQL; what a step records is what the driver hands
 * the application. The wording here is the spec the scripts follow.
 */
export const CASES = {
  crud_utf8mb4:
    "a read, then CREATE/INSERT/SELECT/UPDATE/DELETE of 4-byte UTF-8 text (emoji, U+1D11E), with affected rows",
  transaction_commit_rollback:
    "BEGIN, write, read own write, ROLLBACK; BEGIN, write, COMMIT; @@in_transaction along the way",
  autocommit_off:
    "autocommit off through the driver's API: write, read, ROLLBACK, write, COMMIT, @@autocommit",
  last_insert_id:
    "the driver's insert id and SELECT LAST_INSERT_ID() after single, multi-row and prepared inserts",
  temporary_table: "CREATE TEMPORARY TABLE, use it across statements, DROP it, then 1146",
  user_variables: "SET @a, @b; read them back in later statements; @c := in a SELECT",
  prepared_null_binary:
    "server-side prepared INSERT/SELECT with NULL, every byte 0x00-0xFF, 4-byte UTF-8, doubles, datetimes; re-executed",
  prepared_per_database:
    "the same prepared SELECT in 16 fresh sessions alternating between two databases (table pdb in both, made by the harness): each reads its own",
  json_column: "a JSON column read as the driver types it (text and binary protocol), JSON_EXTRACT, JSON_SET",
  stored_procedure:
    "CALL of a procedure with two result sets and an OUT parameter (and the driver's OUT API)",
  large_blob: "a 4 MiB LONGBLOB written as a parameter, read back: length and SHA-256 on both sides",
  switch_database: "USE / select_db to a second database and back, tables resolved in the right one",
  row_lock:
    "SELECT ... FOR UPDATE held in a transaction: another connection's NOWAIT fails, SKIP LOCKED skips",
  get_lock: "GET_LOCK / IS_USED_LOCK / IS_FREE_LOCK / RELEASE_LOCK between two connections",
  batch_insert:
    "the driver's batch insert (executemany, JDBC batch, batch()) of 100 rows, then one with a duplicate key",
  reset_connection: "the driver's reset: user variables, temporary tables and sql_mode gone, database kept",
  change_user:
    "change user to the same (listed) account and another database: state reset, sql_mode included",
  change_user_unlisted: "change user to an account that exists on the server but not in rwsplit's config",
  connect_unlisted: "log in as an account that exists on the server but not in rwsplit's config",
  compression:
    "protocol compression turned on in the driver: a 1.6 MB compressible result (wire bytes counted)",
  many_connections: "50 connections open at once, each writes and reads its own row",
  session_settings:
    "SET @@sql_mode (bare form), SET NAMES ... COLLATE, SET time_zone, then statements that depend on them",
  read_then_write:
    "a read, then DDL and a multi-statement write on the same connection (CLIENT_MULTI_STATEMENTS)",
  server_status: "the server status flags the driver exposes after SET, BEGIN, COMMIT",
  warnings:
    "warnings the driver's way (its API, else SHOW WARNINGS) and @@warning_count after reads leaving some on a replica (no table, a table, prepared), INSERT IGNORE of a duplicate then ROW_COUNT(), an error then SHOW ERRORS and @@error_count, a warning then SELECT 1",
  execute_prepare_cache_default:
    "mariadb: execute() with the default prepare cache (pipelined PREPARE+EXECUTE)",
  execute_prepare_cache_off:
    "mariadb: execute() with prepareCacheLength 0 (PREPARE+EXECUTE id -1, then CLOSE)",
  batch_bulk_on: "mariadb: batch() with bulk: true (COM_STMT_BULK_EXECUTE where the server offers it)",
  batch_bulk_off: "mariadb: batch() with bulk: false (pipelined EXECUTEs)",
  json_typecast: "mariadb: JSON column metadata seen by a typeCast function, autoJsonMap on and off",
} as const;

export type CaseName = keyof typeof CASES;

/** The 4 MiB large_blob payload: byte i is i % 251 (zeros, high bytes, no repeating 256 cycle). */
export const BLOB_BYTES = 4 * 1024 * 1024;

/** The compression case's result: REPEAT('rwsplit ', 200000), 1.6 MB that zlib makes tiny. */
export const COMPRESSIBLE_BYTES = 1_600_000;
/**
 * At most this many bytes may reach the client for the compression case: the compressed result
 * is a few KB; an uncompressed session receives at least COMPRESSIBLE_BYTES.
 */
export const COMPRESSED_LIMIT = 200_000;
