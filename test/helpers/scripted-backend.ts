import {
  BACKEND_BASE_CAPABILITIES,
  Capability,
  MariadbCapability,
} from "../../src/protocol/constants/capabilities.js";
import { Command } from "../../src/protocol/constants/commands.js";
import { ServerStatus, SessionTrack } from "../../src/protocol/constants/server-status.js";
import { PacketFramer } from "../../src/protocol/framing.js";
import { BackendConnection } from "../../src/proxy/backend-connection.js";
import type { BackendLink } from "../../src/proxy/backend-link.js";
import type { ConnectOptions, Connector } from "../../src/proxy/backend-login.js";
import {
  bytes,
  columnDefPayload,
  eofPayload,
  errPayload,
  lenenc,
  lenencStr,
  okPayload,
  prepareOkPayload,
  stateEntry,
  textRow,
  Wire,
} from "./wire.js";

/** One command a scripted backend received. */
export interface ScriptedCommand {
  backend: string;
  /** The connection's thread id (unique over the server's life). */
  thread: number;
  command: number;
  /** The SQL of COM_QUERY / COM_STMT_PREPARE, else null. */
  sql: string | null;
  /** The command's payload (a copy). */
  payload: Buffer;
}

/** An answer for COM_QUERY: the response's packets (built with `Wire`). */
export type QueryAnswer = (link: ScriptedLink, sql: string) => Wire;

let nextThread = 100;

/**
 * A MariaDB stand-in for unit tests of the session core: BackendLinks that answer each command
 * from a small script of the server's behaviour (transactions and autocommit in the status flags,
 * session tracking in OK packets as rwsplit's tracking asks for, prepared statements, cursors,
 * LOCAL INFILE). A SELECT answers one row naming the backend that ran it, so a test sees where
 * each statement went. `log` records every command.
 */
export class ScriptedServer {
  readonly log: ScriptedCommand[] = [];
  readonly links: ScriptedLink[] = [];
  /** Extra COM_QUERY answers, tried before the built-in ones; first match wins. */
  readonly answers: { match: RegExp; answer: QueryAnswer }[] = [];
  /** Send each response in chunks of this size, one per turn of the event loop (0: whole). */
  chunkSize = 0;
  /**
   * max_prepared_stmt_count per backend (the server's default when not set): a COM_STMT_PREPARE
   * past it, counting every open connection's statements, gets ER 1461.
   */
  readonly maxPreparedStmtCount: Record<string, number> = {};
  private gtid = 0;
  /**
   * The name of a prepared SELECT's column: a test changes it to play an ALTER TABLE (what
   * MARIADB_CLIENT_CACHE_METADATA then sends again).
   */
  columnName = "c0";

  readonly connector: Connector = async (opts: ConnectOptions) => {
    const link = new ScriptedLink(this, opts);
    this.links.push(link);
    const conn = new BackendConnection(link, {
      endpoint: opts.endpoint,
      user: opts.credentials.user,
      wireFlags: opts.wireFlags,
      mariadbFlags: opts.mariadbFlags ?? 0,
      collation: opts.collation,
      schema: opts.schema,
      serverVersion: "10.11.0-MariaDB-scripted",
      threadId: link.thread,
      capabilities: BACKEND_BASE_CAPABILITIES | opts.wireFlags,
    });
    if (opts.initSql !== undefined) {
      const r = await conn.query(opts.initSql);
      if (r.err) throw new Error(r.err.message);
    }
    return conn;
  };

  nextGtid(): string {
    return `0-1-${++this.gtid}`;
  }

  /** Statements (COM_QUERY) that reached `backend`, in order, without the proxy's own. */
  queriesOn(backend: string): string[] {
    return this.log
      .filter((c) => c.backend === backend && c.command === Command.QUERY && !isInternal(c.sql!))
      .map((c) => c.sql!);
  }

  /** Prepared statements open on `backend`, over all its open connections (Prepared_stmt_count). */
  openStatements(backend: string): number {
    return this.statementsOn(backend).length;
  }

  /** The SQL of each prepared statement open on `backend`, by connection then statement id. */
  statementsOn(backend: string): string[] {
    return this.links
      .filter((l) => l.backend === backend && !l.closed)
      .flatMap((l) => [...l.statements.values()]);
  }

  /** Where a statement with this exact SQL ran (every time). */
  where(sql: string): string[] {
    return this.log.filter((c) => c.sql === sql && c.command === Command.QUERY).map((c) => c.backend);
  }
}

/** A SELECT, after any leading comment (a routing hint). */
function isSelect(sql: string): boolean {
  return /^(\/\*.*?\*\/\s*)?SELECT/is.test(sql);
}

/** The proxy's own statements: session tracking setup and state sync. */
export function isInternal(sql: string): boolean {
  return /^(SET SESSION session_track|SET SESSION |DO LAST_INSERT_ID)/.test(sql);
}

export class ScriptedLink implements BackendLink {
  readonly thread = nextThread++;
  readonly backend: string;
  closed = false;
  paused = false;
  autocommit = true;
  inTrans = false;
  readOnlyTrans = false;
  schema: string | null;
  private readonly deprecateEof: boolean;
  /** MariaDB extended capabilities this connection negotiated (MariadbCapability). */
  readonly mariadbFlags: number;
  /** MARIADB_CLIENT_CACHE_METADATA: column counts carry metadata_follows. */
  private readonly cacheMetadata: boolean;
  /** Per statement id: the column name the server last sent (CACHE_METADATA's comparison). */
  private readonly sentColumns = new Map<number, string>();
  private onChunk: ((chunk: Buffer) => void) | null = null;
  private onClose: (() => void) | null = null;
  private readonly framer = new PacketFramer();
  /** The sequence id the answer to the last request starts at (1 after a one-packet request). */
  private replySeq = 1;
  private readonly queue: Buffer[] = [];
  /** Open prepared statements: id → SQL. */
  readonly statements = new Map<number, string>();
  private nextStmt = 1;
  private infile = false;
  /** Statement ids with an open cursor, and rows left. */
  private readonly cursors = new Map<number, number>();

  constructor(
    private readonly server: ScriptedServer,
    opts: ConnectOptions,
  ) {
    this.backend = opts.endpoint.name;
    this.schema = opts.schema;
    this.deprecateEof = (opts.wireFlags & Capability.DEPRECATE_EOF) !== 0;
    this.mariadbFlags = opts.mariadbFlags ?? 0;
    this.cacheMetadata = (this.mariadbFlags & MariadbCapability.CACHE_METADATA) !== 0;
  }

  attach(onChunk: (chunk: Buffer) => void, onClose: () => void): void {
    this.onChunk = onChunk;
    this.onClose = onClose;
  }

  write(b: Buffer): void {
    if (this.closed) return;
    this.framer.push(Buffer.from(b));
    for (let p = this.framer.next(); p !== null; p = this.framer.next()) {
      // As a server numbers its answer: after the request's last physical packet.
      this.replySeq = (p.lastSeq + 1) & 0xff;
      this.handle(p.payload);
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    while (!this.paused && this.queue.length > 0 && !this.closed) this.onChunk!(this.queue.shift()!);
  }

  lend(): void {}

  end(): void {
    this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    setImmediate(() => this.onClose?.());
  }

  /** The server closes the connection (a crash, wait_timeout). */
  kill(): void {
    this.destroy();
  }

  /** Bytes waiting because the link is paused (a socket's unread receive queue). */
  get unread(): number {
    return this.queue.reduce((n, b) => n + b.length, 0);
  }

  private status(): number {
    return (
      (this.autocommit ? ServerStatus.AUTOCOMMIT : 0) |
      (this.inTrans ? ServerStatus.IN_TRANS : 0) |
      (this.readOnlyTrans ? ServerStatus.IN_TRANS_READONLY : 0)
    );
  }

  /** Replies come on a later turn of the event loop, as from a socket (in chunks, if set). */
  private reply(w: Wire | Buffer): void {
    const b = w instanceof Wire ? numbered(w, this.replySeq) : w;
    const size = this.server.chunkSize > 0 ? this.server.chunkSize : b.length;
    const send = (at: number) => {
      if (this.closed || at >= b.length) return;
      // A copy: the connection may keep a view of a chunk it was handed (a lent read buffer).
      const chunk = Buffer.from(b.subarray(at, at + size));
      if (this.paused) this.queue.push(chunk);
      else this.onChunk!(chunk);
      setImmediate(() => send(at + size));
    };
    setImmediate(() => send(0));
  }

  private ok(o: { state?: Buffer; affected?: number; insertId?: number; info?: string } = {}): Wire {
    const status = this.status() | (o.state !== undefined ? ServerStatus.SESSION_STATE_CHANGED : 0);
    return new Wire().ok({
      status,
      affectedRows: o.affected ?? 0,
      lastInsertId: o.insertId ?? 0,
      info: o.info,
      sessionTrack: true,
      sessionState: o.state,
    });
  }

  private handle(p: Buffer): void {
    if (this.infile) {
      if (p.length === 0) {
        this.infile = false;
        this.reply(this.ok({ affected: 3, state: this.gtidState() }));
      }
      return;
    }
    const cmd = p[0]!;
    const sql = cmd === Command.QUERY || cmd === Command.STMT_PREPARE ? p.toString("utf8", 1) : null;
    this.server.log.push({
      backend: this.backend,
      thread: this.thread,
      command: cmd,
      sql,
      payload: Buffer.from(p),
    });
    const answer = this.answer(cmd, p, sql);
    if (answer !== null) this.reply(answer);
  }

  private answer(cmd: number, p: Buffer, sql: string | null): Wire | null {
    switch (cmd) {
      case Command.QUERY:
        return this.query(sql!);
      case Command.INIT_DB:
        this.schema = p.toString("utf8", 1);
        return this.ok({ state: stateEntry(SessionTrack.SCHEMA, lenencStr(this.schema)) });
      case Command.PING:
      case Command.SET_OPTION:
        return this.ok();
      case Command.RESET_CONNECTION:
        this.autocommit = true;
        this.inTrans = false;
        return this.ok();
      case Command.STMT_PREPARE:
        return this.prepare(sql!);
      case Command.STMT_EXECUTE:
        return this.execute(p);
      case Command.STMT_FETCH:
        return this.fetch(p);
      case Command.STMT_BULK_EXECUTE:
        return this.bulk(p);
      case Command.STMT_CLOSE:
        this.statements.delete(p.readUInt32LE(1));
        return null;
      case Command.STMT_SEND_LONG_DATA:
        return null;
      case Command.FIELD_LIST: {
        const w = new Wire().packet(columnDefPayload("c0"));
        return this.deprecateEof
          ? w.ok({ header: 0xfe, status: this.status(), sessionTrack: true })
          : w.packet(eofPayload(this.status()));
      }
      case Command.STATISTICS:
        return new Wire().packet(Buffer.from("Uptime: 1  Threads: 1"));
      case Command.QUIT:
        this.destroy();
        return null;
      default:
        return new Wire().err(1047, "08S01", "Unknown command");
    }
  }

  private gtidState(): Buffer {
    return stateEntry(
      SessionTrack.SYSTEM_VARIABLES,
      bytes(lenencStr("last_gtid"), lenencStr(this.server.nextGtid())),
    );
  }

  /** A result set of one column `c0`, one row per value. */
  resultSet(values: readonly string[], status = this.status()): Wire {
    return new Wire().resultSet({
      columns: 1,
      rows: values.map((v) => textRow([v])),
      deprecateEof: this.deprecateEof,
      status,
      ...(this.cacheMetadata ? { metadataFollows: true } : {}),
    });
  }

  private query(sql: string): Wire {
    for (const a of this.server.answers) if (a.match.test(sql)) return a.answer(this, sql);
    if (/^SET SESSION session_track/i.test(sql)) return this.ok();
    if (/^START TRANSACTION READ ONLY/i.test(sql)) {
      this.inTrans = true;
      this.readOnlyTrans = true;
      return this.ok();
    }
    if (/^(BEGIN|START TRANSACTION)\b/i.test(sql)) {
      this.inTrans = true;
      return this.ok();
    }
    if (/^(COMMIT|ROLLBACK)\b/i.test(sql)) {
      this.inTrans = !this.autocommit;
      this.readOnlyTrans = false;
      return this.ok();
    }
    const autocommit = sql.match(/^SET (?:SESSION )?autocommit\s*=\s*(\w+)/i);
    if (autocommit !== null) {
      this.autocommit = /^(1|on|true)$/i.test(autocommit[1]!);
      // autocommit=0 opens a transaction with the next statement; autocommit=1 commits one.
      this.inTrans = !this.autocommit;
      return this.ok({
        state: stateEntry(0, bytes(lenencStr("autocommit"), lenencStr(this.autocommit ? "ON" : "OFF"))),
      });
    }
    if (/^SET @/i.test(sql) || /^CREATE TEMPORARY/i.test(sql) || /^SELECT GET_LOCK/i.test(sql)) {
      const state = stateEntry(SessionTrack.STATE_CHANGE, Buffer.from("1"));
      if (/^SELECT/i.test(sql)) return this.resultSet(["1"]);
      return this.ok({ state });
    }
    const variable = sql.match(/^SET (?:SESSION )?(\w+)\s*=\s*'?([^',]*)'?$/i);
    if (variable !== null) {
      const entry = bytes(lenencStr(variable[1]!.toLowerCase()), lenencStr(variable[2]!));
      return this.ok({ state: stateEntry(SessionTrack.SYSTEM_VARIABLES, entry) });
    }
    const use = sql.match(/^USE (\w+)/i);
    if (use !== null) {
      this.schema = use[1]!;
      return this.ok({ state: stateEntry(SessionTrack.SCHEMA, lenencStr(this.schema)) });
    }
    if (/^LOAD DATA LOCAL INFILE/i.test(sql)) {
      this.infile = true;
      return new Wire().packet(bytes([0xfb], "data.csv"));
    }
    if (/^(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b/i.test(sql)) {
      if (this.readOnlyTrans)
        return new Wire().err(1792, "25006", "Cannot execute statement in a READ ONLY transaction");
      return this.ok({ affected: 1, insertId: /^INSERT/i.test(sql) ? 7 : 0, state: this.gtidState() });
    }
    const big = sql.match(/^SELECT BIG (\d+)/i);
    if (big !== null) {
      return this.resultSet(Array.from({ length: Number(big[1]) }, (_, i) => `${i}`.padEnd(1000, "x")));
    }
    if (/^SELECT/i.test(sql)) return this.resultSet([this.backend]);
    return this.ok();
  }

  private prepare(sql: string): Wire {
    const limit = this.server.maxPreparedStmtCount[this.backend] ?? 16382;
    if (this.server.openStatements(this.backend) >= limit) {
      const message = `Can't create more than max_prepared_stmt_count statements (current value: ${limit})`;
      return new Wire().err(1461, "42000", message);
    }
    // A table that does not exist: the server refuses the PREPARE.
    const missing = sql.match(/\bnosuch\w*/i);
    if (missing !== null)
      return new Wire().err(1146, "42S02", `Table '${this.schema ?? ""}.${missing[0]}' doesn't exist`);
    const id = this.nextStmt++;
    this.statements.set(id, sql);
    const params = (sql.match(/\?/g) ?? []).length;
    const columns = isSelect(sql) ? 1 : 0;
    const w = new Wire().packet(prepareOkPayload(id, columns, params));
    for (let i = 0; i < params; i++) w.packet(columnDefPayload("?"));
    if (params > 0 && !this.deprecateEof) w.packet(eofPayload(this.status()));
    for (let i = 0; i < columns; i++) w.packet(columnDefPayload(this.server.columnName));
    if (columns > 0 && !this.deprecateEof) w.packet(eofPayload(this.status()));
    if (columns > 0) this.sentColumns.set(id, this.server.columnName);
    return w;
  }

  private execute(p: Buffer): Wire {
    const id = p.readUInt32LE(1);
    const sql = this.statements.get(id);
    if (sql === undefined)
      return new Wire().err(
        1243,
        "HY000",
        `Unknown prepared statement handler (${id}) given to mysqld_stmt_execute`,
      );
    if (!isSelect(sql)) return this.ok({ affected: 1, state: this.gtidState() });
    const cursor = (p[5]! & 0x07) !== 0;
    const row = bytes([0x00, 0x00], lenencStr(this.backend));
    // MARIADB_CLIENT_CACHE_METADATA: the definitions only when they changed since last sent.
    const name = this.server.columnName;
    const follows = this.sentColumns.get(id) !== name;
    this.sentColumns.set(id, name);
    if (cursor) {
      this.cursors.set(id, 3);
      // A cursor: column count, definitions, one EOF with SERVER_STATUS_CURSOR_EXISTS, no rows.
      const w = new Wire().packet(this.cacheMetadata ? bytes(lenenc(1), [follows ? 1 : 0]) : lenenc(1));
      if (follows || !this.cacheMetadata) w.packet(columnDefPayload(name));
      return w.packet(eofPayload(this.status() | ServerStatus.CURSOR_EXISTS));
    }
    return new Wire().resultSet({
      columns: 1,
      rows: [row],
      deprecateEof: this.deprecateEof,
      status: this.status(),
      names: [name],
      ...(this.cacheMetadata ? { metadataFollows: follows } : {}),
    });
  }

  /** COM_STMT_BULK_EXECUTE: one OK for the whole batch, as the server answers an INSERT's. */
  private bulk(p: Buffer): Wire {
    if (!(this.mariadbFlags & MariadbCapability.STMT_BULK_OPERATIONS))
      return new Wire().err(
        1295,
        "HY000",
        "This command is not supported in the prepared statement protocol yet",
      );
    const id = p.readUInt32LE(1);
    if (!this.statements.has(id))
      return new Wire().err(
        1243,
        "HY000",
        `Unknown prepared statement handler (${id}) given to mysqld_stmt_execute`,
      );
    return this.ok({ affected: 3, insertId: 7, state: this.gtidState() });
  }

  private fetch(p: Buffer): Wire {
    const id = p.readUInt32LE(1);
    const left = this.cursors.get(id);
    if (left === undefined) return new Wire().err(1421, "HY000", `The statement (${id}) has no open cursor`);
    const want = p.readUInt32LE(5);
    const n = Math.min(want, left);
    const w = new Wire();
    for (let i = 0; i < n; i++) w.packet(bytes([0x00, 0x00], lenencStr(`${this.backend}:${left - i}`)));
    const rest = left - n;
    if (rest === 0) this.cursors.delete(id);
    else this.cursors.set(id, rest);
    const status = this.status() | ServerStatus.CURSOR_EXISTS | (rest === 0 ? ServerStatus.LAST_ROW_SENT : 0);
    return this.deprecateEof
      ? w.ok({ header: 0xfe, status, sessionTrack: true })
      : w.packet(eofPayload(status));
  }

  /** An ERR as this server would send it (for answers). */
  static err(errno: number, sqlState: string, message: string): Wire {
    return new Wire().packet(errPayload(errno, sqlState, message));
  }

  /** An OK with the given session state (for answers). */
  okWith(state?: Buffer): Wire {
    return this.ok({ state });
  }

  static okPayload = okPayload;
}

/** A scripted answer (numbered from 1) numbered from `first` instead. */
function numbered(w: Wire, first: number): Buffer {
  if (first === 1) return w.bytes();
  const b = Buffer.from(w.bytes());
  for (const at of w.starts) b[at + 3] = (b[at + 3]! + first - 1) & 0xff;
  return b;
}
