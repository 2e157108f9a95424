/** Server status flags carried by OK and EOF packets ("SERVER_STATUS_*" in mysql_com.h). */
export const ServerStatus = {
  IN_TRANS: 0x0001,
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
  NO_GOOD_INDEX_USED: 0x0010,
  NO_INDEX_USED: 0x0020,
  CURSOR_EXISTS: 0x0040,
  LAST_ROW_SENT: 0x0080,
  DB_DROPPED: 0x0100,
  NO_BACKSLASH_ESCAPES: 0x0200,
  METADATA_CHANGED: 0x0400,
  QUERY_WAS_SLOW: 0x0800,
  PS_OUT_PARAMS: 0x1000,
  IN_TRANS_READONLY: 0x2000,
  SESSION_STATE_CHANGED: 0x4000,
} as const;

/**
 * The flags that describe one statement, cleared by the server when the next command starts
 * (mysql_com.h SERVER_STATUS_CLEAR_SET).
 */
export const STATUS_CLEAR_SET =
  ServerStatus.NO_GOOD_INDEX_USED |
  ServerStatus.NO_INDEX_USED |
  ServerStatus.MORE_RESULTS_EXISTS |
  ServerStatus.METADATA_CHANGED |
  ServerStatus.QUERY_WAS_SLOW |
  ServerStatus.DB_DROPPED |
  ServerStatus.CURSOR_EXISTS |
  ServerStatus.LAST_ROW_SENT;

/** Session state tracker types in the OK packet ("enum_session_state_type"). */
export const SessionTrack = {
  SYSTEM_VARIABLES: 0,
  SCHEMA: 1,
  STATE_CHANGE: 2,
  GTIDS: 3,
  TRANSACTION_CHARACTERISTICS: 4,
  TRANSACTION_STATE: 5,
} as const;
