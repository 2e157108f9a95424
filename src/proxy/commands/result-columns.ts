import { Captured } from "../../protocol/response-scanner.js";
import {
  columnCountOf,
  metadataSkipped,
  type PacketEdit,
  rewriteResponse,
  sameColumns,
} from "../../protocol/result-metadata.js";
import type { BackendConnection } from "../backend-connection.js";
import type { ClientStatement } from "../session/prepared-statements.js";

/**
 * MARIADB_CLIENT_CACHE_METADATA for one COM_STMT_EXECUTE or COM_STMT_BULK_EXECUTE of `stmt`
 * (the why: src/protocol/result-metadata.ts). On a connection without it, nothing happens.
 *
 * - Before sending: when the client's columns and the connection's differ, the answer is held
 *   back (`holds`); a skip in it is then rewritten with the connection's columns (`rewrite`).
 * - While relaying: the first result set's definitions, when the server sends them, are kept;
 *   afterwards (`settle`) both sides have them, as the server and the client do.
 *
 * Statements run by a stored procedure always come with their columns; following the first
 * result set there too keeps both sides equal to what the connector keeps (Connector/Node.js
 * takes the first result set's, as the server would have the PREPARE's: no skip ever follows).
 */
export class ResultColumns {
  private results = 0;
  private want = 0;
  private got: Buffer[] | null = null;

  constructor(private readonly stmt: ClientStatement) {}

  /** A new EXECUTE of the statement begins (one per statement, reused). */
  reset(): this {
    this.results = 0;
    this.want = 0;
    this.got = null;
    return this;
  }

  holds(conn: BackendConnection): boolean {
    if (!conn.cacheMetadata) return false;
    const have = this.stmt.on.get(conn.statements);
    if (have === undefined) return false;
    if (!sameColumns(this.stmt.columns, have.columns)) return true;
    // Equal: share one array, so that the next check is one comparison.
    have.columns = this.stmt.columns;
    return false;
  }

  onColumns(conn: BackendConnection, type: Captured, payload: Buffer): void {
    if (!conn.cacheMetadata) return;
    if (type === Captured.COLUMN_COUNT) {
      const count = ++this.results === 1 && conn.scanner.metadataFollows ? columnCountOf(payload) : 0;
      conn.scanner.captureColumns = count > 0;
      if (count > 0) {
        this.want = count;
        this.got = [];
      }
      return;
    }
    const got = this.got;
    if (got === null) return;
    got.push(Buffer.from(payload));
    if (got.length === this.want) conn.scanner.captureColumns = false;
  }

  /** The response ended well: the columns it carried are what the client and the connection now have. */
  settle(conn: BackendConnection, errno: number): void {
    const got = this.got;
    this.got = null;
    if (errno !== 0 || got === null || got.length !== this.want) return;
    this.stmt.columns = got;
    const have = this.stmt.on.get(conn.statements);
    if (have !== undefined) have.columns = got;
  }

  /**
   * The held answer for the client: a skip filled in with the columns the connection's server
   * statement was sent last (what it compared the current ones with); the client has them then.
   */
  rewrite(held: Buffer, conn: BackendConnection, edits: readonly PacketEdit[]): Buffer {
    const columns = this.stmt.on.get(conn.statements)?.columns ?? null;
    if (columns !== null && metadataSkipped(held)) this.stmt.columns = columns;
    return rewriteResponse(held, edits, columns);
  }
}
