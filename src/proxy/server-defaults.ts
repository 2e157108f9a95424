import type { TrackingFilter } from "../protocol/packets/ok-for-client.js";
import type { BackendConnection } from "./backend-connection.js";

/**
 * The server's defaults for what a new session starts with, as far as rwsplit must reproduce
 * them for its clients: the session tracking a client gets when it asks for none of its own (its
 * OK packets look as they would direct), and the idle timeouts that close a client connection.
 * Read from the primary at start; MariaDB 10.11's compiled-in defaults until then.
 */
export interface ServerDefaults {
  tracking: Omit<TrackingFilter, "sessionTrack">;
  /** wait_timeout, seconds: an idle non-interactive client is disconnected after this. */
  waitTimeoutS: number;
  /** interactive_timeout, seconds: the same for clients that said CLIENT_INTERACTIVE. */
  interactiveTimeoutS: number;
  /** max_prepared_stmt_count: statements prepared at once on the whole server. */
  maxPreparedStmtCount: number;
  /**
   * max_allowed_packet, bytes: a session's (the global value when it connects) refuses a client
   * packet of this size or more with ERR 1153 and closes the connection.
   */
  maxAllowedPacket: number;
}

export const MARIADB_DEFAULTS: ServerDefaults = Object.freeze({
  tracking: Object.freeze({
    variables: trackedVariables(
      "autocommit,character_set_client,character_set_connection,character_set_results,time_zone",
    ),
    schema: true,
    stateChange: false,
    transactionInfo: 0,
  }),
  waitTimeoutS: 28800,
  interactiveTimeoutS: 28800,
  maxPreparedStmtCount: 16382,
  maxAllowedPacket: 16 * 1024 * 1024,
}) as ServerDefaults;

/** session_track_system_variables' value: "*" or a comma-separated list of names. */
export function trackedVariables(value: string): "*" | ReadonlySet<string> {
  const names = value
    .split(",")
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== "");
  return names.includes("*") ? "*" : new Set(names);
}

/** ON/OFF/1/0/TRUE/FALSE as the server reads a boolean variable; null when it is none of them. */
export function booleanSetting(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (v === "on" || v === "1" || v === "true" || v === "yes") return true;
  if (v === "off" || v === "0" || v === "false" || v === "no") return false;
  return null;
}

/** session_track_transaction_info: OFF | STATE | CHARACTERISTICS (or 0 | 1 | 2). */
export function transactionInfoSetting(value: string): 0 | 1 | 2 | null {
  const v = value.trim().toLowerCase();
  if (v === "off" || v === "0") return 0;
  if (v === "state" || v === "1") return 1;
  if (v === "characteristics" || v === "2") return 2;
  return null;
}

const QUERY =
  "SELECT @@global.session_track_system_variables, @@global.session_track_schema, " +
  "@@global.session_track_state_change, @@global.session_track_transaction_info, " +
  "@@global.wait_timeout, @@global.interactive_timeout, @@global.max_prepared_stmt_count, " +
  "@@global.max_allowed_packet";

/** Reads the defaults on a connection to the primary; MariaDB's own where a value is missing. */
export async function readServerDefaults(conn: BackendConnection): Promise<ServerDefaults> {
  const r = await conn.queryRows(QUERY);
  const row = r.rows[0];
  if (r.err !== null || row === undefined) return MARIADB_DEFAULTS;
  const d = MARIADB_DEFAULTS;
  const num = (v: string | null | undefined, fallback: number) => {
    const n = Number(v);
    return v == null || !Number.isFinite(n) ? fallback : n;
  };
  return {
    tracking: {
      variables: row[0] == null ? d.tracking.variables : trackedVariables(row[0]),
      schema: booleanSetting(row[1] ?? "") ?? d.tracking.schema,
      stateChange: booleanSetting(row[2] ?? "") ?? d.tracking.stateChange,
      transactionInfo: transactionInfoSetting(row[3] ?? "") ?? d.tracking.transactionInfo,
    },
    waitTimeoutS: num(row[4], d.waitTimeoutS),
    interactiveTimeoutS: num(row[5], d.interactiveTimeoutS),
    maxPreparedStmtCount: num(row[6], d.maxPreparedStmtCount),
    maxAllowedPacket: num(row[7], d.maxAllowedPacket),
  };
}
