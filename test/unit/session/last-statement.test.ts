import { describe, expect, test } from "vitest";
import { Command } from "../../../src/protocol/constants/commands.js";
import { packet } from "../../../src/protocol/framing.js";
import { LAST_STATEMENT_ID } from "../../../src/proxy/session/prepared-statements.js";
import { errOf, SessionHarness, settle } from "../../helpers/session-harness.js";

// Statement id 0xFFFFFFFF, MariaDB's "the statement this session prepared last" (issue #14).
// MariaDB Connector/Node.js pipelines COM_STMT_PREPARE and COM_STMT_EXECUTE(-1) in one write,
// without waiting for the PREPARE's answer. The session reads one command at a time, so the
// EXECUTE is read once the PREPARE's answer was relayed: these tests send both at once.

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** COM_STMT_EXECUTE of `id` with one INT parameter, types sent (new_params_bound_flag = 1). */
function executeOneParam(id: number): Buffer {
  return Buffer.concat([
    Buffer.from([Command.STMT_EXECUTE]),
    u32(id),
    Buffer.from([0]),
    u32(1),
    Buffer.from([0x00, 0x01, 0x03, 0x00]),
    u32(7),
  ]);
}

const prepareOf = (sql: string) => Buffer.concat([Buffer.from([Command.STMT_PREPARE]), Buffer.from(sql)]);

async function loggedIn(): Promise<SessionHarness> {
  const h = new SessionHarness();
  expect((await h.login()).payload[0]).toBe(0x00);
  return h;
}

/** Sends the command payloads in one write (a pipelining client), waits for the session to settle. */
async function pipelined(h: SessionHarness, ...payloads: Buffer[]) {
  h.client.sendRaw(Buffer.concat(payloads.map((p) => packet(0, p))));
  await h.idle();
  return h.client.take();
}

const executes = (h: SessionHarness) => h.server.log.filter((c) => c.command === Command.STMT_EXECUTE);

describe("COM_STMT_EXECUTE with statement id -1", () => {
  test("pipelined behind its PREPARE: runs the statement just prepared", async () => {
    const h = await loggedIn();
    const got = await pipelined(
      h,
      prepareOf("SELECT c FROM t WHERE id = ?"),
      executeOneParam(LAST_STATEMENT_ID),
    );
    // PREPARE_OK (with the proxy's id), its definitions, then the EXECUTE's result set.
    expect(got[0]!.payload[0]).toBe(0x00);
    expect(got.some((p) => p.payload[0] === 0xff)).toBe(false);
    const ran = executes(h);
    expect(ran).toHaveLength(1);
    // The backend got its own statement id, never -1.
    expect(ran[0]!.payload.readUInt32LE(1)).not.toBe(LAST_STATEMENT_ID);
  });

  test("the PREPARE went to the primary, the EXECUTE (a read) to a replica: prepared there first", async () => {
    const h = await loggedIn();
    await pipelined(h, prepareOf("SELECT c FROM t WHERE id = ?"), executeOneParam(LAST_STATEMENT_ID));
    const prepares = h.server.log.filter((c) => c.command === Command.STMT_PREPARE).map((c) => c.backend);
    const ran = executes(h);
    expect(prepares[0]).toBe("primary");
    expect(ran[0]!.backend).not.toBe("primary");
    expect(prepares).toContain(ran[0]!.backend);
  });

  test("after a failed PREPARE: the server's own 1243, not the previous statement", async () => {
    const h = await loggedIn();
    await pipelined(h, prepareOf("SELECT c FROM t WHERE id = ?"));
    const got = await pipelined(
      h,
      prepareOf("SELECT c FROM nosuch WHERE id = ?"),
      executeOneParam(LAST_STATEMENT_ID),
    );
    expect(errOf(got)?.errno).toBe(1146);
    const second = got.slice(1);
    expect(errOf(second)).toMatchObject({
      errno: 1243,
      sqlState: "HY000",
      message: "Unknown prepared statement handler (4294967295) given to mysqld_stmt_execute",
    });
    expect(executes(h)).toHaveLength(0);
  });

  test("SEND_LONG_DATA, RESET and CLOSE take -1 too; after CLOSE(-1) there is no last statement", async () => {
    const h = await loggedIn();
    const longData = Buffer.concat([
      Buffer.from([Command.STMT_SEND_LONG_DATA]),
      u32(LAST_STATEMENT_ID),
      Buffer.from([0, 0]),
      Buffer.from("abc"),
    ]);
    const got = await pipelined(
      h,
      prepareOf("SELECT c FROM t WHERE id = ?"),
      longData,
      Buffer.concat([Buffer.from([Command.STMT_RESET]), u32(LAST_STATEMENT_ID)]),
      Buffer.concat([Buffer.from([Command.STMT_CLOSE]), u32(LAST_STATEMENT_ID)]),
      executeOneParam(LAST_STATEMENT_ID),
    );
    // PREPARE_OK + 2 definitions (EOFs: the harness client has no DEPRECATE_EOF), RESET's OK, the EXECUTE's ERR.
    const oks = got.filter((p) => p.payload[0] === 0x00);
    expect(oks.length).toBe(2);
    expect(errOf(got.slice(-1))).toMatchObject({ errno: 1243 });
    expect(h.session.stmts.size).toBe(0);
  });

  test("a text query in between does not change the last statement", async () => {
    const h = await loggedIn();
    await pipelined(h, prepareOf("SELECT c FROM t WHERE id = ?"));
    await h.query("SELECT 1");
    const got = await pipelined(h, executeOneParam(LAST_STATEMENT_ID));
    expect(errOf(got)).toBeNull();
    await settle();
  });
});
