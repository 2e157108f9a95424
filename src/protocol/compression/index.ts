/**
 * The MySQL compressed protocol (CLIENT_COMPRESS with zlib, CLIENT_ZSTD_COMPRESSION_ALGORITHM
 * with zstd), pure: bytes in, bytes out, no socket. frame.ts has the wire format and the
 * sequence-id rules.
 */
export { CompressedReader } from "./compressed-reader.js";
export { CompressedWriter, type CompressedWriterOptions } from "./compressed-writer.js";
export {
  COMPRESSED_HEADER_LENGTH,
  decodeFrameHeader,
  encodeFrame,
  type FrameHeader,
  MAX_FRAME_PAYLOAD,
  MIN_COMPRESS_LENGTH,
} from "./frame.js";
export {
  loadZstd,
  type PayloadCodec,
  type ZstdBinding,
  zlibCodec,
  zstdCodec,
  zstdContentSize,
} from "./payload-codec.js";
