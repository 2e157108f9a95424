import type { ClientErrorSpec } from "../../errors.js";
import { Capability } from "../../protocol/constants/capabilities.js";
import { Command } from "../../protocol/constants/commands.js";
import { ServerStatus } from "../../protocol/constants/server-status.js";
import { type Packet, packet } from "../../protocol/framing.js";
import { encodeOk } from "../../protocol/packets/ok.js";
import { eofForClient, okForClient } from "../../protocol/packets/ok-for-client.js";
import { Captured, ResponseKind, ResponseScanner } from "../../protocol/response-scanner.js";
import { parseKill } from "../../routing/kill-statement.js";
import { route } from "../../routing/router.js";
import { routeStatement } from "../../routing/statement.js";
import { StatementFlag as F, hasFlag } from "../../routing/statement-flags.js";
import { splitStatements } from "../../routing/statement-split.js";
import type { CommandSteps } from "../session/dispatch.js";
import type { SessionPort } from "../session/session-port.js";
import { performKill } from "./kill.js";

/**
 * A multi-statement with KILL in it (`KILL 12; SELECT 1`). KILL names one of rwsplit's
 * connection ids and never goes to a server, so the statements are run in order, piece by piece:
 * each KILL by rwsplit, each run of other statements by a backend as one COM_QUERY; the client
 * gets one response, in one sequence, with SERVER_MORE_RESULTS_EXISTS on every result but the
 * last, and nothing after the first error (as the server stops there).
 */
export function multiStatementWithKill(s: SessionPort, pkt: Packet): boolean {
  const p = pkt.payload;
  const parts = splitStatements(p, 1, p.length);
  if (parts === null || parts.length < 2) return false;
  const segments: Segment[] = [];
  for (const [start, end] of parts) {
    const one = routeStatement(Buffer.concat([COM_QUERY, p.subarray(start, end)]), 1);
    if (hasFlag(one.flags, F.KILL)) {
      segments.push({ kill: parseKill(p, start, end) });
      continue;
    }
    const last = segments.at(-1);
    if (last !== undefined && "start" in last) last.end = end;
    else segments.push({ start, end });
  }
  s.suspend();
  void runSegments(s, p, segments, pkt.seq + 1);
  return true;
}

type Segment = { kill: ReturnType<typeof parseKill> } | { start: number; end: number };

const COM_QUERY = Buffer.from([Command.QUERY]);

async function runSegments(s: SessionPort, p: Buffer, segments: Segment[], firstSeq: number): Promise<void> {
  let seq = firstSeq;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const more = i < segments.length - 1;
    if ("kill" in seg) {
      const r = await performKill(s, seg.kill);
      if (s.isClosed()) return;
      if (r.error !== null) {
        s.sendError(r.error, seq);
        if (r.closeSelf) s.close();
        else s.resume();
        return;
      }
      const status =
        (s.lastStatus & ~ServerStatus.MORE_RESULTS_EXISTS) | (more ? ServerStatus.MORE_RESULTS_EXISTS : 0);
      s.write(encodeOk(seq++, { status }, s.capabilities));
      continue;
    }
    const out = await runPart(s, Buffer.concat([COM_QUERY, p.subarray(seg.start, seg.end)]), seq, more);
    if (s.isClosed()) return;
    if (out.error !== null) {
      s.sendError(out.error, seq);
      s.resume();
      return;
    }
    seq = out.nextSeq;
    if (out.failed) break;
  }
  s.resume();
}

/** Runs statements on a backend with their response held, renumbered from `seq`, chained to the next. */
function runPart(
  s: SessionPort,
  payload: Buffer,
  seq: number,
  more: boolean,
): Promise<{ error: ClientErrorSpec | null; nextSeq: number; failed: boolean }> {
  const stmt = routeStatement(payload, 1);
  const steps = new PartSteps(s, seq, more);
  return new Promise((resolve) => {
    s.run({
      command: Command.QUERY,
      kind: ResponseKind.RESULTSET,
      bytes: packet(0, payload),
      plan: route(stmt.route, s.routeSession()),
      label: null,
      statement: stmt,
      steps,
      holdResponse: true,
      onDone: (error) => resolve({ error, nextSeq: steps.nextSeq, failed: steps.failed }),
    });
  });
}

/** The held response of one part: renumbered, tracking as the client's, MORE_RESULTS when more follow. */
class PartSteps implements CommandSteps {
  nextSeq: number;
  failed = false;

  constructor(
    private readonly s: SessionPort,
    private readonly seq: number,
    private readonly more: boolean,
  ) {
    this.nextSeq = seq;
  }

  heldResponse(held: Buffer): Buffer {
    const deprecateEof = (this.s.capabilities & Capability.DEPRECATE_EOF) !== 0;
    const captured: { type: number; at: number; end: number }[] = [];
    let scanner: ResponseScanner | null = null;
    scanner = new ResponseScanner(deprecateEof, {
      onPacket: (type, _buf, _start, _end, at) => captured.push({ type, at, end: scanner!.packetEnd }),
    });
    scanner.begin(ResponseKind.RESULTSET);
    scanner.scan(held);
    const last = captured.at(-1);
    this.failed = last?.type === Captured.ERR;
    const out: Buffer[] = [];
    let seq = this.seq;
    let c = 0;
    for (let at = 0; at < held.length; ) {
      const len = held.readUIntLE(at, 3);
      const payload = held.subarray(at + 4, at + 4 + len);
      const cap = captured[c]?.at === at ? captured[c++] : undefined;
      let body: Buffer = payload;
      if (cap?.type === Captured.OK || cap?.type === Captured.EOF) {
        const tracking = this.s.state.tracking;
        body =
          (cap.type === Captured.OK ? okForClient(payload, tracking) : eofForClient(payload, tracking)) ??
          payload;
        if (cap === last && this.more) body = withMoreResults(body, cap.type === Captured.EOF);
      }
      out.push(packet(seq++, body));
      at += 4 + len;
    }
    this.nextSeq = seq & 0xff;
    return Buffer.concat(out);
  }
}

/** The terminator with SERVER_MORE_RESULTS_EXISTS set (an EOF's status is at 3, an OK's after two lenencs). */
function withMoreResults(payload: Buffer, eof: boolean): Buffer {
  const out = Buffer.from(payload);
  let at = 3;
  if (!eof) {
    at = 1;
    for (let k = 0; k < 2; k++) {
      const b = out[at]!;
      at += b < 0xfb ? 1 : b === 0xfc ? 3 : b === 0xfd ? 4 : 9;
    }
  }
  out.writeUInt16LE(out.readUInt16LE(at) | ServerStatus.MORE_RESULTS_EXISTS, at);
  return out;
}
