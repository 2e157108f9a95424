import { type Readable, Transform } from "node:stream";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { BackupDestinationConfig } from "../../config/types.js";
import { assertSafeKey, type Destination, NotFound, type StoredObject } from "./destination.js";

type S3Config = Extract<BackupDestinationConfig, { type: "s3" }>;

/** 8 MiB parts, 2 in flight: a multipart upload of a stream holds at most ~16 MiB in memory. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;

function notFound(e: unknown): boolean {
  return (
    e instanceof NoSuchKey ||
    (e instanceof S3ServiceException && (e.name === "NoSuchKey" || e.$metadata.httpStatusCode === 404))
  );
}

/**
 * An S3-compatible object store (AWS, MinIO, Ceph RGW, s3rver in the tests). Streams go up as
 * multipart uploads (`@aws-sdk/lib-storage`): a stream that fails midway aborts its upload, and
 * an object becomes visible only when CompleteMultipartUpload succeeds, so a partial upload is
 * never listed. Credentials come from the config or the SDK's default chain (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles).
 */
export class S3Destination implements Destination {
  readonly type = "s3" as const;
  readonly name: string;
  readonly where: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(c: S3Config) {
    // The SDK warns on every process start that its 2027 releases need Node 22; rwsplit pins its
    // version, so the warning only adds noise to every CLI run.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    this.name = c.name;
    this.bucket = c.bucket;
    this.prefix = c.prefix;
    this.where = `s3://${c.bucket}/${c.prefix}${c.endpoint ? ` at ${c.endpoint}` : ""}`;
    this.client = new S3Client({
      region: c.region,
      forcePathStyle: c.forcePathStyle,
      // A store that is down should fail a backup in seconds, not after the SDK's long retries.
      maxAttempts: 3,
      ...(c.endpoint === undefined ? {} : { endpoint: c.endpoint }),
      ...(c.accessKeyId !== undefined && c.secretAccessKey !== undefined
        ? { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } }
        : {}),
    });
  }

  private key(key: string): string {
    assertSafeKey(key);
    return `${this.prefix}${key}`;
  }

  async write(key: string, body: Readable): Promise<number> {
    let bytes = 0;
    // Counting in a Transform, not with a 'data' listener (that would switch `body` to flowing
    // mode before the upload reads it).
    const counted = body.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          bytes += chunk.length;
          done(null, chunk);
        },
      }),
    );
    body.once("error", (e) => counted.destroy(e));
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: counted },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    await upload.done();
    return bytes;
  }

  async put(key: string, data: Buffer | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: data }));
  }

  async read(key: string): Promise<Readable> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return r.Body as Readable;
    } catch (e) {
      if (notFound(e)) throw new NotFound(key, this.where);
      throw e;
    }
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      const body = await this.read(key);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    } catch (e) {
      if (e instanceof NotFound) return null;
      throw e;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.key(prefix.replace(/\/$/, "")) + (prefix.endsWith("/") ? "/" : ""),
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const o of r.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key.slice(this.prefix.length), bytes: o.Size ?? 0 });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async remove(keys: readonly string[]): Promise<void> {
    // DeleteObjects takes at most 1000 keys per request.
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => ({ Key: this.key(k) }));
      await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }),
      );
    }
  }

  close(): void {
    this.client.destroy();
  }
}
