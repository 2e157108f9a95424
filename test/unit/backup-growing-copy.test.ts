import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { DirDestination } from "../../src/backup/destinations/dir.js";
import { hashPrefix } from "../../src/backup/fanout.js";

// The binlog archive rewrites the newest binlog, longer, on every upload, then its index: a
// restore or a scrub in between reads a copy longer than its index says. The index describes a
// prefix of it (binlogs only grow), and a half-written copy is never visible.

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const chunks = (b: Buffer, n: number) =>
  Readable.from(Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n)));

describe("a growing archived binlog", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("hashPrefix hashes exactly the first N bytes, across chunk boundaries", async () => {
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    for (const n of [0, 1, 999, 1000, 1001, 9_999, 10_000]) {
      expect(await hashPrefix(chunks(data, 1000), n)).toEqual({ sha256: sha(data.subarray(0, n)), bytes: n });
    }
    // A copy shorter than the index: its real length, so the caller sees it is short.
    expect((await hashPrefix(chunks(data, 1000), 20_000)).bytes).toBe(10_000);
  });

  it("hashPrefix fails when the copy cannot be read, instead of waiting", async () => {
    const broken = new Readable({
      read() {
        this.destroy(new Error("connection reset"));
      },
    });
    await expect(hashPrefix(broken, 10)).rejects.toThrow("connection reset");
  });

  it("a directory destination replaces an object whole: a reader sees the old copy or the new, and no temporary file stays", async () => {
    const root = mkdtempSync(join(tmpdir(), "rws-dir-"));
    dirs.push(root);
    const d = new DirDestination("local", root);
    const old = Buffer.alloc(64 * 1024, 1);
    await d.write("binlogs/g/mariadb-bin.000001", Readable.from([old]));
    const longer = Buffer.concat([old, Buffer.alloc(64 * 1024, 2)]);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const body = Readable.from(
      (async function* () {
        yield longer.subarray(0, 1000);
        await gate;
        yield longer.subarray(1000);
      })(),
    );
    const writing = d.write("binlogs/g/mariadb-bin.000001", body);
    await new Promise((r) => setTimeout(r, 20));
    const during = await hashPrefix(await d.read("binlogs/g/mariadb-bin.000001"), Number.MAX_SAFE_INTEGER);
    expect(during).toEqual({ sha256: sha(old), bytes: old.length });
    expect((await d.list("binlogs/")).map((o) => o.key)).toEqual(["binlogs/g/mariadb-bin.000001"]);
    release();
    await writing;
    const after = await hashPrefix(await d.read("binlogs/g/mariadb-bin.000001"), Number.MAX_SAFE_INTEGER);
    expect(after).toEqual({ sha256: sha(longer), bytes: longer.length });
    expect(readdirSync(join(root, "binlogs", "g"))).toEqual(["mariadb-bin.000001"]);
  });
});
