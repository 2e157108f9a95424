import { Counter, Gauge, type Registry } from "prom-client";

/**
 * The metrics of changing the cluster while it runs (issue #18): reloads, the changes they and
 * the drains made, the config version this instance runs, what waits for a restart, and which
 * backends are drained. Nothing here is on a hot path.
 */

/** A drain as the gauge shows it. */
export interface DrainGauge {
  backend: string;
  state: "draining" | "drained";
}

export class RuntimeMetrics {
  private readonly reloads: Counter;
  private readonly changes: Counter;
  private readonly version: Gauge;
  private readonly restart: Gauge;
  private drainSource: () => readonly DrainGauge[] = () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    this.reloads = new Counter({
      name: "rwsplit_config_reloads_total",
      help: "Config reloads, by trigger (signal: SIGHUP, admin: POST /config/reload or rwsplit reload, fleet: another instance's reload through Redis) and result (ok, invalid: the file has problems and nothing changed, refused, failed).",
      labelNames: ["trigger", "result"],
      registers,
    });
    this.changes = new Counter({
      name: "rwsplit_config_changes_total",
      help: "Changes made to the running proxy, by kind (backend_added, backend_removed, backend_weight, backend_priority, user_added, user_removed, user_changed, setting, drain, undrain) and result (ok, failed).",
      labelNames: ["kind", "result"],
      registers,
    });
    this.version = new Gauge({
      name: "rwsplit_config_version",
      help: "The runtime config version this instance runs: +1 per reload, drain or undrain anywhere in the fleet (shared through Redis), per instance without it.",
      registers,
    });
    this.restart = new Gauge({
      name: "rwsplit_config_restart_pending",
      help: "Keys the config file changed that only a restart applies (listen, tls, monitor, ...): 0 when the file and the running proxy agree.",
      registers,
    });
    const drains = () => this.drainSource();
    new Gauge({
      name: "rwsplit_backend_drain",
      help: "1 per backend taken out of service (rwsplit drain, or removed from the config), by state: draining (statements still finishing) or drained.",
      labelNames: ["backend", "state"],
      registers,
      collect(this: Gauge) {
        this.reset();
        for (const d of drains()) this.set({ backend: d.backend, state: d.state }, 1);
      },
    });
  }

  reload(trigger: "signal" | "admin" | "fleet", result: "ok" | "invalid" | "refused" | "failed"): void {
    this.reloads.inc({ trigger, result });
  }

  change(kind: string, ok: boolean): void {
    this.changes.inc({ kind: kind.replaceAll("-", "_"), result: ok ? "ok" : "failed" });
  }

  setVersion(version: number): void {
    this.version.set(version);
  }

  setRestartPending(keys: number): void {
    this.restart.set(keys);
  }

  /** Where `rwsplit_backend_drain` is read from at each scrape. */
  watchDrains(source: () => readonly DrainGauge[]): void {
    this.drainSource = source;
  }
}
