/** Why a session is tied to one backend connection (bit set). */
export const Pin = {
  TRANSACTION: 1 << 0,
  AUTOCOMMIT_OFF: 1 << 1,
  /** Server reported session state we cannot replay: user variables, temp tables, SQL PREPARE. */
  UNTRACKED_STATE: 1 << 2,
  LOCAL_INFILE: 1 << 3,
  CURSOR: 1 << 4,
  LOCKS: 1 << 6,
  TEMP_TABLES: 1 << 7,
  USER_VARIABLES: 1 << 8,
} as const;

export function describePins(pins: number): string[] {
  return Object.entries(Pin)
    .filter(([, bit]) => pins & bit)
    .map(([name]) => name.toLowerCase());
}
