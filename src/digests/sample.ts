import { type DigestValue, digestInto } from "../routing/digest.js";

/**
 * What the data path tells the digest store about one statement, beyond what every statement
 * reports (route, backend, reason, time, errno): its digest, where its SQL is (for the text, built
 * the first time the store meets the digest), its kind, who ran it where, and the rows it sent.
 *
 * One per client session, filled in place for each statement: nothing is allocated per statement.
 * A command that is no statement (COM_PING, COM_INIT_DB, COM_STMT_FETCH, ...) calls `none()`, and
 * the store skips it. The SQL bytes must stay as they are until the statement is reported (the
 * same bytes a failed read is retried with).
 */

export type SampleKind = "read" | "write" | "session";

const EMPTY = new Uint8Array(0);

interface PreparedDigest {
  hi: number;
  lo: number;
  sql: Uint8Array;
  start: number;
}

/** Per prepared statement (keyed by the session's statement object): hashed once, at its first EXECUTE. */
const preparedDigests = new WeakMap<object, PreparedDigest>();

export class StatementSample implements DigestValue {
  /** The 64-bit digest (valid when `has`). */
  hi = 0;
  lo = 0;
  /** A statement with a digest is being reported. */
  has = false;
  kind: SampleKind | null = null;
  /** The statement's SQL is sql[start, end). */
  sql: Uint8Array = EMPTY;
  start = 0;
  end = 0;
  user = "";
  schema: string | null = null;
  /** Result set rows sent to the client (every result set of the statement). */
  rows = 0;

  /** `enabled` false (digests.max = 0): nothing is hashed. */
  constructor(readonly enabled = true) {}

  /** The command being served is no statement. */
  none(): void {
    this.has = false;
    this.kind = null;
    this.sql = EMPTY;
  }

  /** COM_QUERY: the SQL is payload[start..]. */
  query(payload: Uint8Array, start: number, kind: SampleKind): void {
    this.kind = kind;
    if (!this.enabled) return;
    digestInto(payload, start, payload.length, this);
    this.has = true;
    this.sql = payload;
    this.start = start;
    this.end = payload.length;
  }

  /**
   * COM_STMT_EXECUTE of `stmt` (any object that lives as long as the prepared statement), whose
   * COM_STMT_PREPARE payload (SQL from `start`) is `payload`, kept unchanged by the session.
   */
  prepared(stmt: object, payload: Uint8Array, start: number, kind: SampleKind): void {
    this.kind = kind;
    if (!this.enabled) return;
    let p = preparedDigests.get(stmt);
    if (p === undefined) {
      digestInto(payload, start, payload.length, this);
      p = { hi: this.hi, lo: this.lo, sql: payload, start };
      preparedDigests.set(stmt, p);
    }
    this.hi = p.hi;
    this.lo = p.lo;
    this.has = true;
    this.sql = p.sql;
    this.start = p.start;
    this.end = p.sql.length;
  }

  /** Just before the statement is reported: who ran it, in which schema, how many rows it sent. */
  ran(user: string, schema: string | null, rows: number): void {
    this.user = user;
    this.schema = schema;
    this.rows = rows;
  }
}
