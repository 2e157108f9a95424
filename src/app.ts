import type { Logger } from "pino";
import type { Config } from "./config/types.js";
import { ProxyServer } from "./proxy/server.js";
import { buildTlsContext } from "./proxy/tls-context.js";
import { loadTlsMaterial } from "./proxy/tls-material.js";

/** A running rwsplit: the proxy and, around it, whatever serves ops. */
export interface Rwsplit {
  proxy: ProxyServer;
  /** Where clients connect (the real port when the config asked for 0). */
  listen: { host: string; port: number };
  /** Drains (stop accepting, let statements finish up to drainTimeoutMs) and stops everything. */
  stop(): Promise<void>;
}

/** The composition root: builds every component from the config and starts them. */
export async function startRwsplit(config: Config, logger: Logger): Promise<Rwsplit> {
  const tls = config.tls.enabled ? buildTlsContext(await loadTlsMaterial(config.tls)) : null;
  const proxy = new ProxyServer({ config, logger, tls });
  const listen = await proxy.start();
  return {
    proxy,
    listen,
    async stop() {
      await proxy.drain(config.drainTimeoutMs);
    },
  };
}
