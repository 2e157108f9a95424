import { Rng } from "./rng.js";

/**
 * The stress generator: from a seed, what each client does, statement by statement. Pure: the
 * plan depends only on the seed and the client's number, never on what the servers answer, so
 * `RWSPLIT_STRESS_SEED=n` replays the same statements with the same readers (the interleaving of
 * concurrent clients is up to the scheduler).
 *
 * A client lives through epochs: one connection to the proxy and one straight to the primary,
 * each sent the same commands. An epoch is pooled (nothing pins the session, so the proxy
 * multiplexes it over its pools) or pinned (after a few statements: a user variable, a temporary
 * table or autocommit=0 keeps it on one primary connection).
 */

/** How the client reads a response (the proxy must hold back, not buffer, when it is slow). */
export type Reader =
  | { kind: "fast" }
  /** Reads at most `bytesPerMs` on average: after each chunk, pauses for chunk / rate ms. */
  | { kind: "slow"; bytesPerMs: number }
  /** Reads `everyBytes`, stops reading for `pauseMs`, and so on, `pauses` times; then reads the rest. */
  | { kind: "burst"; everyBytes: number; pauseMs: number; pauses: number }
  /** Stops reading at the first chunk for `pauseMs` (the response piles up), then reads it all. */
  | { kind: "late"; pauseMs: number };

/** A COM_STMT_EXECUTE parameter. */
export type Param =
  | { type: "int"; value: number }
  /** Random bytes sent inline, MYSQL_TYPE_BLOB (an EXECUTE over 16 MiB is several packets). */
  | { type: "bytes"; size: number; seed: number }
  /** Random bytes sent before the EXECUTE with COM_STMT_SEND_LONG_DATA, `chunk` bytes a packet. */
  | { type: "long"; size: number; seed: number; chunk: number }
  /** 'p' on the proxy's connection, 'd' on the direct one: rows each side writes are its own. */
  | { type: "side" }
  | { type: "null" };

export type Action =
  /** COM_QUERY; `{side}` in the text is 'p' or 'd' (see Param "side"). */
  | { op: "query"; sql: string }
  | { op: "prepare"; stmt: string; sql: string }
  /** bindTypes false: new_params_bound_flag 0, the types of the previous EXECUTE apply. */
  | { op: "execute"; stmt: string; params: Param[]; cursor: boolean; bindTypes: boolean }
  | { op: "fetch"; stmt: string; rows: number }
  | { op: "reset"; stmt: string }
  /** COM_STMT_CLOSE: no response. */
  | { op: "close"; stmt: string }
  | { op: "ping" }
  | { op: "initDb"; schema: string };

export interface Step {
  action: Action;
  reader: Reader;
  /** What the step is for, in failure messages and logs. */
  what: string;
}

export interface Epoch {
  client: number;
  index: number;
  profile: "pooled" | "pinned";
  /**
   * How the client reaches the proxy: TCP, or (when the proxy runs in this process) a stream
   * handed to its accept path that is congested on every write (client.ts CongestedStream).
   */
  transport: "tcp" | "stream";
  deprecateEof: boolean;
  multiStatements: boolean;
  steps: Step[];
}

export interface PlanOptions {
  /** Largest result, parameter or BLOB a step may produce, bytes. */
  maxBytes: number;
  /** Scenes per epoch: [min, max]. */
  scenes: [number, number];
}

/** Statements prepared by name; the SQL is the same on both sides. */
export const SQL = {
  rows: "SELECT seq, RPAD(seq, ?, MD5(seq)) AS pad FROM seq_1_to_1000000 WHERE seq <= ?",
  echo: "SELECT ? AS b",
  echo3: "SELECT ? AS a, LENGTH(?) AS n, ? AS c",
  blob: "SELECT id, b FROM app.stress_blobs WHERE id = ?",
  call: "CALL app.stress_results(?, ?, ?)",
  wInsert: "INSERT INTO app.stress_w (side, c, k, v) VALUES (?, ?, ?, ?)",
  wUpdate: "UPDATE app.stress_w SET v = ? WHERE side = ? AND c = ? AND k = ?",
  wSelect: "SELECT k, LENGTH(v) AS len, v FROM app.stress_w WHERE side = ? AND c = ? ORDER BY k",
  tmpInsert: "INSERT INTO stress_tmp (v) VALUES (?)",
} as const;
type StmtName = keyof typeof SQL;

/** Rows of app.stress_blobs: id → size (null: a NULL value). See BLOB_ROWS in setup.ts. */
export const BLOB_SIZES: readonly (number | null)[] = [
  null,
  0,
  1,
  250,
  251,
  65_535,
  65_536,
  1 << 20,
  // A text row (id < 10, this BLOB) of exactly 0xFFFFFF bytes: 2 + 4 + L (an empty packet follows).
  16_777_209,
  // The binary row of `SELECT id, b` for this BLOB: 0x00, bitmap, int<4>, 4 + L = 0xFFFFFF.
  16_777_205,
  20 << 20,
];

const MAX_PACKET = 0xffffff;

/** Width of a length-encoded integer. */
export function lenencWidth(n: number): number {
  return n < 0xfb ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9;
}

/** The string length L whose `overhead + lenenc(L) + L` is exactly `payload` bytes, if any. */
export function lengthForPayload(payload: number, overhead: number): number | null {
  for (const w of [1, 3, 4, 9]) {
    const l = payload - overhead - w;
    if (l >= 0 && lenencWidth(l) === w) return l;
  }
  return null;
}

/** Payload sizes at the 16 MiB packet boundaries: a row or command split in two or three packets. */
function boundaryPayloads(maxBytes: number): number[] {
  const out = [MAX_PACKET - 1, MAX_PACKET, MAX_PACKET + 1];
  if (maxBytes > 2 * MAX_PACKET + 16) out.push(2 * MAX_PACKET, 2 * MAX_PACKET + 1);
  return out;
}

/** Writes of one epoch: app.stress_w rows (side, c, k) this client's epoch owns. */
interface WriteModel {
  c: number;
  nextK: number;
  keys: Set<number>;
}

/** Plan of one client, epoch by epoch. */
export class ClientPlan {
  private readonly rng: Rng;
  private epochIndex = 0;
  // Per-epoch state.
  private steps: Step[] = [];
  private deprecateEof = false;
  private multi = true;
  private prepared = new Map<StmtName, { typesBound: string | null }>();
  private writes: WriteModel = { c: 0, nextK: 1, keys: new Set() };
  private inTransaction = false;
  private autocommitOff = false;
  private userVar: number | null = null;
  private tmpTable: { rows: number; bytes: number } | null = null;

  constructor(
    readonly seed: number,
    readonly client: number,
    private readonly opts: PlanOptions,
  ) {
    this.rng = Rng.derive(seed, client);
  }

  nextEpoch(): Epoch {
    const r = this.rng;
    const index = this.epochIndex++;
    this.steps = [];
    this.deprecateEof = r.chance(0.5);
    this.multi = r.chance(0.7);
    this.prepared = new Map();
    this.writes = { c: this.client * 1_000_000 + index, nextK: 1, keys: new Set() };
    this.inTransaction = false;
    this.autocommitOff = false;
    this.userVar = null;
    this.tmpTable = null;
    const profile = r.chance(0.5) ? "pinned" : "pooled";
    const transport = r.chance(0.35) ? "stream" : "tcp";
    const scenes = r.int(this.opts.scenes[0], this.opts.scenes[1]);
    const pinAt = profile === "pinned" ? r.int(0, Math.min(3, scenes - 1)) : -1;
    for (let s = 0; s < scenes; s++) {
      if (s === pinAt) this.pinScene();
      this.scene();
    }
    if (this.inTransaction || this.autocommitOff) this.endTransaction();
    return {
      client: this.client,
      index,
      profile,
      transport,
      deprecateEof: this.deprecateEof,
      multiStatements: this.multi,
      steps: this.steps,
    };
  }

  // ---- sizes and readers ------------------------------------------------------------------

  /** A response or parameter size: mostly small, some large, a few near the maximum. */
  private size(cap = this.opts.maxBytes): number {
    const r = this.rng;
    const max = Math.min(cap, this.opts.maxBytes);
    return r.weighted<() => number>([
      [20, () => r.int(0, 64)],
      [30, () => r.logInt(64, 64 << 10)],
      [25, () => r.logInt(64 << 10, 2 << 20)],
      [17, () => r.logInt(2 << 20, 12 << 20)],
      [8, () => r.logInt(12 << 20, max)],
    ])();
  }

  private capped(n: number, cap = this.opts.maxBytes): number {
    return Math.floor(Math.max(0, Math.min(n, cap, this.opts.maxBytes)));
  }

  private reader(): Reader {
    const r = this.rng;
    return r.weighted<() => Reader>([
      [35, () => ({ kind: "fast" })],
      [25, () => ({ kind: "slow", bytesPerMs: r.logInt(15_000, 120_000) })],
      [
        25,
        () => ({
          kind: "burst",
          everyBytes: r.logInt(128 << 10, 8 << 20),
          pauseMs: r.int(50, 400),
          pauses: r.int(1, 6),
        }),
      ],
      [15, () => ({ kind: "late", pauseMs: r.int(100, 500) })],
    ])();
  }

  private add(action: Action, what: string): void {
    this.steps.push({ action, reader: this.reader(), what });
  }

  // ---- scenes -----------------------------------------------------------------------------

  private scene(): void {
    const r = this.rng;
    const pick = r.weighted<() => void>([
      [18, () => this.textRows()],
      [10, () => this.textValue()],
      [8, () => this.blobRead()],
      [this.multi ? 8 : 0, () => this.multiStatement()],
      [5, () => this.call()],
      [14, () => this.preparedRows()],
      [12, () => this.echo()],
      [5, () => this.cursor()],
      [10, () => this.writeScene()],
      [6, () => this.transaction()],
      [this.userVar !== null ? 5 : 0, () => this.userVarRead()],
      [this.tmpTable !== null ? 8 : 0, () => this.tmpScene()],
      [5, () => this.small()],
    ]);
    pick();
  }

  /**
   * `SELECT seq, pad` of about `bytes` in rows of a random width (0 rows: an empty set). A row
   * costs its width and about 16 bytes more: packet header, seq, lengths (and the procedure's
   * result_set column).
   */
  private rowsShape(bytes: number): { n: number; width: number } {
    const r = this.rng;
    const b = Math.floor(bytes);
    if (b < 8) return { n: r.chance(0.5) ? 0 : 1, width: b };
    const width = r.chance(0.1) ? b : r.logInt(1, Math.min(b, 64 << 10));
    return { n: Math.max(1, Math.min(1_000_000, Math.round(b / (width + 16)))), width };
  }

  private rowsSql(bytes: number): string {
    const { n, width } = this.rowsShape(bytes);
    if (n === 0) return `SELECT seq, RPAD(seq, ${width}, 'x') AS pad FROM seq_1_to_10 WHERE seq > 10`;
    return `SELECT seq, RPAD(seq, ${width}, MD5(seq)) AS pad FROM seq_1_to_${n}`;
  }

  private textRows(): void {
    const bytes = this.size();
    this.add({ op: "query", sql: this.rowsSql(bytes) }, `text rows ~${bytes} B`);
  }

  /** One value: `SELECT RPAD(...)`, sometimes sized so its row is a 16 MiB packet boundary. */
  private valueSql(): { sql: string; bytes: number } {
    const r = this.rng;
    let len = this.size();
    if (this.opts.maxBytes > MAX_PACKET + 16 && r.chance(0.15)) {
      // Text row of one column: lenenc(L) + L.
      len = lengthForPayload(r.pick(boundaryPayloads(this.opts.maxBytes)), 0)!;
    }
    return { sql: `SELECT RPAD(${len % 997}, ${len}, MD5(${len})) AS v`, bytes: len };
  }

  private textValue(): void {
    const { sql, bytes } = this.valueSql();
    this.add({ op: "query", sql }, `text value ${bytes} B`);
  }

  private blobIds(): number[] {
    const r = this.rng;
    const fits = BLOB_SIZES.map((s, i) => ({ s: s ?? 0, id: i + 1 })).filter(
      (b) => b.s <= this.opts.maxBytes,
    );
    const n = r.int(1, 3);
    const ids = new Set<number>();
    let total = 0;
    for (let i = 0; i < n; i++) {
      const b = r.pick(fits);
      if (total + b.s > this.opts.maxBytes) continue;
      total += b.s;
      ids.add(b.id);
    }
    if (ids.size === 0) ids.add(1);
    return [...ids];
  }

  private blobRead(): void {
    const ids = this.blobIds();
    if (this.rng.chance(0.5)) {
      this.add(
        {
          op: "query",
          sql: `SELECT id, b FROM app.stress_blobs WHERE id IN (${ids.join(", ")}) ORDER BY id`,
        },
        `text BLOBs ${ids.join(",")}`,
      );
    } else {
      this.prepare("blob");
      this.execute("blob", [{ type: "int", value: ids[0]! }], `prepared BLOB ${ids[0]}`);
    }
  }

  /** Two to four statements in one COM_QUERY (CLIENT_MULTI_STATEMENTS): several results. */
  private multiStatement(): void {
    const r = this.rng;
    const n = r.int(2, 4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      parts.push(
        r.weighted<() => string>([
          [4, () => this.rowsSql(this.capped(this.size(), this.opts.maxBytes / n))],
          [2, () => this.valueSql().sql],
          [1, () => "DO 1"],
          [1, () => "SELECT 1 AS one"],
          [1, () => `CALL app.stress_results(${r.int(0, 3)}, ${r.int(0, 50)}, ${r.int(0, 2000)})`],
          [this.userVar !== null ? 1 : 0, () => "SELECT @stress_v AS v"],
          // An error ends the multi-statement: what follows is not run.
          [0.5, () => "SELECT * FROM app.stress_missing"],
        ])(),
      );
    }
    this.add({ op: "query", sql: parts.join("; ") }, `multi-statement (${n})`);
  }

  private callArgs(): [number, number, number] {
    const r = this.rng;
    const sets = r.int(0, 4);
    const bytes = this.capped(this.size(), this.opts.maxBytes / Math.max(1, sets));
    const { n, width } = this.rowsShape(bytes);
    return [sets, n, width];
  }

  /** A stored procedure returning several result sets, by text or as a prepared CALL. */
  private call(): void {
    const args = this.callArgs();
    if (this.rng.chance(0.5)) {
      this.add({ op: "query", sql: `CALL app.stress_results(${args.join(", ")})` }, `CALL ${args.join(",")}`);
    } else {
      this.prepare("call");
      this.execute(
        "call",
        args.map((value) => ({ type: "int", value })),
        `prepared CALL ${args.join(",")}`,
      );
    }
  }

  private preparedRows(): void {
    const { n, width } = this.rowsShape(this.size());
    this.prepare("rows");
    this.execute(
      "rows",
      [
        { type: "int", value: width },
        { type: "int", value: n },
      ],
      `binary rows ${n} × ${width} B`,
    );
    if (this.rng.chance(0.2)) this.close("rows");
  }

  /** A parameter of `size` random bytes, inline or with COM_STMT_SEND_LONG_DATA. */
  private bytesParam(size: number, overhead: number): Param {
    const r = this.rng;
    const seed = r.u32();
    if (r.chance(0.5)) {
      let chunk = r.logInt(1024, 4 << 20);
      // A long data packet (0x18, int<4> stmt, int<2> param, data) of exactly 0xFFFFFF bytes.
      if (size > MAX_PACKET && r.chance(0.3)) chunk = MAX_PACKET - 7;
      return { type: "long", size, seed, chunk };
    }
    if (this.opts.maxBytes > MAX_PACKET + 64 && r.chance(0.1)) {
      // An EXECUTE of exactly 16 MiB - 1 (+ 0, 1): split in two packets, the second maybe empty.
      const l = lengthForPayload(r.pick([MAX_PACKET - 1, MAX_PACKET, MAX_PACKET + 1]), overhead);
      if (l !== null) return { type: "bytes", size: l, seed };
    }
    return { type: "bytes", size, seed };
  }

  /** The server sends parameters back: large results whose bytes the client chose. */
  private echo(): void {
    const r = this.rng;
    if (r.chance(0.6)) {
      // EXECUTE: 0x17, int<4> id, flags, int<4> iterations, bitmap (1), bound flag, 2 type bytes.
      const p = this.bytesParam(this.size(), 14);
      this.prepare("echo");
      this.execute("echo", [p], `echo ${p.type} ${"size" in p ? p.size : 0} B`);
    } else {
      const budget = this.opts.maxBytes / 2;
      const a = this.bytesParam(this.capped(this.size(), budget), 0);
      const b = r.chance(0.2)
        ? ({ type: "null" } as const)
        : this.bytesParam(this.capped(this.size(), budget), 0);
      this.prepare("echo3");
      this.execute("echo3", [a, { type: "int", value: r.int(0, 1000) }, b], `echo3 ${a.type}/${b.type}`);
    }
  }

  /** COM_STMT_EXECUTE with a cursor, COM_STMT_FETCH in batches, ended one way or another. */
  private cursor(): void {
    const r = this.rng;
    const { n, width } = this.rowsShape(this.size(this.opts.maxBytes / 2));
    this.prepare("rows");
    const params: Param[] = [
      { type: "int", value: width },
      { type: "int", value: n },
    ];
    this.execute("rows", params, `cursor ${n} × ${width} B`, true);
    // Mostly a few large batches to the end (and one more FETCH, answered by LAST_ROW_SENT or an
    // error on both sides alike), sometimes a few small ones and the cursor is left open.
    const toEnd = r.chance(0.7);
    const batch = toEnd
      ? r.logInt(Math.max(1, Math.ceil(n / 6)), Math.max(1, n))
      : r.logInt(1, Math.max(1, n));
    const fetches = toEnd ? Math.ceil(n / batch) + 1 : r.int(1, 3);
    for (let i = 0; i < Math.min(fetches, 8); i++) {
      this.add({ op: "fetch", stmt: "rows", rows: batch }, `fetch ${batch} rows (${i + 1})`);
    }
    r.weighted<() => void>([
      [3, () => {}],
      [1, () => this.add({ op: "reset", stmt: "rows" }, "reset the cursor")],
      [1, () => this.close("rows")],
      [1, () => this.execute("rows", params, `re-execute ${n} × ${width} B (closes the cursor)`)],
    ])();
  }

  // ---- writes -----------------------------------------------------------------------------

  private writeOp(): void {
    const r = this.rng;
    const w = this.writes;
    const size = this.capped(this.size(), 4 << 20);
    const keys = [...w.keys];
    const op =
      keys.length === 0 ? "insert" : r.weighted([[5, "insert"] as const, [3, "update"], [1, "delete"]]);
    const k = op === "insert" ? w.nextK++ : r.pick(keys);
    const where = `side = '{side}' AND c = ${w.c} AND k = ${k}`;
    const text = r.chance(0.5);
    if (op === "insert") {
      w.keys.add(k);
      if (text) {
        this.add(
          {
            op: "query",
            sql: `INSERT INTO app.stress_w (side, c, k, v) VALUES ('{side}', ${w.c}, ${k}, RPAD('', ${size}, MD5(${k})))`,
          },
          `insert ${size} B`,
        );
      } else {
        this.prepare("wInsert");
        const v = this.bytesParam(size, 0);
        this.execute(
          "wInsert",
          [{ type: "side" }, { type: "int", value: w.c }, { type: "int", value: k }, v],
          `prepared insert ${v.type} ${size} B`,
        );
      }
    } else if (op === "update") {
      if (text) {
        this.add(
          { op: "query", sql: `UPDATE app.stress_w SET v = RPAD('', ${size}, SHA1(${k})) WHERE ${where}` },
          `update ${size} B`,
        );
      } else {
        this.prepare("wUpdate");
        const v = this.bytesParam(size, 0);
        this.execute(
          "wUpdate",
          [v, { type: "side" }, { type: "int", value: w.c }, { type: "int", value: k }],
          `prepared update ${v.type} ${size} B`,
        );
      }
    } else {
      w.keys.delete(k);
      this.add({ op: "query", sql: `DELETE FROM app.stress_w WHERE ${where}` }, "delete");
    }
  }

  private readBack(): void {
    const w = this.writes;
    if (this.rng.chance(0.5)) {
      this.add(
        {
          op: "query",
          sql: `SELECT k, LENGTH(v) AS len, v FROM app.stress_w WHERE side = '{side}' AND c = ${w.c} ORDER BY k`,
        },
        `read back ${w.keys.size} rows`,
      );
    } else {
      this.prepare("wSelect");
      this.execute(
        "wSelect",
        [{ type: "side" }, { type: "int", value: w.c }],
        `prepared read back ${w.keys.size} rows`,
      );
    }
  }

  private writeScene(): void {
    const n = this.rng.int(1, 3);
    for (let i = 0; i < n; i++) this.writeOp();
    if (this.rng.chance(0.7)) this.readBack();
  }

  private transaction(): void {
    const r = this.rng;
    if (this.autocommitOff) {
      this.writeScene();
      this.endTransaction();
      return;
    }
    if (r.chance(0.25)) {
      this.add({ op: "query", sql: "START TRANSACTION READ ONLY" }, "read-only transaction");
      this.inTransaction = true;
      r.chance(0.5) ? this.textRows() : this.readBack();
      this.endTransaction();
      return;
    }
    this.add({ op: "query", sql: r.pick(["BEGIN", "START TRANSACTION"]) }, "transaction");
    this.inTransaction = true;
    const before = new Set(this.writes.keys);
    const nextK = this.writes.nextK;
    this.writeScene();
    if (r.chance(0.3)) this.textRows();
    this.endTransaction(() => {
      this.writes.keys = before;
      this.writes.nextK = nextK;
    });
  }

  /** COMMIT, or ROLLBACK (then `undo` puts the write model back). */
  private endTransaction(undo?: () => void): void {
    if (undo !== undefined && this.rng.chance(0.3)) {
      this.add({ op: "query", sql: "ROLLBACK" }, "rollback");
      undo();
    } else {
      this.add({ op: "query", sql: "COMMIT" }, "commit");
    }
    this.inTransaction = false;
  }

  // ---- pinned sessions --------------------------------------------------------------------

  /** What pins the session to one primary connection from here on (one or two of them). */
  private pinScene(): void {
    const r = this.rng;
    const pins = r.chance(0.3) ? 2 : 1;
    const kinds = ["userVar", "tmpTable", "autocommit"] as const;
    const chosen = new Set<(typeof kinds)[number]>();
    while (chosen.size < pins) chosen.add(r.pick(kinds));
    for (const k of chosen) {
      if (k === "userVar") {
        const len = this.size();
        this.userVar = len;
        this.add({ op: "query", sql: `SET @stress_v = RPAD('', ${len}, MD5(${len}))` }, `SET @v ${len} B`);
      } else if (k === "tmpTable") {
        this.tmpTable = { rows: 0, bytes: 0 };
        this.add(
          {
            op: "query",
            sql: "CREATE TEMPORARY TABLE stress_tmp (id INT AUTO_INCREMENT PRIMARY KEY, v LONGBLOB)",
          },
          "temporary table",
        );
      } else {
        this.autocommitOff = true;
        this.add({ op: "query", sql: "SET autocommit = 0" }, "autocommit=0");
      }
    }
  }

  private userVarRead(): void {
    this.add(
      { op: "query", sql: "SELECT @stress_v AS v, LENGTH(@stress_v) AS n" },
      `SELECT @v ${this.userVar} B`,
    );
  }

  private tmpScene(): void {
    const r = this.rng;
    const t = this.tmpTable!;
    const room = this.opts.maxBytes - t.bytes;
    if (room > 1024 && r.chance(0.6)) {
      const size = this.capped(this.size(), room);
      t.rows++;
      t.bytes += size;
      if (r.chance(0.5)) {
        this.add(
          { op: "query", sql: `INSERT INTO stress_tmp (v) VALUES (RPAD('', ${size}, MD5(${t.rows})))` },
          `temporary insert ${size} B`,
        );
      } else {
        this.prepare("tmpInsert");
        const v = this.bytesParam(size, 0);
        this.execute("tmpInsert", [v], `prepared temporary insert ${v.type} ${size} B`);
      }
      if (r.chance(0.4)) this.add({ op: "query", sql: "SELECT LAST_INSERT_ID() AS id" }, "LAST_INSERT_ID()");
    } else if (r.chance(0.2) && t.rows > 0) {
      this.add({ op: "query", sql: "DELETE FROM stress_tmp" }, "empty the temporary table");
      t.bytes = 0;
    } else {
      this.add(
        { op: "query", sql: "SELECT id, v FROM stress_tmp ORDER BY id" },
        `temporary table ${t.bytes} B`,
      );
    }
  }

  private small(): void {
    const r = this.rng;
    r.weighted<() => void>([
      [3, () => this.add({ op: "query", sql: "SELECT 1 AS one" }, "SELECT 1")],
      [2, () => this.add({ op: "query", sql: "DO 1" }, "DO 1")],
      [2, () => this.add({ op: "ping" }, "COM_PING")],
      [1, () => this.add({ op: "initDb", schema: "app" }, "COM_INIT_DB")],
      [1, () => this.add({ op: "query", sql: "SELECT * FROM app.stress_missing" }, "an error")],
      [1, () => this.add({ op: "query", sql: "SELEKT 1" }, "a syntax error")],
    ])();
  }

  // ---- prepared statements ----------------------------------------------------------------

  private prepare(stmt: StmtName): void {
    if (this.prepared.has(stmt)) return;
    this.prepared.set(stmt, { typesBound: null });
    this.add({ op: "prepare", stmt, sql: SQL[stmt] }, `prepare ${stmt}`);
  }

  private execute(stmt: StmtName, params: Param[], what: string, cursor = false): void {
    const p = this.prepared.get(stmt)!;
    const types = params
      .map((x) => (x.type === "long" ? "bytes" : x.type === "side" ? "bytes" : x.type))
      .join();
    // Sometimes leave the types out when they are those of the last EXECUTE: the proxy must send
    // them itself to a backend connection that never received them (a pooled session moves).
    const bindTypes = p.typesBound !== types || this.rng.chance(0.5);
    p.typesBound = types;
    this.add({ op: "execute", stmt, params, cursor, bindTypes }, what);
  }

  private close(stmt: StmtName): void {
    this.prepared.delete(stmt);
    this.add({ op: "close", stmt }, `close ${stmt}`);
  }
}
