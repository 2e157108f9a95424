import { describe, expect, test } from "vitest";
import { ServerStatus } from "../../../src/protocol/constants/server-status.js";
import { ResponseKind, ResponseScanner } from "../../../src/protocol/response-scanner.js";
import { everyChunking, textRow, Wire } from "../../helpers/wire.js";

// `rows` counts result set rows for the query digests' "rows sent": every row packet of every
// result set of one response, wherever the stream is split, and not the column definitions,
// EOFs, OKs or the packets that continue a row over 16 MiB.

const rows = (n: number) => Array.from({ length: n }, (_, i) => textRow([`v${i}`, i % 2 === 0 ? null : "x"]));

describe("ResponseScanner.rows", () => {
  test.each([false, true])("two result sets (3 + 2 rows), then an OK; deprecateEof %s", (deprecateEof) => {
    const more = ServerStatus.MORE_RESULTS_EXISTS | ServerStatus.AUTOCOMMIT;
    const w = new Wire()
      .resultSet({ columns: 2, rows: rows(3), deprecateEof, status: more })
      .resultSet({ columns: 2, rows: rows(2), deprecateEof, status: more })
      .ok({ status: ServerStatus.AUTOCOMMIT });
    for (const { chunks } of everyChunking(w.bytes())) {
      const s = new ResponseScanner(deprecateEof, { onPacket() {} });
      s.begin(ResponseKind.RESULTSET);
      for (const c of chunks) s.scan(c);
      expect(s.rows).toBe(5);
    }
  });

  test("begin() starts from zero; an OK or ERR alone has none", () => {
    const s = new ResponseScanner(true, { onPacket() {} });
    s.begin(ResponseKind.RESULTSET);
    s.scan(new Wire().resultSet({ columns: 1, rows: rows(4), deprecateEof: true, status: 2 }).bytes());
    expect(s.rows).toBe(4);
    s.begin(ResponseKind.RESULTSET);
    s.scan(new Wire().ok({}).bytes());
    expect(s.rows).toBe(0);
    s.begin(ResponseKind.RESULTSET);
    s.scan(new Wire().err(1146, "42S02", "no such table").bytes());
    expect(s.rows).toBe(0);
  });
});
