import { BufferReader } from "../buffer-reader.js";
import { BufferWriter } from "../buffer-writer.js";

/**
 * Column Definition (Protocol::ColumnDefinition41): string<lenenc> catalog ("def"), schema,
 * table, org_table, name, org_name, int<lenenc> length of fixed fields (0x0C), int<2>
 * character_set, int<4> column_length, int<1> type, int<2> flags, int<1> decimals, int<2> filler.
 * The relay never decodes these; the proxy does for its own answers and in tests.
 */
export interface ColumnDefinition {
  catalog: string;
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  characterSet: number;
  columnLength: number;
  type: number;
  flags: number;
  decimals: number;
}

export function decodeColumnDefinition(payload: Buffer): ColumnDefinition {
  const r = new BufferReader(payload);
  const catalog = r.lenencString();
  const schema = r.lenencString();
  const table = r.lenencString();
  const orgTable = r.lenencString();
  const name = r.lenencString();
  const orgName = r.lenencString();
  r.lenenc();
  const characterSet = r.u16();
  const columnLength = r.u32();
  const type = r.u8();
  const flags = r.u16();
  const decimals = r.u8();
  return {
    catalog,
    schema,
    table,
    orgTable,
    name,
    orgName,
    characterSet,
    columnLength,
    type,
    flags,
    decimals,
  };
}

export function encodeColumnDefinition(seq: number, c: ColumnDefinition): Buffer {
  return new BufferWriter(64)
    .lenencString(c.catalog)
    .lenencString(c.schema)
    .lenencString(c.table)
    .lenencString(c.orgTable)
    .lenencString(c.name)
    .lenencString(c.orgName)
    .lenenc(0x0c)
    .u16(c.characterSet)
    .u32(c.columnLength)
    .u8(c.type)
    .u16(c.flags)
    .u8(c.decimals)
    .u16(0)
    .toPacket(seq);
}

/** Column count packet: a lone int<lenenc>. */
export function decodeColumnCount(payload: Buffer): number {
  return new BufferReader(payload).lenenc();
}

export function encodeColumnCount(seq: number, count: number): Buffer {
  return new BufferWriter(9).lenenc(count).toPacket(seq);
}
