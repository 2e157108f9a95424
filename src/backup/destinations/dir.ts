import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { assertSafeKey, type Destination, NotFound, type StoredObject } from "./destination.js";

/**
 * A local or mounted directory (NFS, a second disk). Every object is written to a temporary name
 * and renamed, so a reader sees a whole old copy or a whole new one, never a half-written file:
 * a manifest is there whole or not at all, and an archived binlog that grows (it is rewritten,
 * longer, on every upload) can be read while the archive rewrites it. Small objects are fsynced
 * before the rename.
 */
export class DirDestination implements Destination {
  readonly type = "dir" as const;
  readonly where: string;

  constructor(
    readonly name: string,
    private readonly root: string,
  ) {
    this.where = `dir ${root}`;
  }

  private path(key: string): string {
    assertSafeKey(key);
    return join(this.root, ...key.split("/"));
  }

  async write(key: string, body: Readable): Promise<number> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempName(path);
    const out = createWriteStream(tmp);
    try {
      await pipeline(body, out);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return out.bytesWritten;
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempName(path);
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  }

  async read(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFound(key, this.where);
      throw e;
    }
    return createReadStream(path);
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const base = this.path(prefix.replace(/\/$/, ""));
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
        throw e;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && !e.name.endsWith(".tmp")) {
          const key = relative(this.root, p).split(sep).join("/");
          out.push({ key, bytes: (await stat(p)).size });
        }
      }
    };
    await walk(base);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async remove(keys: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const k of keys) {
      const p = this.path(k);
      await rm(p, { force: true });
      dirs.add(dirname(p));
    }
    // Empty backup directories go too, so a listing does not show ghosts.
    for (const d of dirs) {
      try {
        if ((await readdir(d)).length === 0) await rmdir(d);
      } catch {
        // Gone already, or not empty: either way nothing to do.
      }
    }
  }

  close(): void {}
}

let temps = 0;
/** Unique per process and write: two uploads of the same key never share a temporary file. */
function tempName(path: string): string {
  temps += 1;
  return `${path}.${process.pid}.${temps}.tmp`;
}
