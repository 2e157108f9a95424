import { type AcquireRequest, BackendPool, poolKeyString } from "../../src/proxy/backend-pool.js";
import { ScriptedServer } from "./scripted-backend.js";

/** What a session of `user` leases with (no schema, the usual wire flags and collation). */
export function poolRequest(user: string): AcquireRequest {
  const key = { user, wireFlags: 0, mariadbFlags: 0, collation: 45, globals: 0 };
  return {
    key,
    keyString: poolKeyString(key),
    credentials: { user, password: "pw", stage1: null, stage2: null },
    schema: null,
  };
}

/** A pool over a scripted backend (test/helpers/scripted-backend.ts), at most `maxPerBackend` per user. */
export function scriptedPool(maxPerBackend: number): BackendPool {
  return new BackendPool(
    { name: "r1", host: "127.0.0.1", port: 1 },
    {
      maxPerBackend,
      connectTimeoutMs: 1000,
      idleTimeoutMs: 60_000,
      pingAfterIdleMs: 5000,
      acquireTimeoutMs: 1000,
    },
    new ScriptedServer().connector,
  );
}
