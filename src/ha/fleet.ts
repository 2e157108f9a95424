import type { Logger } from "pino";
import type { Coordinator } from "./coordinator.js";
import { LocalCoordinator } from "./local-coordinator.js";

/**
 * Fleet coordination for automatic failover (issue #8): several rwsplit instances in front of one
 * cluster agree, through Redis, on who is primary; exactly one of them (the failover lease holder)
 * promotes, and the others follow its published record within a second. Without Redis an
 * instance coordinates with itself (`LocalCoordinator`).
 *
 *   coordinator.ts        the Coordinator contract
 *   topology-record.ts    TopologyRecord, Lease, their validation
 *   topology-state.ts     the local copy: adopt only newer generations, notify listeners
 *   local-coordinator.ts  in-process implementation
 *   redis-coordinator.ts  Redis implementation (lease + fencing token + pub/sub + poll)
 *   lua-scripts.ts        the atomic checks it runs in Redis
 */

export type { Coordinator, CoordinatorHealth } from "./coordinator.js";
export { defaultInstanceId } from "./coordinator.js";
export { LocalCoordinator, type LocalCoordinatorOptions } from "./local-coordinator.js";
// Not RedisCoordinator itself: importing it loads ioredis, which an instance without redis.url
// never needs (import it from ./redis-coordinator.js).
export type { RedisCoordinatorOptions } from "./redis-coordinator.js";
export {
  type Lease,
  parseTopologyJson,
  parseTopologyRecord,
  type TopologyProposal,
  type TopologyRecord,
  topologyRecordSchema,
} from "./topology-record.js";

/**
 * A Redis coordinator when `redis` is configured (config `redis.url`), else a local one; the Redis
 * code (and ioredis) is loaded only in the first case.
 */
export async function createCoordinator(
  redis: { url: string } | undefined,
  opts: { instanceId?: string; logger?: Logger; opTimeoutMs?: number; keyPrefix?: string } = {},
): Promise<Coordinator> {
  if (redis === undefined) return new LocalCoordinator(opts);
  const { RedisCoordinator } = await import("./redis-coordinator.js");
  return new RedisCoordinator({ ...opts, url: redis.url });
}
