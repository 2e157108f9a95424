import { packet } from "../../protocol/framing.js";
import { NOT_DONE } from "../../protocol/response-scanner.js";
import type { BackendConnection } from "../backend-connection.js";
import type { ClientTransport } from "./transport.js";

/** A captured OK/EOF the client gets rewritten: where it lies in the chunk (at -1: begun in `withheld`). */
interface Edit {
  at: number;
  end: number;
  payload: Buffer;
}

/**
 * Writes a backend's response to the client as the backend read it, zero-copy, except for the few
 * small packets the client gets rewritten (OK/EOF as its own session tracking makes them,
 * ok-for-client.ts): the bytes around them go as views of the chunk, the rewritten packets in
 * their place. A packet the proxy may rewrite that a chunk does not hold whole is kept back until
 * the next chunk completes it (never more than one small packet). One per session, reused.
 */
export class RelayWriter {
  private readonly edits: Edit[] = [];
  private withheld: Buffer | null = null;

  reset(): void {
    // Most statements have no edits, and setting even an empty array's length costs ~15 ns.
    if (this.edits.length > 0) this.edits.length = 0;
    this.withheld = null;
  }

  /** A captured packet of the chunk being scanned is to reach the client as `payload`. */
  edit(payload: Buffer | null, at: number, end: number): void {
    if (payload !== null) this.edits.push({ at, end, payload });
  }

  /** Writes `data` (the chunk up to the response's `end`, or NOT_DONE); false when congested. */
  write(t: ClientTransport, conn: BackendConnection, data: Buffer, end: number): boolean {
    const edits = this.edits;
    const pending = end === NOT_DONE ? conn.scanner.pendingFrom : -1;
    if (edits.length === 0 && this.withheld === null && pending < 0) return t.write(data);
    let flushed = true;
    let pos = 0;
    let i = 0;
    const before = this.withheld;
    this.withheld = null;
    if (before !== null) {
      if (edits.length > 0 && edits[0]!.at < 0) {
        flushed = t.write(packet(before[3]!, edits[0]!.payload));
        pos = edits[0]!.end;
        i = 1;
      } else if (pending === 0 && edits.length === 0) {
        // Still not whole (or whole, with the next one begun at once): keep it all back.
        this.withheld = Buffer.concat([before, data]);
        return true;
      } else {
        flushed = t.write(before);
      }
    }
    for (; i < edits.length; i++) {
      const e = edits[i]!;
      if (e.at > pos) flushed = t.write(data.subarray(pos, e.at)) && flushed;
      flushed = t.write(packet(data[e.at + 3]!, e.payload)) && flushed;
      pos = e.end;
    }
    edits.length = 0;
    if (pending >= pos) {
      if (pending > pos) flushed = t.write(data.subarray(pos, pending)) && flushed;
      this.withheld = Buffer.from(data.subarray(pending));
    } else if (pos < data.length) {
      flushed = t.write(data.subarray(pos)) && flushed;
    }
    return flushed;
  }
}
