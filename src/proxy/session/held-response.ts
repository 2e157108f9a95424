import { type PacketEdit, rewriteResponse } from "../../protocol/result-metadata.js";
import type { BackendConnection } from "../backend-connection.js";
import type { Dispatch, PrepareOkInfo } from "./dispatch.js";

/**
 * A response held back whole until it ends, to be rewritten (a PREPARE's statement id, a
 * metadata skip filled in, an OK of a SET that changed the client's tracking): copies of its
 * bytes, and the OK/EOF packets the client gets rewritten for its own session tracking, by
 * their offset in the response (result-metadata.ts `rewriteResponse` applies them).
 */
export class HeldResponse {
  private readonly parts: Buffer[] = [];
  private length = 0;
  private readonly edits: PacketEdit[] = [];

  /** A relayed chunk's bytes (a view of the connection's read buffer: copied). */
  push(data: Buffer): void {
    this.parts.push(Buffer.from(data));
    this.length += data.length;
  }

  /**
   * The client gets `payload` (null: the packet as it is) for the packet the scanner just passed,
   * which ends at `end` in the chunk not pushed yet (RelayWriter.edit's arguments).
   */
  edit(payload: Buffer | null, _at: number, end: number): void {
    if (payload !== null) this.edits.push({ end: this.length + end, payload });
  }

  bytes(): Buffer {
    return this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
  }

  /** What the client gets: the command's rewrite (`steps.heldResponse`), else the edits applied. */
  forClient(d: Dispatch, conn: BackendConnection, prepared: PrepareOkInfo | null): Buffer {
    const held = this.bytes();
    const steps = d.steps;
    if (steps?.heldResponse !== undefined) return steps.heldResponse(held, conn, prepared, this.edits);
    return rewriteResponse(held, this.edits);
  }
}
