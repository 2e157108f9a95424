import type { Logger } from "pino";
import { Cluster } from "../cluster/cluster.js";
import { RuntimeControl } from "../cluster/reload.js";
import type { Config } from "../config/types.js";
import { buildDataPath } from "../data-path.js";
import { DigestStore } from "../digests/store.js";
import { EventFeed } from "../events/feed.js";
import type { TopologyView } from "../ha/topology-view.js";
import { DATA_PATH_FAMILIES, Metrics } from "../metrics/registry.js";
import { killForPeer } from "../proxy/commands/kill.js";
import type { SessionPeers } from "../proxy/context.js";
import { FollowerRuntimeStore } from "./follower-store.js";
import { IpcUserWriteLog } from "./ipc-user-writes.js";
import {
  type FromWorker,
  isOurs,
  type PoolCounts,
  STATS_PERIOD_MS,
  TAG,
  type ToWorker,
  type WorkerQuery,
} from "./messages.js";
import { PendingRequests } from "./rpc.js";

/** How often a worker reports its primary work while writes are held (a topology change waits on it). */
const HELD_REPORT_MS = 10;
/** A KILL looked up in the other workers: they answer at once or are gone. */
const PEER_KILL_TIMEOUT_MS = 5000;

/** Environment the supervisor gives each worker process (pool.ts). */
export const WORKER_SLOT_ENV = "RWSPLIT_WORKER";
export const WORKER_INCARNATION_ENV = "RWSPLIT_WORKER_INCARNATION";

/** Connection ids per worker incarnation: worker k's ids start at k × this, so no two workers share one. */
export const IDS_PER_INCARNATION = 2 ** 24;

type Init = Extract<ToWorker, { k: "init" }>;

function send(m: FromWorker): boolean {
  if (process.send === undefined || !process.connected) return false;
  return process.send(m);
}

/**
 * A worker process of `serve --workers N`: serves client connections on the shared listen port
 * over its own pools and balancer, with what decides routing (observations, topology, held
 * writes, runtime records) coming from the supervisor (pool.ts) as it happens. It monitors
 * nothing, runs no HA, no admin app and no backups: those run once, in the supervisor. Resolves
 * once listening; the process exits when the supervisor says drain or goes away.
 */
export async function runWorker(
  config: Config,
  root: Logger,
  source?: { file: string; load(): Config },
): Promise<void> {
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? "0");
  const incarnation = Number(process.env[WORKER_INCARNATION_ENV] ?? "1");
  const logger = root.child({ worker: slot });
  const init = await new Promise<Init>((resolve) => {
    const first = (m: unknown) => {
      if (!isOurs(m) || (m as ToWorker).k !== "init") return;
      process.off("message", first);
      resolve(m as Init);
    };
    process.on("message", first);
    // Asked for once listening: a message sent before a listener exists is lost.
    send({ t: TAG, k: "hello" });
  });
  const metrics = new Metrics();
  const digests = new DigestStore(config.digests.max);
  const events = new EventFeed();
  const cluster = new Cluster({ config, logger, metrics, events, follower: true });
  let topology: TopologyView = init.topology;
  cluster.applyTopology(topology);
  for (const o of init.observations) cluster.observe(o);
  if (init.writesHeld) cluster.upstreams.holdWrites();
  const requests = new PendingRequests();
  const peers: SessionPeers = {
    kill: (stmt, issuer) =>
      requests
        .request<{ error: null } | null>(
          (id) => send({ t: TAG, k: "req", id, q: { op: "kill", stmt, issuer } }),
          PEER_KILL_TIMEOUT_MS,
          "KILL in another worker",
        )
        .catch(() => null),
  };
  const routing = config.routing;
  const ipcWrites =
    routing.consistency === "user" && config.redis === undefined
      ? new IpcUserWriteLog(routing.consistencyWindowMs, (writes, ttlMs) =>
          send({ t: TAG, k: "user-writes", writes, ttlMs }),
        )
      : undefined;
  const { proxy, kinds, userWrites } = await buildDataPath({
    config,
    logger,
    cluster,
    metrics,
    digests,
    onBackendFailure: (backend) => send({ t: TAG, k: "backend-failure", backend }),
    ...(ipcWrites === undefined ? {} : { userWrites: ipcWrites }),
    firstConnectionId: (incarnation % 255) * IDS_PER_INCARNATION + 1,
    ...(init.tls === null ? {} : { tlsPem: init.tls }),
    peers,
  });
  const store = new FollowerRuntimeStore(`worker-${slot}`, init.record);
  const runtime = new RuntimeControl({
    config,
    load: source === undefined ? null : () => source.load(),
    file: source?.file ?? null,
    targets: {
      cluster,
      proxy,
      ha: { setConfig() {}, topology: () => topology },
      logger,
    },
    store,
    metrics,
    events,
  });
  await runtime.start();

  let heldTimer: NodeJS.Timeout | null = null;
  const reportPrimaryWork = () => send({ t: TAG, k: "primary-work", n: proxy.primaryWork() });
  const hold = () => {
    cluster.upstreams.holdWrites();
    reportPrimaryWork();
    heldTimer ??= setInterval(reportPrimaryWork, HELD_REPORT_MS);
  };
  const release = () => {
    cluster.upstreams.releaseWrites();
    if (heldTimer !== null) clearInterval(heldTimer);
    heldTimer = null;
  };
  if (init.writesHeld) hold();

  let statsTimer: NodeJS.Timeout | null = null;
  let draining = false;
  const drain = async (timeoutMs: number) => {
    if (draining) return;
    draining = true;
    if (statsTimer !== null) clearInterval(statsTimer);
    await proxy.drain(timeoutMs);
    await runtime.stop();
    await userWrites?.stop();
    process.exit(0);
  };

  const answer = async (q: WorkerQuery): Promise<unknown> => {
    switch (q.op) {
      case "sessions":
        return proxy.sessionsInfo().map((s) => ({ ...s, worker: slot, pid: process.pid }));
      case "metrics":
        return (await metrics.registry.getMetricsAsJSON()).filter(
          (m) => DATA_PATH_FAMILIES.has(m.name) || !m.name.startsWith("rwsplit_"),
        );
      case "digests":
        return digests.list(q.sort, q.limit, true);
      case "digests-reset":
        digests.reset();
        return true;
      case "kill":
        return killForPeer(proxy.context, q.stmt, q.issuer);
    }
  };

  process.on("message", (raw: unknown) => {
    if (!isOurs(raw)) return;
    const m = raw as ToWorker;
    switch (m.k) {
      case "observation":
        cluster.observe(m.o);
        break;
      case "topology":
        topology = m.topology;
        cluster.applyTopology(m.topology);
        break;
      case "hold":
        hold();
        break;
      case "release":
        release();
        break;
      case "record":
        store.receive(m.record);
        break;
      case "user-writes":
        for (const [user, position] of m.writes) ipcWrites?.learn(user, position, m.ttlMs);
        break;
      case "drain":
        void drain(m.timeoutMs);
        break;
      case "req":
        answer(m.q).then(
          (value) => send({ t: TAG, k: "res", id: m.id, ok: true, value }),
          (e: unknown) => send({ t: TAG, k: "res", id: m.id, ok: false, error: (e as Error).message }),
        );
        break;
      case "res":
        requests.answer(m.id, m.ok, m.value, m.error);
        break;
      case "init":
        break;
    }
  });
  // The supervisor is gone (killed): nobody feeds this worker topology or holds writes any more.
  process.on("disconnect", () => {
    requests.failAll("the supervisor is gone");
    logger.error("the supervising process is gone: draining and exiting");
    void drain(Math.min(config.drainTimeoutMs, 2000));
  });
  // Signals go to the supervisor, which drains every worker (a terminal's Ctrl-C reaches all).
  process.on("SIGINT", () => {});
  process.on("SIGHUP", () => {});
  process.on("SIGTERM", () => void drain(config.drainTimeoutMs));

  const listen = await proxy.start();
  statsTimer = setInterval(() => {
    const pools: Record<string, PoolCounts> = {};
    const inFlight = new Map(cluster.balancer.snapshot().map((b) => [b.name, b.inFlight]));
    for (const [name, pool] of cluster.upstreams.pools) {
      const st = pool.stats();
      pools[name] = {
        open: st.open,
        idle: st.idle,
        busy: st.busy,
        waiting: st.waiting,
        inFlight: inFlight.get(name) ?? st.busy,
      };
    }
    send({
      t: TAG,
      k: "stats",
      stats: {
        pools,
        kinds,
        clients: metrics.clientConnections,
        queries: metrics.queryTotals(),
        errors: metrics.errorTotals(),
        userWrites: userWrites?.status() ?? null,
        primaryWork: proxy.primaryWork(),
      },
    });
  }, STATS_PERIOD_MS);
  statsTimer.unref();
  send({ t: TAG, k: "ready", listen });
  logger.info({ pid: process.pid, slot, incarnation }, "worker serving");
}
