/**
 * Which global values a new session starts from. The server copies every variable with a global
 * and a session value into a session as it logs in (or is reset), so a session that logs in after
 * a `SET GLOBAL sql_mode = ...` gets the new value, and one that logged in before keeps the old.
 * A pooled backend connection keeps what its own login copied: shared by sessions that logged in
 * on either side of the change, it would give new sessions the old value.
 *
 * The monitor reads a digest of those globals on every backend (monitor/checks.ts
 * GLOBALS_DIGEST_SQL); each change of a backend's digest starts a new generation. A session keeps
 * the generation it logged in with in its pool key (backend-pool.ts PoolKey), so it leases only
 * connections opened in its own generation: a session that logs in after the change opens new
 * ones, which copy the new values, while earlier sessions keep theirs until they end (and the
 * connections of a generation nobody uses any more close as idle ones do). A session that needs
 * one more connection than its generation has opens one with the values of the moment, as a
 * server session never would; a change is seen within the monitor's digest period
 * (GLOBALS_EVERY_MS).
 */
export class ServerGlobals {
  /** Counts the changes seen: the generation a session logging in now belongs to. */
  generation = 0;
  /** The last digest of each backend. */
  readonly #digests = new Map<string, string>();

  /** A backend's digest as the monitor read it (null: not read, nothing to compare). */
  observe(backend: string, digest: string | null): void {
    if (digest === null) return;
    const was = this.#digests.get(backend);
    this.#digests.set(backend, digest);
    if (was !== undefined && was !== digest) this.generation++;
  }

  /** The backend left the cluster: a new one of that name starts without a digest to compare. */
  forget(backend: string): void {
    this.#digests.delete(backend);
  }
}
