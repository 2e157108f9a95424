import { randomInt } from "node:crypto";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { seededRandom } from "../../../src/balancer/seeded-random.js";
import { Command } from "../../../src/protocol/constants/commands.js";
import type { Packet } from "../../../src/protocol/framing.js";
import { CHANGE_USER_REFUSAL_DELAY_MS } from "../../../src/proxy/session/client-session.js";
import { errOf, SessionHarness, settle } from "../../helpers/session-harness.js";

// A client may send any bytes as a command: every command byte, known or not, with a body that
// is garbage, cut short, or a real statement id followed by garbage. The session must answer each
// one (a result, an OK, or an ERR with a real error number) or close, and never stay busy: a
// session waiting for ever on a backend or a handler holds its client until the client times out.
// The session core runs over scripted backends.
//
// Replay a failure: RWSPLIT_PROPERTY_SEED=<seed> npx vitest run test/unit/session/any-command.property.test.ts

const SEED = process.env.RWSPLIT_PROPERTY_SEED
  ? Number(process.env.RWSPLIT_PROPERTY_SEED)
  : randomInt(2 ** 31);
const SESSIONS = 40;
const COMMANDS_PER_SESSION = 8;

/** Every command byte rwsplit knows, and some it does not. */
const BYTES = [...Object.values(Command), 0x20, 0x21, 0x40, 0x7f, 0xfe, 0xff];
/** Commands the server answers with nothing (COM_QUIT closes the connection). */
const SILENT = new Set<number>([Command.STMT_CLOSE, Command.STMT_SEND_LONG_DATA, Command.QUIT]);

describe(`any command, any body: an answer or a close, never a session left busy (seed ${SEED})`, () => {
  // A refused COM_CHANGE_USER is answered a second later (as by the server): the test moves the
  // clock instead of waiting.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test("random login packets: an answer (ERR, an auth switch) or a close, never a session waiting on nothing", async () => {
    const rnd = seededRandom(SEED ^ 0x5bd1e995);
    for (let s = 0; s < SESSIONS * 4; s++) {
      const h = new SessionHarness();
      h.client.take(); // the greeting
      const len = Math.floor(rnd() * 96);
      const body = Buffer.alloc(len);
      for (let j = 0; j < len; j++) body[j] = Math.floor(rnd() * 256);
      // Half of them look like a HandshakeResponse41 (PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH).
      if (len >= 4 && rnd() < 0.5) body.writeUInt32LE(0x000a8200 | (body.readUInt32LE(0) & 0x00ff7dff), 0);
      const where = `login packet ${body.toString("hex")}`;
      h.client.send(1, body);
      await settle();
      await vi.advanceTimersByTimeAsync(CHANGE_USER_REFUSAL_DELAY_MS);
      await settle();
      const answer = h.client.take();
      if (h.session.isClosed()) continue;
      expect(answer.length, `no answer, session ${h.session.phase} (${where})`).toBeGreaterThan(0);
      h.session.close();
    }
  });

  test("random commands after a PREPARE", async () => {
    const rnd = seededRandom(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    for (let s = 0; s < SESSIONS; s++) {
      const h = new SessionHarness();
      await h.login();
      // Statement id 1 exists, so a body starting with it reaches the EXECUTE/FETCH/RESET paths.
      await h.command(Command.STMT_PREPARE, "SELECT ?");
      const sent: string[] = [];
      for (let i = 0; i < COMMANDS_PER_SESSION && !h.session.isClosed(); i++) {
        const command = pick(BYTES);
        const len = Math.floor(rnd() * 24);
        const body = Buffer.alloc(len);
        for (let j = 0; j < len; j++) body[j] = Math.floor(rnd() * 256);
        if (len >= 4 && rnd() < 0.5) body.writeUInt32LE(1, 0);
        sent.push(`0x${command.toString(16)} ${body.toString("hex")}`);
        const where = `session ${s}, after: ${sent.join(" | ")}`;
        let answer: Packet[];
        try {
          answer = await send(h, command, body);
        } catch (e) {
          throw new Error(`${(e as Error).message} (${where})`);
        }
        if (h.session.isClosed() || SILENT.has(command)) continue;
        expect(answer.length, `no answer (${where})`).toBeGreaterThan(0);
        const first = answer[0]!.payload;
        if (first[0] === 0xff) {
          const errno = first.readUInt16LE(1);
          expect(errno, `ERR without a real number (${where})`).toBeGreaterThanOrEqual(1000);
        }
      }
      // Still open, and not in the middle of a COM_CHANGE_USER's authentication (an auth switch
      // waits for the client's next packet, as on the server): it still serves.
      if (!h.session.isClosed() && h.session.phase !== "auth") {
        expect(errOf(await send(h, Command.QUERY, Buffer.from("SELECT 1")))).toBeNull();
        h.session.close();
      }
    }
  });
});

/** Sends a command and waits until the session is idle, moving the clock past a refusal's delay. */
async function send(h: SessionHarness, command: number, body: Buffer): Promise<Packet[]> {
  h.client.command(command, body);
  await settle();
  await vi.advanceTimersByTimeAsync(CHANGE_USER_REFUSAL_DELAY_MS);
  await h.idle();
  return h.client.take();
}
