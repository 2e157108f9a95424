import { promises as dns } from "node:dns";
import { isLoopback } from "./host-pattern.js";

/** How a name is found: reverse (address → name), then forward (name → addresses). */
export interface NameResolver {
  reverse(ip: string): Promise<string>;
  forward(name: string): Promise<string[]>;
}

/** getnameinfo/getaddrinfo, as the server uses: /etc/hosts first, then DNS. */
export const SYSTEM_RESOLVER: NameResolver = {
  reverse: async (ip) => (await dns.lookupService(ip, 0)).hostname,
  forward: async (name) => (await dns.lookup(name, { all: true })).map((a) => a.address),
};

const MAX_ENTRIES = 10_000;

/**
 * Client host names for host-name accounts ('app'@'%.example.com'), looked up only when such
 * an account could match. Like the server (`ip_to_hostname()`), a name counts only when its
 * forward lookup gives the client's address back, so a client cannot pick its own name by
 * controlling its reverse zone; loopback is always "localhost". Results (and failures, as
 * null) are cached for `ttlMs`; a lookup slower than `timeoutMs` counts as no name.
 */
export class HostNames {
  private readonly cache = new Map<string, { name: string | null; until: number }>();
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly ttlMs: number,
    private readonly timeoutMs: number,
    private readonly resolver: NameResolver = SYSTEM_RESOLVER,
  ) {}

  /** The confirmed name: a string, null (none), or undefined (not looked up yet: call `lookup`). */
  cached(ip: string, now = Date.now()): string | null | undefined {
    if (isLoopback(ip)) return "localhost";
    const hit = this.cache.get(ip);
    return hit !== undefined && hit.until > now ? hit.name : undefined;
  }

  /** Looks `ip` up (one lookup per address at a time); resolves when `cached(ip)` knows. */
  lookup(ip: string): Promise<void> {
    const running = this.inflight.get(ip);
    if (running !== undefined) return running;
    const p = this.resolve(ip)
      .catch(() => null)
      .then((name) => {
        if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(ip, { name, until: Date.now() + this.ttlMs });
      })
      .finally(() => this.inflight.delete(ip));
    this.inflight.set(ip, p);
    return p;
  }

  private async resolve(ip: string): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.timeoutMs);
    });
    const confirmed = (async () => {
      const name = await this.resolver.reverse(ip);
      // getnameinfo gives the address back as text when there is no name.
      if (name === "" || name === ip) return null;
      const addresses = await this.resolver.forward(name);
      return addresses.includes(ip) ? name : null;
    })();
    try {
      return await Promise.race([confirmed, deadline]);
    } finally {
      clearTimeout(timer);
      confirmed.catch(() => {});
    }
  }
}
