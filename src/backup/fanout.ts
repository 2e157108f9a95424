import { createHash } from "node:crypto";
import { PassThrough, type Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RwsplitError } from "../errors.js";

/**
 * One stream to several destinations at once, hashed on the way (SHA-256 of the bytes as
 * stored). A destination that fails (a full disk, an unreachable store) is dropped and the others
 * go on: one bad store must not cost the backup its other copies. Backpressure follows the
 * slowest live destination. Only when every destination failed does the whole write fail.
 */

export interface BranchResult {
  name: string;
  /** Null when this destination took every byte. */
  error: Error | null;
}

export interface FanoutResult {
  sha256: string;
  bytes: number;
  branches: BranchResult[];
}

interface Branch {
  name: string;
  stream: PassThrough;
  done: Promise<void>;
  error: Error | null;
}

export async function fanout(
  source: Readable,
  targets: readonly { name: string; write: (body: Readable) => Promise<unknown> }[],
  onBytes: (n: number) => void = () => {},
): Promise<FanoutResult> {
  const hash = createHash("sha256");
  let bytes = 0;
  const branches: Branch[] = targets.map((t) => {
    const stream = new PassThrough({ highWaterMark: 1 << 20 });
    // Failures are collected through `done`; a late 'error' with no consumer left must not throw.
    stream.on("error", () => {});
    const b: Branch = { name: t.name, stream, error: null, done: Promise.resolve() };
    b.done = t.write(stream).then(
      () => {},
      (e: unknown) => {
        b.error = e instanceof Error ? e : new RwsplitError("BACKUP_FAILED", String(e));
        stream.destroy();
      },
    );
    return b;
  });
  const live = () => branches.filter((b) => b.error === null && !b.stream.destroyed);

  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes(chunk.length);
      const waits: Promise<void>[] = [];
      for (const b of live()) {
        if (!b.stream.write(chunk)) {
          // Drained, or failed (destroyed: 'close'): either way this branch no longer holds us up.
          waits.push(
            new Promise((resolve) => {
              const done = () => {
                b.stream.off("drain", done);
                b.stream.off("close", done);
                resolve();
              };
              b.stream.on("drain", done);
              b.stream.on("close", done);
            }),
          );
        }
      }
      if (live().length === 0) {
        callback(
          new RwsplitError(
            "BACKUP_FAILED",
            `every destination failed: ${branches.map((b) => `${b.name}: ${b.error?.message}`).join("; ")}`,
          ),
        );
        return;
      }
      Promise.all(waits).then(() => callback(), callback);
    },
    final(callback) {
      for (const b of live()) b.stream.end();
      callback();
    },
  });
  try {
    await pipeline(source, sink);
  } catch (e) {
    // The source failed (the tool died, a compressor error): no destination gets a complete file.
    for (const b of branches) {
      if (b.error === null) b.error = e instanceof Error ? e : new RwsplitError("BACKUP_FAILED", String(e));
      b.stream.destroy(b.error);
    }
    await Promise.all(branches.map((b) => b.done));
    throw e;
  }
  await Promise.all(branches.map((b) => b.done));
  return {
    sha256: hash.digest("hex"),
    bytes,
    branches: branches.map((b) => ({ name: b.name, error: b.error })),
  };
}

/** SHA-256 and length of a stream (a copy read back from a destination). */
export async function hashStream(r: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of r) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** The first `limit` bytes of a stream; the rest is read and dropped. */
export function prefix(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const room = limit - seen;
      seen += chunk.length;
      done(null, room <= 0 ? undefined : room >= chunk.length ? chunk : chunk.subarray(0, room));
    },
  });
}

/** SHA-256 and length of a stream's first `limit` bytes (fewer when it is shorter). */
export async function hashPrefix(r: Readable, limit: number): Promise<{ sha256: string; bytes: number }> {
  const head = prefix(limit);
  const [, got] = await Promise.all([pipeline(r, head), hashStream(head)]);
  return got;
}
