import { BufferReader } from "../buffer-reader.js";
import { BufferWriter } from "../buffer-writer.js";

/**
 * COM_STMT_PREPARE_OK: int<1> 0x00, int<4> statement_id, int<2> num_columns, int<2> num_params,
 * int<1> reserved, int<2> warning_count. Param definitions follow, then column definitions,
 * each group closed by an EOF unless CLIENT_DEPRECATE_EOF.
 */
export interface StmtPrepareOk {
  statementId: number;
  numColumns: number;
  numParams: number;
  warnings: number;
}

/** Offset of statement_id in the payload: the proxy rewrites it in place. */
export const STMT_ID_OFFSET = 1;

export function decodeStmtPrepareOk(payload: Buffer): StmtPrepareOk {
  const r = new BufferReader(payload);
  r.u8();
  const statementId = r.u32();
  const numColumns = r.u16();
  const numParams = r.u16();
  let warnings = 0;
  if (r.remaining >= 3) {
    r.u8();
    warnings = r.u16();
  }
  return { statementId, numColumns, numParams, warnings };
}

export function encodeStmtPrepareOk(seq: number, ok: StmtPrepareOk): Buffer {
  return new BufferWriter(16)
    .u8(0)
    .u32(ok.statementId)
    .u16(ok.numColumns)
    .u16(ok.numParams)
    .u8(0)
    .u16(ok.warnings)
    .toPacket(seq);
}
