import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

/**
 * A real S3-compatible server per test file: s3rver (the npm package), in this process, on a
 * port the OS picked, storing in a temp dir that is always removed. It speaks the S3 REST API
 * the AWS SDK v3 uses, multipart uploads included:
 *
 *   await using s3 = await startS3();   // s3.endpoint, s3.bucket; closed at the end of the scope
 */

// Node 20.4+ defines it; older runtimes need it for `await using` to find the disposer.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for("Symbol.asyncDispose");

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** s3rver's default credentials (it checks signatures against them). */
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startS3(bucket = "rwsplit-backups"): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), "rws-s3-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  let addr: { port: number };
  try {
    addr = (await server.run()) as unknown as { port: number };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    bucket,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
