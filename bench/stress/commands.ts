import type { Param } from "./plan.js";
import { randomBytes } from "./rng.js";

/**
 * Command payloads (without packet headers), as the MySQL internals manual lays them out
 * ("COM_QUERY", "COM_STMT_PREPARE", "COM_STMT_EXECUTE", "COM_STMT_SEND_LONG_DATA",
 * "COM_STMT_FETCH", "COM_STMT_RESET", "COM_STMT_CLOSE", "COM_PING", "COM_INIT_DB").
 */

const COM_INIT_DB = 0x02;
const COM_QUERY = 0x03;
const COM_PING = 0x0e;
const COM_STMT_PREPARE = 0x16;
const COM_STMT_EXECUTE = 0x17;
const COM_STMT_SEND_LONG_DATA = 0x18;
const COM_STMT_CLOSE = 0x19;
const COM_STMT_RESET = 0x1a;
const COM_STMT_FETCH = 0x1c;
/** COM_STMT_EXECUTE flags: open a read-only cursor (rows come with COM_STMT_FETCH). */
export const CURSOR_TYPE_READ_ONLY = 0x01;

const MYSQL_TYPE_NULL = 0x06;
const MYSQL_TYPE_LONGLONG = 0x08;
const MYSQL_TYPE_LONG_BLOB = 0xfb;

const withText = (cmd: number, text: string) =>
  Buffer.concat([Buffer.from([cmd]), Buffer.from(text, "utf8")]);

export const query = (sql: string) => withText(COM_QUERY, sql);
export const prepare = (sql: string) => withText(COM_STMT_PREPARE, sql);
export const initDb = (schema: string) => withText(COM_INIT_DB, schema);
export const ping = () => Buffer.from([COM_PING]);

/** int<1> command, int<4> stmt_id. */
function stmtCommand(cmd: number, id: number, extra = 0): Buffer {
  const b = Buffer.alloc(5 + extra);
  b[0] = cmd;
  b.writeUInt32LE(id, 1);
  return b;
}

export const reset = (id: number) => stmtCommand(COM_STMT_RESET, id);
export const close = (id: number) => stmtCommand(COM_STMT_CLOSE, id);

/** COM_STMT_FETCH: int<1> 0x1c, int<4> stmt_id, int<4> num_rows. */
export function fetch(id: number, rows: number): Buffer {
  const b = stmtCommand(COM_STMT_FETCH, id, 4);
  b.writeUInt32LE(rows, 5);
  return b;
}

/** COM_STMT_SEND_LONG_DATA: int<1> 0x18, int<4> stmt_id, int<2> param_id, data. No response. */
export function longData(id: number, param: number, data: Buffer): Buffer {
  const b = stmtCommand(COM_STMT_SEND_LONG_DATA, id, 2 + data.length);
  b.writeUInt16LE(param, 5);
  data.copy(b, 7);
  return b;
}

function lenenc(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([0xfc, n & 0xff, n >> 8]);
  if (n < 0x1000000) return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

/** A parameter's bytes: what `side` stands for on this connection, or the seeded random bytes. */
export function paramBytes(p: Param, side: "p" | "d"): Buffer {
  if (p.type === "side") return Buffer.from(side);
  if (p.type === "bytes" || p.type === "long") return randomBytes(p.seed, p.size);
  throw new Error(`no bytes for a ${p.type} parameter`);
}

/**
 * COM_STMT_EXECUTE: int<1> 0x17, int<4> stmt_id, int<1> flags, int<4> iteration_count (1), then
 * with parameters: NULL bitmap of (n + 7) / 8 bytes, int<1> new_params_bound_flag, the types
 * (int<2> each: type, unsigned flag) when it is 1, and the values that are neither NULL nor sent
 * as long data. `bytes` holds each parameter's value (null for int and NULL parameters).
 */
export function execute(
  id: number,
  params: readonly Param[],
  bytes: readonly (Buffer | null)[],
  cursor: boolean,
  bindTypes: boolean,
): Buffer {
  const head = Buffer.alloc(10);
  head[0] = COM_STMT_EXECUTE;
  head.writeUInt32LE(id, 1);
  head[5] = cursor ? CURSOR_TYPE_READ_ONLY : 0;
  head.writeUInt32LE(1, 6);
  if (params.length === 0) return head;
  const bitmap = Buffer.alloc((params.length + 7) >> 3);
  const types = Buffer.alloc(params.length * 2);
  const values: Buffer[] = [];
  params.forEach((p, i) => {
    if (p.type === "null") {
      bitmap[i >> 3]! |= 1 << (i & 7);
      types[i * 2] = MYSQL_TYPE_NULL;
    } else if (p.type === "int") {
      types[i * 2] = MYSQL_TYPE_LONGLONG;
      const v = Buffer.alloc(8);
      v.writeBigInt64LE(BigInt(p.value));
      values.push(v);
    } else {
      types[i * 2] = MYSQL_TYPE_LONG_BLOB;
      if (p.type !== "long") values.push(lenenc(bytes[i]!.length), bytes[i]!);
    }
  });
  const parts = [head, bitmap, Buffer.from([bindTypes ? 1 : 0])];
  if (bindTypes) parts.push(types);
  return Buffer.concat([...parts, ...values]);
}
