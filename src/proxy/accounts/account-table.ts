import type { ServerAccount } from "./account-record.js";
import { type ClientHost, compareHosts, HostPattern } from "./host-pattern.js";

export type AccountMatch =
  | { kind: "account"; account: ServerAccount }
  | { kind: "none" }
  /** A host-name account could match this client, and its name has not been looked up yet. */
  | { kind: "need-name" };

interface Entry {
  account: ServerAccount;
  pattern: HostPattern;
}

/**
 * The accounts of one load, by user name, each name's accounts in the order the server tries
 * them (most specific host first, host-pattern.ts). Pure and immutable: a reload builds a new
 * table.
 */
export class AccountTable {
  private readonly byUser = new Map<string, Entry[]>();

  /**
   * `resolveNames`: the server resolves client host names (skip_name_resolve=OFF), so
   * host-name accounts take part; otherwise they never match, as on the server.
   */
  constructor(
    accounts: readonly ServerAccount[],
    readonly resolveNames: boolean,
  ) {
    for (const account of accounts) {
      const list = this.byUser.get(account.user) ?? [];
      list.push({ account, pattern: new HostPattern(account.host) });
      this.byUser.set(account.user, list);
    }
    for (const list of this.byUser.values())
      list.sort((a, b) => compareHosts(a.account.host, b.account.host));
  }

  get size(): number {
    let n = 0;
    for (const list of this.byUser.values()) n += list.length;
    return n;
  }

  has(user: string): boolean {
    return this.byUser.has(user);
  }

  /**
   * The account `user` logs in as from `client`: the first whose host matches. `nameKnown`:
   * `client.name` is the result of a lookup (possibly null), not merely "not looked up yet".
   */
  match(user: string, client: ClientHost, nameKnown: boolean): AccountMatch {
    const list = this.byUser.get(user);
    if (list === undefined) return { kind: "none" };
    for (const { account, pattern } of list) {
      if (pattern.needsName) {
        if (!this.resolveNames) continue;
        if (!nameKnown) return { kind: "need-name" };
      }
      if (pattern.matches(client)) return { kind: "account", account };
    }
    return { kind: "none" };
  }

  /** Every account, for logs and tests ('user'@'host' only: never a hash). */
  describe(): string[] {
    return [...this.byUser.values()].flatMap((l) => l.map((e) => `'${e.account.user}'@'${e.account.host}'`));
  }
}
