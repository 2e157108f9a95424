/**
 * The stale-read phase: one replica held behind (MASTER_DELAY), the same write/read-back load
 * (loadgen/lag.ts) through each lag policy in turn:
 *   direct            every read on the primary: the reference, never stale;
 *   lag-weighted      rwsplit's own policy (heartbeat lag in ms, weight falling between lag.soft and
 *                     lag.max), routing.consistency=eventual so the lag handling is what is compared;
 *                     with the default lag.max (3 s) and with the fixed policy's 1 s;
 *   fixed threshold   rwsplit configured like ProxySQL's max_replication_lag: Seconds_Behind_Master,
 *                     out above 1 s, back at once, full weight in between; also eventual;
 *   session           rwsplit's default config with routing.consistency=session (read-your-writes
 *                     within a session; the default is now user, across a user's connections);
 *   haproxy           round robin over the replicas, no lag awareness (writes go to the primary).
 *
 * The policy proxies start after the delay is in place (CHANGE MASTER needs STOP SLAVE, and a
 * monitor check that caught the replica stopped would exclude it, after which the hysteresis keeps
 * a replica lagging 2 s out for good: the result would depend on that timing).
 */
import type { ChildProcess } from "node:child_process";
import type { SandboxInfo } from "../src/sandbox/cluster.js";
import { holdReplicaBehind as delayLine } from "../src/sandbox/delay-line.js";
import type { Endpoint } from "./loadgen/common.js";
import { holdReplicaBehind, prepareLagTable, staleReads } from "./loadgen/lag.js";
import { ProcessWatch } from "./proc.js";
import { holdTitle, type LagHold, type LagSection, type ReplicaView } from "./report.js";
import type { Step } from "./steps.js";
import { type HaproxyTarget, type RwsplitTarget, startRwsplit, stopAll } from "./targets.js";

export interface LagPhaseOptions {
  sb: SandboxInfo;
  haproxy: HaproxyTarget;
  /** An endpoint for the application user, or `as` root. */
  endpoint: (host: string, port: number, as?: "root") => Endpoint;
  track: (c: ChildProcess) => void;
  /** Undo actions the caller runs on the way out (the replica's delay). */
  cleanups: (() => Promise<void>)[];
  clkTck: number;
  hold: LagHold;
  seconds: number;
  writers: number;
  readers: number;
}

const EVENTUAL = { RWSPLIT__ROUTING__CONSISTENCY: "eventual" };
// rwsplit's own policy with the fixed policy's 1 s threshold: heartbeat lag in ms against
// Seconds_Behind_Master in whole seconds, at the same limit.
const TIGHT = {
  ...EVENTUAL,
  RWSPLIT__LAG__SOFT: "500ms",
  RWSPLIT__LAG__MAX: "1000ms",
  RWSPLIT__LAG__READMIT_BELOW: "1000ms",
};
// ProxySQL's max_replication_lag: one threshold on Seconds_Behind_Master, out above it, back at
// or below it, full weight in between. The schema wants lag.soft < lag.max, hence 1000/1001 ms.
const FIXED = {
  ...EVENTUAL,
  RWSPLIT__MONITOR__HEARTBEAT__ENABLED: "false",
  RWSPLIT__LAG__SOFT: "1000ms",
  RWSPLIT__LAG__MAX: "1001ms",
  RWSPLIT__LAG__READMIT_BELOW: "1001ms",
  RWSPLIT__LAG__READMIT_CHECKS: "1",
};

const show = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(" ");

interface Policy {
  policy: string;
  setup: string;
  /** rwsplit overrides, or null for a target that is not an rwsplit process. */
  rwsplit: Record<string, string> | null;
}

const POLICIES: Policy[] = [
  {
    policy: "direct (primary only)",
    setup: "every read on the primary: the reference, never stale",
    rwsplit: null,
  },
  {
    policy: "rwsplit lag-weighted, eventual",
    setup: `heartbeat lag in ms, default lag.soft 500ms / lag.max 3000ms; ${show(EVENTUAL)}`,
    rwsplit: EVENTUAL,
  },
  {
    policy: "rwsplit lag-weighted, lag.max 1 s, eventual",
    setup: `the same threshold as the fixed policy, measured by the heartbeat: ${show(TIGHT)}`,
    rwsplit: TIGHT,
  },
  {
    policy: "fixed threshold 1 s (ProxySQL-like), eventual",
    setup: `Seconds_Behind_Master, out above 1 s, back at once: ${show(FIXED)}`,
    rwsplit: FIXED,
  },
  {
    policy: "rwsplit lag-weighted, session",
    setup: "the default config but routing.consistency=session (read-your-writes within a session)",
    rwsplit: { RWSPLIT__ROUTING__CONSISTENCY: "session" },
  },
  {
    policy: "haproxy round robin",
    setup: "writes to the primary directly, reads through HAProxy `balance roundrobin` over both replicas",
    rwsplit: null,
  },
];

/** The phase's steps; results go into `section.runs`. */
export function lagSteps(o: LagPhaseOptions): { section: LagSection; steps: Step[] } {
  const { sb } = o;
  const delayed = sb.replicas[sb.replicas.length - 1]!;
  const delayedName = `${delayed.host}:${delayed.port}`;
  const primary = o.endpoint(sb.primary.host, sb.primary.port);
  const section: LagSection = {
    hold: o.hold,
    delayedReplica: delayedName,
    // The sandbox numbers server_id 1 (primary), 2, 3, ... in order.
    delayedServerId: sb.replicas.length + 1,
    runs: [],
  };
  const proxies = new Map<Policy, RwsplitTarget>();
  let undo: (() => Promise<void>) | null = null;
  const restore = async () => {
    const u = undo;
    undo = null;
    await u?.();
  };
  o.cleanups.push(restore);

  const setUp = async () => {
    await prepareLagTable(primary, o.writers);
    if (o.hold.kind === "master_delay") {
      undo = await holdReplicaBehind(o.endpoint(delayed.host, delayed.port, "root"), o.hold.delayMs / 1000);
    } else {
      const held = await delayLine(sb.primary, delayed, o.hold.delayMs);
      undo = () => held.release();
    }
    const started = await Promise.all(
      POLICIES.filter((p) => p.rwsplit !== null).map(
        async (p, i) =>
          // A policy may exclude the delayed replica from its first check on.
          [
            p,
            await startRwsplit(`rwsplit-lag-${o.hold.kind}-${i}`, sb, o.track, p.rwsplit!, {
              excludedReplicasOk: true,
            }),
          ] as const,
      ),
    );
    for (const [p, t] of started) proxies.set(p, t);
  };

  const steps = POLICIES.map(
    (p, i): Step => ({
      label: `stale reads, replica ${holdTitle(o.hold)}`,
      target: p.policy,
      run: async (progress) => {
        if (i === 0) await setUp();
        const rw = proxies.get(p) ?? null;
        const ep = rw === null ? null : o.endpoint(rw.host, rw.port);
        const read = p.policy.startsWith("haproxy")
          ? o.endpoint(o.haproxy.host, o.haproxy.replicasPort)
          : (ep ?? primary);
        // The heartbeat shows the delay within a second of starting; Seconds_Behind_Master only
        // once writes flow, which is part of what is measured.
        if (rw !== null && p.rwsplit?.RWSPLIT__MONITOR__HEARTBEAT__ENABLED !== "false") {
          await waitLagSeen(rw.adminPort, delayedName, o.hold.delayMs * 0.8);
        }
        const watch = rw === null ? null : new ProcessWatch(rw.pid, o.clkTck);
        const view = rw === null ? null : new ReplicaViewSampler(rw.adminPort, delayedName);
        const exclusions0 = rw === null ? 0 : await exclusionsOf(rw.adminPort, delayedName);
        const result = await staleReads({
          primary,
          write: ep ?? primary,
          read,
          sameSession: !p.policy.startsWith("haproxy"),
          writers: o.writers,
          readers: o.readers,
          durationMs: o.seconds * 1000,
          onProgress: progress,
        });
        const proxy = watch?.stop() ?? null;
        let replicaView: ReplicaView | null = null;
        if (rw !== null && view !== null) {
          replicaView = {
            samples: view.stop(),
            exclusions: (await exclusionsOf(rw.adminPort, delayedName)) - exclusions0,
          };
          await stopAll([rw.child]);
        }
        section.runs.push({ policy: p.policy, setup: p.setup, result, proxy, replicaView });
        if (i === POLICIES.length - 1) await restore();
      },
    }),
  );
  return { section, steps };
}

interface BackendView {
  name: string;
  lagMs: number | null;
  effectiveWeight: number;
  eligible: boolean;
}

async function backendView(adminPort: number, name: string): Promise<BackendView | null> {
  const body = (await (await fetch(`http://127.0.0.1:${adminPort}/backends`)).json()) as {
    backends: BackendView[];
  };
  return body.backends.find((b) => b.name === name) ?? null;
}

/**
 * Waits until the proxy's monitor sees the delayed replica more than `ms` behind. Gives up quietly
 * after 10 s: the run records what the proxy saw either way.
 */
async function waitLagSeen(adminPort: number, name: string, ms: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const v = await backendView(adminPort, name).catch(() => null);
    if ((v?.lagMs ?? 0) > ms) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `/backends` for one replica: lag, effective weight and eligibility as the proxy saw them. */
class ReplicaViewSampler {
  private readonly t0 = Date.now();
  private readonly samples: ReplicaView["samples"] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(adminPort: number, name: string) {
    this.timer = setInterval(() => {
      backendView(adminPort, name)
        .then((v) => {
          if (v !== null) this.samples.push([Date.now() - this.t0, v.lagMs, v.effectiveWeight, v.eligible]);
        })
        .catch(() => {});
    }, 250);
  }

  stop(): ReplicaView["samples"] {
    clearInterval(this.timer);
    return this.samples;
  }
}

/** rwsplit_balancer_transitions_total{backend=name,to="excluded"} from /metrics. */
async function exclusionsOf(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text
    .split("\n")
    .find(
      (l) =>
        l.startsWith("rwsplit_balancer_transitions_total{") &&
        l.includes(`backend="${name}"`) &&
        l.includes('to="excluded"'),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}
