import type { Logger } from "pino";
import type { Config } from "./config/types.js";
import { Monitor } from "./monitor/monitor.js";
import type { BackendObservation } from "./monitor/types.js";
import { linearLagPolicy, MonitoredPicker } from "./proxy/monitored-picker.js";
import { ProxyServer } from "./proxy/server.js";
import { buildTlsContext } from "./proxy/tls-context.js";
import { loadTlsMaterial } from "./proxy/tls-material.js";
import { Upstreams } from "./proxy/upstreams.js";

/** A running rwsplit: the proxy and, around it, the monitor and what serves ops. */
export interface Rwsplit {
  proxy: ProxyServer;
  monitor: Monitor;
  /** Where clients connect (the real port when the config asked for 0). */
  listen: { host: string; port: number };
  /** Latest observation per backend name. */
  observations(): ReadonlyMap<string, BackendObservation>;
  /** Drains (stop accepting, let statements finish up to drainTimeoutMs) and stops everything. */
  stop(): Promise<void>;
}

/** The composition root: builds every component from the config and starts them. */
export async function startRwsplit(config: Config, logger: Logger): Promise<Rwsplit> {
  const tls = config.tls.enabled ? buildTlsContext(await loadTlsMaterial(config.tls)) : null;
  const latest = new Map<string, BackendObservation>();
  const monitor = new Monitor(
    { backends: config.backends, monitor: config.monitor },
    { logger, onObservation: (o) => latest.set(o.name, o) },
  );
  const upstreams = new Upstreams(config);
  upstreams.picker = new MonitoredPicker(upstreams.replicas, () => latest, linearLagPolicy(config));
  const proxy = new ProxyServer({ config, logger, tls, upstreams });
  monitor.start();
  let listen: { host: string; port: number };
  try {
    listen = await proxy.start();
  } catch (e) {
    await monitor.stop();
    throw e;
  }
  return {
    proxy,
    monitor,
    listen,
    observations: () => latest,
    async stop() {
      await proxy.drain(config.drainTimeoutMs);
      await monitor.stop();
    },
  };
}
