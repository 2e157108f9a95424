import { deflateSync, inflateSync } from "node:zlib";
import { RwsplitError } from "../../errors.js";

/**
 * What compresses one frame's payload: zlib (CLIENT_COMPRESS) or zstd
 * (CLIENT_ZSTD_COMPRESSION_ALGORITHM, MySQL 8.0.18+). Synchronous, like the rest of the codec.
 */
export interface PayloadCodec {
  readonly name: "zlib" | "zstd";
  compress(data: Uint8Array): Uint8Array;
  /**
   * `size` is the uncompressed length the frame header announced: a payload that inflates to
   * more or less is a PROTOCOL_VIOLATION (and inflating never goes past `size`, so a small
   * frame cannot claim megabytes of memory).
   */
  decompress(data: Uint8Array, size: number): Uint8Array;
}

function violation(what: string, e?: unknown): RwsplitError {
  const why = e instanceof Error ? `: ${e.message}` : "";
  return new RwsplitError("PROTOCOL_VIOLATION", `compressed frame: ${what}${why}`, { cause: e });
}

/** zlib's compress()/uncompress() format, as MySQL and MariaDB use it; level 6 is zlib's default. */
export function zlibCodec(level = 6): PayloadCodec {
  return {
    name: "zlib",
    compress: (data) => deflateSync(data, { level }),
    decompress(data, size) {
      let out: Buffer;
      try {
        out = inflateSync(data, { maxOutputLength: Math.max(size, 1) });
      } catch (e) {
        throw violation(`zlib payload does not inflate to the announced ${size} bytes`, e);
      }
      if (out.length !== size) throw violation(`inflated to ${out.length} bytes, header said ${size}`);
      return out;
    },
  };
}

/** A zstd implementation: one frame in (`ZSTD_compress` / `ZSTD_decompress`), bytes out. */
export interface ZstdBinding {
  compress(data: Uint8Array, level: number): Uint8Array;
  /** `capacity`: the most it may produce. */
  decompress(data: Uint8Array, capacity: number): Uint8Array;
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Frame_Content_Size from a zstd frame header (RFC 8878 3.1.1.1): the size the frame says it
 * decompresses to, null when the frame does not say, undefined when `data` is no zstd frame.
 *
 *   Magic_Number 4 bytes, Frame_Header_Descriptor 1 byte (bits 7-6 FCS flag, 5 single segment,
 *   1-0 dictionary id flag), [Window_Descriptor 1 byte unless single segment], [Dictionary_ID
 *   0/1/2/4 bytes], [Frame_Content_Size 0/1/2/4/8 bytes; 2 bytes hold size - 256]
 */
export function zstdContentSize(data: Uint8Array): number | null | undefined {
  if (data.length < 5) return undefined;
  const magic = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  if (magic !== ZSTD_MAGIC) return undefined;
  const fhd = data[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return null;
  const at = 5 + (singleSegment ? 0 : 1) + dictBytes;
  if (data.length < at + fcsBytes) return undefined;
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  switch (fcsBytes) {
    case 1:
      return b[at]!;
    case 2:
      return b.readUInt16LE(at) + 256;
    case 4:
      return b.readUInt32LE(at);
    default:
      return Number(b.readBigUInt64LE(at));
  }
}

/**
 * zstd at `level` (the client's choice: HandshakeResponse41 carries int<1>
 * zstd_compression_level after the connection attributes when it asks for
 * CLIENT_ZSTD_COMPRESSION_ALGORITHM; MySQL's default is 3).
 */
export function zstdCodec(binding: ZstdBinding, level = 3): PayloadCodec {
  return {
    name: "zstd",
    compress: (data) => binding.compress(data, level),
    decompress(data, size) {
      const declared = zstdContentSize(data);
      if (declared === undefined) throw violation("the payload is not a zstd frame");
      if (declared !== null && declared !== size) {
        throw violation(`zstd frame says ${declared} bytes, header said ${size}`);
      }
      let out: Uint8Array;
      try {
        out = binding.decompress(data, size);
      } catch (e) {
        throw violation(`zstd payload does not decompress to the announced ${size} bytes`, e);
      }
      if (out.length !== size)
        throw violation(`zstd decompressed to ${out.length} bytes, header said ${size}`);
      return out;
    },
  };
}

let zstd: Promise<ZstdBinding> | null = null;

/**
 * zstd from @bokuweb/zstd-wasm (zstd compiled to WebAssembly, shipped inside the npm package:
 * nothing is downloaded or built at install). Loading is asynchronous (the module is
 * instantiated once); compressing and decompressing are synchronous afterwards.
 */
export function loadZstd(): Promise<ZstdBinding> {
  zstd ??= (async () => {
    const m = await import("@bokuweb/zstd-wasm");
    await m.init();
    return {
      compress: (data, level) => m.compress(data, level),
      decompress: (data, capacity) => m.decompress(data, { defaultHeapSize: Math.max(capacity, 1) }),
    };
  })();
  return zstd;
}
