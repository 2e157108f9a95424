import type { Logger } from "pino";
import type { Config } from "../config/types.js";
import { HaError } from "../errors.js";
import type { HaOps } from "./manager.js";
import * as ops from "./replication-ops.js";

/** How long a repointed replica's IO thread may take to connect before it is reported. */
const CONNECT_WAIT_MS = 5000;

/**
 * The HaManager's operations: src/ha/replication-ops.ts with this config's accounts and timeouts.
 * `priorityOf`: each backend's failover priority now (a reload may change it); default: this config's.
 */
export function createHaOps(config: Config, logger: Logger, priorityOf?: (name: string) => number): HaOps {
  const { admin, replication } = config.failover;
  if (admin === undefined || replication === undefined)
    throw new HaError("HA_NOT_CONFIGURED", "failover.user is not configured");
  const o: ops.OpsOptions = {
    admin,
    replication,
    timeoutMs: Math.max(config.monitor.timeoutMs, 2000),
    logger: logger.child({ component: "ha-ops" }),
  };
  const priority = new Map(
    [config.backends.primary, ...config.backends.replicas].map((b) => [b.name, b.priority]),
  );
  return {
    async chooseCandidate(replicas) {
      const positions = await Promise.all(replicas.map((r) => ops.readPosition(r, o)));
      return ops.chooseCandidate(positions, priorityOf ?? ((name) => priority.get(name) ?? 0));
    },
    waitApplied: (node, waitMs) => ops.waitApplied(node, { ...o, waitMs }),
    promote: async (node) => {
      await ops.promote(node, o);
    },
    repoint: (node, primary) =>
      ops.repoint(node, primary, { ...o, useGtid: "slave_pos", waitConnectedMs: CONNECT_WAIT_MS }),
    setReadOnly: (node, on) => ops.setReadOnly(node, on, o),
    binlogPos: (node) => ops.binlogPos(node, o),
    waitForGtid: (node, pos, waitMs) => ops.waitForGtid(node, pos, { ...o, waitMs }),
    demote: (node, primary) => ops.demote(node, primary, { ...o, waitConnectedMs: CONNECT_WAIT_MS }),
    checkDiverged: (node, primary) => ops.checkDiverged(node, primary, o),
  };
}
