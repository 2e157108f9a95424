/**
 * Who of a fleet runs a scheduled backup: every proxy's timer fires at the same minute, and the
 * first to claim that run's slot in Redis runs it (`SET <prefix>backup-slot:<time> <instance> NX
 * PX 24h`). The slot is never released, so an instance whose clock is a few seconds behind cannot
 * claim it again after the winner finished. Without Redis the process is alone and always wins.
 * A Redis that does not answer claims nothing: a skipped backup is logged and counted, two
 * backups at once are not possible.
 */

export interface SlotLock {
  /** True when this instance won `slot` (the scheduled time of one run). */
  claim(slot: Date): Promise<boolean>;
  close(): void;
}

export function localSlotLock(): SlotLock {
  const taken = new Set<number>();
  return {
    async claim(slot) {
      if (taken.has(slot.getTime())) return false;
      taken.add(slot.getTime());
      return true;
    },
    close() {},
  };
}

const SLOT_TTL_MS = 24 * 3600 * 1000;

/** ioredis is imported here, not at the top: a proxy without redis.url never loads it. */
export async function redisSlotLock(url: string, instance: string, prefix = "rwsplit:"): Promise<SlotLock> {
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
    connectTimeout: 2000,
    connectionName: "rwsplit-backup-lock",
  });
  redis.on("error", () => {});
  return {
    async claim(slot) {
      const key = `${prefix}backup-slot:${slot.toISOString()}`;
      const r = await redis.set(key, instance, "PX", SLOT_TTL_MS, "NX");
      return r === "OK";
    },
    close() {
      redis.disconnect();
    },
  };
}
