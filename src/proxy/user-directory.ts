import { createHash } from "node:crypto";
import type { UserConfig } from "../config/types.js";
import { isNativeHash, parseNativeHash } from "../protocol/auth/native-password.js";
import type { BackendCredentials } from "./backend-connection.js";

export interface ProxyUser {
  name: string;
  /** Plaintext password when configured so; null when only the `*HEX` hash is known. */
  password: string | null;
  /** SHA1(SHA1(password)): what mysql_native_password verification needs. */
  stage2: Buffer;
  /**
   * SHA1(password): known from the start with a plaintext password, learnt at the first
   * successful native login with a hash (the client's token reveals it), needed to log in to
   * backends as this user.
   */
  stage1: Buffer | null;
  defaultSchema: string | null;
}

/** The users clients may log in as (from config), with what each login teaches us. */
export class UserDirectory {
  private readonly users = new Map<string, ProxyUser>();
  /** Users that completed a caching_sha2_password full authentication (the server's "cache"). */
  private readonly sha2Cache = new Set<string>();

  constructor(users: readonly UserConfig[]) {
    for (const u of users) {
      const isHash = isNativeHash(u.password);
      const stage1 = isHash ? null : sha1(Buffer.from(u.password, "utf8"));
      this.users.set(u.name, {
        name: u.name,
        password: isHash ? null : u.password,
        stage2: isHash ? parseNativeHash(u.password) : sha1(stage1!),
        stage1,
        defaultSchema: u.defaultSchema ?? null,
      });
    }
  }

  get(name: string): ProxyUser | undefined {
    return this.users.get(name);
  }

  learnStage1(user: ProxyUser, stage1: Buffer): void {
    if (user.stage1 === null) user.stage1 = Buffer.from(stage1);
  }

  sha2Cached(name: string): boolean {
    return this.sha2Cache.has(name);
  }

  rememberSha2(name: string): void {
    this.sha2Cache.add(name);
  }

  credentials(user: ProxyUser): BackendCredentials {
    return { user: user.name, password: user.password, stage1: user.stage1, stage2: user.stage2 };
  }
}

function sha1(b: Buffer): Buffer {
  return createHash("sha1").update(b).digest();
}
