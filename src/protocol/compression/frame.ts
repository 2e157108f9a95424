/**
 * The compressed protocol's framing (CLIENT_COMPRESS, CLIENT_ZSTD_COMPRESSION_ALGORITHM), below
 * the ordinary packets: once compression is on, the byte stream of packets is cut into
 * compressed frames, each
 *
 *   int<3>  length of the (compressed) payload that follows
 *   int<1>  compressed sequence id
 *   int<3>  length of the payload before compression; 0: the payload is not compressed
 *   payload: zlib `compress()` output (RFC 1950: 78 9c ... adler32) or one zstd frame,
 *            or the bytes as they are when the length above is 0
 *
 * A frame may hold part of a packet or several packets: it is a layer of its own, and packet
 * boundaries need not match frame boundaries. Both lengths are 3 bytes, so a frame carries at
 * most 0xFFFFFF bytes either way; senders leave payloads under MIN_COMPRESS_LENGTH (50 bytes,
 * MySQL's net_serv.cc) uncompressed, and any payload that does not shrink.
 *
 * Sequence ids (MySQL's `compress_pkt_nr`, reset with `pkt_nr` by net_new_transaction()):
 * - compression starts after the login: the client's HandshakeResponse41 and the server's final
 *   OK are plain packets; everything after them is framed, COM_CHANGE_USER's exchange included;
 * - each command starts a new sequence: the client's first frame of a command has id 0;
 * - the answer continues from the last id received + 1 (a command in frame 0 is answered in
 *   frames 1, 2, ...), counting frames, independently of the packets' own sequence ids inside
 *   them (MariaDB 10.11 answers `SELECT 1` sent in frame 0 with one frame, id 1, holding packets
 *   1 to 5);
 * - exchanges within one command (LOAD DATA LOCAL INFILE, an auth switch during
 *   COM_CHANGE_USER) go on the same way: each side continues from the last id it received + 1.
 */

export const COMPRESSED_HEADER_LENGTH = 7;

/** Payloads shorter than this are sent uncompressed (MIN_COMPRESS_LENGTH in MySQL's net_serv.cc). */
export const MIN_COMPRESS_LENGTH = 50;

/** The most either length field can say, so the most one frame carries. */
export const MAX_FRAME_PAYLOAD = 0xffffff;

export interface FrameHeader {
  /** Bytes of payload after the header. */
  length: number;
  seq: number;
  /** Length after decompression; 0 when the payload is not compressed. */
  uncompressedLength: number;
}

export function decodeFrameHeader(b: Uint8Array, at = 0): FrameHeader {
  return {
    length: b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16),
    seq: b[at + 3]!,
    uncompressedLength: b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16),
  };
}

/** Header and payload as one frame. */
export function encodeFrame(seq: number, payload: Uint8Array, uncompressedLength: number): Buffer {
  const out = Buffer.allocUnsafe(COMPRESSED_HEADER_LENGTH + payload.length);
  out.writeUIntLE(payload.length, 0, 3);
  out[3] = seq & 0xff;
  out.writeUIntLE(uncompressedLength, 4, 3);
  out.set(payload, COMPRESSED_HEADER_LENGTH);
  return out;
}
