import { spawn } from "node:child_process";
import { Duplex, PassThrough, type Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { RwsplitError } from "../errors.js";
import { program } from "./tools.js";

/**
 * Streamed compression: zstd through the `zstd` program (Node 20's zlib has no zstd), gzip with
 * zlib. Both are Duplex streams, so a backup never holds more than a pipe's worth in memory.
 */

export type Compression = "zstd" | "gzip" | "none";

export const EXTENSION: Record<Compression, string> = { zstd: ".zst", gzip: ".gz", none: "" };

/** A `zstd` child as a Duplex: writes go to its stdin, reads come from its stdout. */
function zstdStream(args: string[]): Duplex {
  const child = spawn(program("zstd"), ["-q", "-c", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const d = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.once("close", (code, signal) => {
    if (code !== 0 && !d.destroyed) {
      d.destroy(
        new RwsplitError(
          "BACKUP_FAILED",
          `zstd ${args.join(" ")} exited with ${code ?? signal}: ${stderr.trim()}`,
        ),
      );
    }
  });
  d.once("close", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  return d;
}

export function compressor(c: Compression): Duplex {
  if (c === "zstd") return zstdStream(["-3"]);
  if (c === "gzip") return createGzip({ level: 6 });
  return new PassThrough();
}

export function decompressor(c: Compression): Duplex {
  if (c === "zstd") return zstdStream(["-d"]);
  if (c === "gzip") return createGunzip();
  return new PassThrough();
}

/** Reads a whole (small) stream into a Buffer. */
export async function slurp(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
