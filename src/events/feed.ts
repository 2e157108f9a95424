/**
 * Recent events worth a person's attention, newest first, for the status page and `GET /events`:
 * replica exclusions and re-admissions, failovers, switchovers, rejoins, and whatever another
 * part of rwsplit pushes (backups: `rwsplit.events.push({ kind: "backup", ... })`).
 *
 * A fixed-size ring: old events fall off; nothing here is persisted. Messages are for people and
 * must not carry secrets or statement literals (callers pass names, numbers, reasons).
 */

export type EventLevel = "info" | "warn" | "error";

export interface EventInput {
  /** A short, stable word: "exclusion", "readmission", "failover", "switchover", "rejoin", "backup", ... */
  kind: string;
  level?: EventLevel;
  /** One line for people. */
  message: string;
  /** The backend it is about, if any. */
  backend?: string | null;
  /** Small, JSON-safe details (durations, steps, generation). */
  data?: Record<string, unknown>;
  /** When it happened (ms since the epoch); default now. */
  at?: number;
}

export interface RwsplitEvent {
  /** Increasing per feed: lets a poller ask for what is new. */
  id: number;
  at: string;
  kind: string;
  level: EventLevel;
  message: string;
  backend: string | null;
  data: Record<string, unknown> | null;
}

export class EventFeed {
  private readonly ring: RwsplitEvent[] = [];
  private nextId = 1;
  private readonly listeners = new Set<(e: RwsplitEvent) => void>();

  constructor(
    readonly capacity = 200,
    private readonly now: () => number = Date.now,
  ) {}

  push(input: EventInput): RwsplitEvent {
    const e: RwsplitEvent = {
      id: this.nextId++,
      at: new Date(input.at ?? this.now()).toISOString(),
      kind: input.kind,
      level: input.level ?? "info",
      message: input.message,
      backend: input.backend ?? null,
      data: input.data ?? null,
    };
    this.ring.push(e);
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure is its own; the feed and the other listeners go on.
      }
    }
    return e;
  }

  /** Newest first, at most `limit`; with `afterId`, only events newer than that one. */
  list(limit = 50, afterId = 0): RwsplitEvent[] {
    const out: RwsplitEvent[] = [];
    for (let i = this.ring.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.ring[i]!;
      if (e.id <= afterId) break;
      out.push(e);
    }
    return out;
  }

  /** Calls `listener` for each new event; returns the unsubscribe function. */
  subscribe(listener: (e: RwsplitEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
