import { createHash } from "node:crypto";
import type { Logger } from "pino";
import {
  type ConfigChange,
  describeChange,
  describeRestart,
  diffConfig,
  type RestartNeeded,
  refusedChanges,
} from "../config/diff.js";
import { ConfigError, type ConfigProblem } from "../config/load.js";
import type { Config } from "../config/types.js";
import { RuntimeChangeError } from "../errors.js";
import type { EventFeed } from "../events/feed.js";
import type { Metrics } from "../metrics/registry.js";
import type { UserDirectory } from "../proxy/user-directory.js";
import type { Cluster } from "./cluster.js";
import type { DrainState } from "./drain.js";
import type { RuntimeOp, RuntimeRecord } from "./runtime-record.js";
import type { RuntimeStore } from "./runtime-store.js";

/**
 * Changing the cluster without a restart (issue #18): reloads of the config file (SIGHUP,
 * `POST /config/reload`, `rwsplit reload`), maintenance drains (`POST /backends/NAME/drain`,
 * `rwsplit drain`), and the same changes made by another instance of the fleet.
 *
 * A reload reads the file, validates it whole (a bad file changes nothing; its problems are
 * answered and logged per key, as `check-config` prints them), refuses what the running topology
 * forbids (removing the primary), computes the difference (src/config/diff.ts) and applies it,
 * each change in `apply` below. Every reload, drain and undrain is logged once, with who asked,
 * what changed and the result, counted in the metrics, and published to the fleet
 * (runtime-store.ts), whose other instances apply it within a second: a reload by re-reading
 * their own file, a drain by draining the same backend.
 */

export type Trigger = "signal" | "admin" | "fleet";

export interface ReloadTargets {
  cluster: Cluster;
  proxy: { setConfig(c: Config): void; readonly users: Pick<UserDirectory, "setConfigured"> };
  ha: { setConfig(c: Config): void; topology(): { generation: number; primary: string } };
  /** The root logger: `log.level` changes here (children follow). */
  logger: Logger;
}

export interface RuntimeControlOptions {
  config: Config;
  /** Reads and validates the config file again (throws ConfigError); null: started without one. */
  load: (() => Config) | null;
  /** The file, for /backends and the log. */
  file: string | null;
  targets: ReloadTargets;
  store: RuntimeStore;
  metrics: Metrics;
  events: EventFeed;
}

export interface ReloadReport {
  ok: boolean;
  trigger: Trigger;
  who: string;
  at: string;
  /** The problems that stopped it (nothing changed), per key. */
  problems: ConfigProblem[];
  changes: string[];
  restartPending: string[];
  version: number;
  configHash: string;
  /** Whether the fleet was told: "redis", "local" (no fleet), or why not. */
  fleet: string;
}

export interface DrainReport {
  backend: string;
  drain: DrainState | null;
  version: number;
  fleet: string;
}

export class RuntimeControl {
  readonly #o: RuntimeControlOptions;
  readonly #log: Logger;
  #running: Config;
  #hash: string;
  #restart: RestartNeeded[] = [];
  #loadedAt = Date.now();
  #last: ReloadReport | null = null;
  /** The fleet record this instance has applied. */
  #version = 0;
  #reloads = 0;
  /** One reload or fleet change at a time (SIGHUP twice, a reload while a fleet change lands). */
  #queue: Promise<unknown> = Promise.resolve();
  #unsubscribe: (() => void) | null = null;

  constructor(o: RuntimeControlOptions) {
    this.#o = o;
    this.#log = o.targets.logger.child({ component: "reload" });
    this.#running = o.config;
    this.#hash = configHash(o.config);
  }

  /** Joins the fleet: takes its record as it is (drains included), then follows it. */
  async start(): Promise<void> {
    await this.#o.store.start();
    const r = this.#o.store.current();
    this.#reloads = r.reloads;
    this.#syncDrains(r, "fleet at start");
    this.#applied(r.version);
    this.#unsubscribe = this.#o.store.onChange((rec) => void this.#serial(() => this.#fromFleet(rec)));
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#queue.catch(() => {});
    await this.#o.store.stop();
  }

  get config(): Config {
    return this.#running;
  }

  /** Re-reads the file and applies what changed; see the class comment. */
  reload(trigger: Exclude<Trigger, "fleet">, who: string): Promise<ReloadReport> {
    if (this.#o.load === null) {
      return Promise.reject(
        new RuntimeChangeError(
          "RELOAD_NO_FILE",
          "rwsplit serve was started without --config: there is no file to reload (restart it with one)",
        ),
      );
    }
    return this.#serial(() => this.#reload(trigger, who));
  }

  async drain(name: string, who: string): Promise<DrainReport> {
    const state = this.#o.targets.cluster.drain(name);
    return this.#done({ kind: "drain", backend: name }, who, state);
  }

  async undrain(name: string, who: string): Promise<DrainReport> {
    this.#o.targets.cluster.undrain(name);
    return this.#done({ kind: "undrain", backend: name }, who, null);
  }

  status() {
    const store = this.#o.store;
    const h = store.health();
    return {
      version: this.#version,
      hash: this.#hash,
      file: this.#o.file,
      loadedAt: new Date(this.#loadedAt).toISOString(),
      restartPending: this.#restart.map((r) => ({ key: r.key, why: r.why })),
      lastReload: this.#last,
      fleet: {
        shared: h.shared,
        connected: h.connected,
        lastError: h.lastError,
        instance: store.instanceId,
        instances: store.instances().map((i) => ({ ...i, at: new Date(i.at).toISOString() })),
      },
    };
  }

  // ---- internals -----------------------------------------------------------------------------

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(trigger: Trigger, who: string): Promise<ReloadReport> {
    const { metrics } = this.#o;
    const report = (ok: boolean, extra: Partial<ReloadReport>): ReloadReport => ({
      ok,
      trigger,
      who,
      at: new Date().toISOString(),
      problems: [],
      changes: [],
      restartPending: this.#restart.map(describeRestart),
      version: this.#version,
      configHash: this.#hash,
      fleet: "not published",
      ...extra,
    });
    let file: Config;
    try {
      file = this.#o.load!();
    } catch (e) {
      const problems: ConfigProblem[] =
        e instanceof ConfigError ? e.problems : [{ path: this.#o.file ?? "(file)", message: String(e) }];
      return this.#refused(report(false, { problems }), "invalid");
    }
    const diff = diffConfig(this.#running, file);
    const refused = refusedChanges(diff.changes, this.#o.targets.ha.topology());
    if (refused.length > 0) return this.#refused(report(false, { problems: refused }), "refused");
    const changes: string[] = [];
    for (const c of diff.changes) {
      const ok = this.#apply(c, diff.next);
      metrics.runtime.change(c.kind, ok);
      changes.push(ok ? describeChange(c) : `${describeChange(c)}: failed (see the log)`);
    }
    this.#running = diff.next;
    this.#o.targets.proxy.setConfig(diff.next);
    this.#o.targets.ha.setConfig(diff.next);
    this.#hash = configHash(diff.next);
    this.#restart = diff.restart;
    this.#loadedAt = Date.now();
    let fleet = "applied from the fleet";
    if (trigger !== "fleet") {
      const removed = diff.changes.flatMap((c) => (c.kind === "backend-removed" ? [c.name] : []));
      fleet = await this.#publish({ kind: "reload", removed }, who);
    }
    const r = report(true, { changes, restartPending: diff.restart.map(describeRestart), fleet });
    r.version = this.#version;
    r.configHash = this.#hash;
    this.#last = r;
    metrics.runtime.reload(trigger, "ok");
    metrics.runtime.setRestartPending(diff.restart.length);
    this.#log.warn(
      {
        trigger,
        who,
        changes,
        restartPending: r.restartPending,
        version: r.version,
        configHash: r.configHash,
        fleet,
      },
      changes.length === 0
        ? "config reloaded: nothing changed"
        : `config reloaded: ${changes.length} change(s)`,
    );
    this.#o.events.push({
      kind: "reload",
      level: "info",
      message: `config reloaded by ${who}: ${changes.length === 0 ? "nothing changed" : changes.join("; ")}`,
      data: { version: r.version, restartPending: diff.restart.length },
    });
    return r;
  }

  #refused(r: ReloadReport, result: "invalid" | "refused"): ReloadReport {
    this.#last = r;
    this.#o.metrics.runtime.reload(r.trigger, result);
    this.#log.error(
      { trigger: r.trigger, who: r.who, problems: r.problems },
      `config reload ${result === "invalid" ? "rejected: the file has problems" : "refused"}; nothing changed: ${r.problems
        .map((p) => `${p.path}: ${p.message}`)
        .join("; ")}`,
    );
    this.#o.events.push({
      kind: "reload",
      level: "error",
      message: `config reload by ${r.who} changed nothing: ${r.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    });
    return r;
  }

  /** Each kind of change, applied in one place; false (logged) when it could not be. */
  #apply(c: ConfigChange, next: Config): boolean {
    const { cluster, proxy, logger } = this.#o.targets;
    try {
      switch (c.kind) {
        case "backend-added":
          cluster.add(c.backend);
          break;
        case "backend-removed":
          cluster.remove(c.name);
          break;
        case "backend-weight":
          cluster.setWeight(c.name, c.to);
          break;
        case "backend-priority":
          cluster.setPriority(c.name, c.to);
          break;
        case "user-added":
        case "user-removed":
        case "user-changed":
          // The whole list at once (idempotent): new logins see it, sessions keep going.
          proxy.users.setConfigured(next.users);
          break;
        case "setting":
          if (c.key === "log.level") logger.level = next.log.level;
          else if (c.key.startsWith("lag.")) cluster.setLagPolicy(next.lag);
          else if (c.key.startsWith("pool.")) cluster.upstreams.setPoolOptions(next.pool);
          else if (c.key === "drain_timeout") cluster.setDrainTimeout(next.drainTimeoutMs);
          // routing.*, limits.*, failover.*: read per use from the config the proxy and the HA
          // manager are given after the changes (setConfig).
          break;
      }
      return true;
    } catch (e) {
      this.#log.error(
        { change: describeChange(c), err: (e as Error).message },
        "a change could not be applied",
      );
      return false;
    }
  }

  /** A drain or undrain done here: published, logged once, counted. */
  async #done(
    op: RuntimeOp & { backend: string },
    who: string,
    state: DrainState | null,
  ): Promise<DrainReport> {
    const fleet = await this.#publish(op, who);
    this.#o.metrics.runtime.change(op.kind, true);
    this.#log.warn(
      { who, backend: op.backend, version: this.#version, fleet },
      `backend ${op.kind} by ${who}`,
    );
    this.#o.events.push({
      kind: op.kind,
      level: "warn",
      backend: op.backend,
      message: `${op.backend} ${op.kind === "drain" ? "draining: no new reads" : "back in service"} (by ${who})`,
    });
    return { backend: op.backend, drain: state, version: this.#version, fleet };
  }

  /** Tells the fleet; what to say about it. */
  async #publish(op: RuntimeOp, who: string): Promise<string> {
    const store = this.#o.store;
    const r = await store.change(op, who);
    if (r === null) {
      this.#applied(this.#version);
      return `not shared: ${store.health().lastError ?? "the store is unreachable"} (this instance only)`;
    }
    if (op.kind === "reload") this.#reloads = r.reloads;
    this.#applied(r.version);
    return store.health().shared;
  }

  /** Another instance changed something (or this one's change came back from the store). */
  async #fromFleet(r: RuntimeRecord): Promise<void> {
    if (r.version <= this.#version) return;
    const who = `${r.who} on ${r.by}`;
    if (r.reloads > this.#reloads && this.#o.load !== null) {
      this.#reloads = r.reloads;
      // Logged and counted by #reload, with trigger "fleet" and this `who`.
      await this.#reload("fleet", who);
    }
    this.#syncDrains(r, who);
    this.#applied(r.version);
    this.#log.debug(
      { version: r.version, change: r.change, who },
      "applied a change made on another instance",
    );
  }

  /** Drains as the fleet's record lists them, for the backends this instance has. */
  #syncDrains(r: RuntimeRecord, who: string): void {
    const cluster = this.#o.targets.cluster;
    for (const b of cluster.backends()) {
      const wanted = r.drained.includes(b.name);
      const d = cluster.drainOf(b.name);
      try {
        if (wanted && d === undefined) {
          cluster.drain(b.name);
          this.#o.metrics.runtime.change("drain", true);
          this.#log.warn({ backend: b.name, who }, "backend drain (from the fleet)");
        } else if (!wanted && d?.purpose === "maintenance") {
          cluster.undrain(b.name);
          this.#o.metrics.runtime.change("undrain", true);
          this.#log.warn({ backend: b.name, who }, "backend undrain (from the fleet)");
        }
      } catch (e) {
        this.#o.metrics.runtime.change(wanted ? "drain" : "undrain", false);
        this.#log.error(
          { backend: b.name, who, err: (e as Error).message },
          "a fleet drain could not be applied here",
        );
      }
    }
  }

  #applied(version: number): void {
    this.#version = version;
    this.#o.metrics.runtime.setVersion(version);
    this.#o.store.report({ version, configHash: this.#hash, restartPending: this.#restart.length });
  }
}

/** 12 hex digits of the effective config's SHA-256: equal hashes, equal configs (secrets included, never shown). */
export function configHash(c: Config): string {
  return createHash("sha256").update(JSON.stringify(c)).digest("hex").slice(0, 12);
}
