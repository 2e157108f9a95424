import { isIPv4 } from "node:net";

/**
 * The host part of a MariaDB account ('app'@'10.0.%'), matched against a client of rwsplit the
 * way the server matches its own clients (`compare_hostname()` and `get_sort()` in sql_acl.cc):
 *
 *   ''  and '%'               any client
 *   '10.0.0.5', '::1'         exactly that address (compared as text)
 *   '10.0.%', '192.168.1._'   wildcards against the address text: % any run, _ one character,
 *                             backslash escapes the next character
 *   '10.0.0.0/255.255.255.0'  an IPv4 network and netmask: (client & mask) == network
 *   'localhost'               a client on a loopback address (127.0.0.0/8, ::1): see below
 *   'db1.example.com', '%.example.com'
 *                             a host name, case-insensitively, against the client's name; only
 *                             when the server resolves names (skip_name_resolve=OFF), from a
 *                             reverse lookup confirmed by a forward one, as the server does
 *
 * 'localhost': the server matches it for clients on its unix socket, and for TCP clients from a
 * loopback address when it resolves names (loopback always resolves to "localhost"). rwsplit has
 * no unix socket, so a loopback client (on rwsplit's own machine) is "localhost" whatever
 * skip_name_resolve says: such an account is usable from the machine rwsplit runs on.
 *
 * When several accounts of one user name match, the most specific wins, as on the server: hosts
 * without wildcards first, then by the position of the first wildcard (later is more specific),
 * then '%', then ''; ties by host text, descending (so 'localhost' before '127.0.0.1').
 */

export interface ClientHost {
  /** The client's address as text ('::ffff:' already stripped from IPv4-mapped addresses). */
  ip: string;
  /**
   * The client's confirmed host name: "localhost" for loopback, null when names are not
   * resolved (or the lookup found none).
   */
  name: string | null;
}

const WILD_MANY = "%";
const WILD_ONE = "_";
const ESCAPE = "\\";

/**
 * `get_sort()` for one string: 128 when it has no wildcard, 1 for a lone '%', 0 for '', else
 * the position of the first wildcard + 1 (capped at 127). Sorted descending, most specific first.
 */
export function hostSpecificity(host: string): number {
  let chars = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host[i];
    if (c === ESCAPE && i + 1 < host.length) {
      i++;
    } else if (c === WILD_MANY || c === WILD_ONE) {
      const pos = i + 1;
      if (pos === 1 && c === WILD_MANY && host.length === 1) return 1;
      return Math.min(pos + 1, 127);
    }
    chars = 128;
  }
  return chars;
}

/** Orders accounts of one user name as the server tries them: most specific host first. */
export function compareHosts(a: string, b: string): number {
  const d = hostSpecificity(b) - hostSpecificity(a);
  if (d !== 0) return d;
  return a < b ? 1 : a > b ? -1 : 0;
}

/** A wildcard pattern as an anchored RegExp (% any run, _ one character, \x a literal x). */
function wildRegExp(pattern: string, ignoreCase: boolean): RegExp {
  let src = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === ESCAPE && i + 1 < pattern.length) src += escapeRe(pattern[++i]!);
    else if (c === WILD_MANY) src += "[\\s\\S]*";
    else if (c === WILD_ONE) src += "[\\s\\S]";
    else src += escapeRe(c);
  }
  return new RegExp(`^${src}$`, ignoreCase ? "i" : "");
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/** Dotted IPv4 to a 32-bit unsigned number; null when `s` is not one. */
function ipv4(s: string): number | null {
  if (!isIPv4(s)) return null;
  return s.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** 'a.b.c.d/m.m.m.m' → network and mask; null for any other pattern. */
function netmask(pattern: string): { net: number; mask: number } | null {
  const slash = pattern.indexOf("/");
  if (slash < 0) return null;
  const net = ipv4(pattern.slice(0, slash));
  const mask = ipv4(pattern.slice(slash + 1));
  return net === null || mask === null ? null : { net, mask };
}

/**
 * Whether matching `pattern` needs the client's host name (MariaDB's
 * `hostname_requires_resolving()`): not for '%', addresses, address wildcards, netmasks or
 * 'localhost'; yes for anything with a letter that is not part of an IPv6 address.
 */
export function needsHostName(pattern: string): boolean {
  if (pattern.toLowerCase() === "localhost") return false;
  if (/^[0-9.%_/\\]*$/.test(pattern)) return false;
  if (pattern.includes(":") && /^[0-9a-fA-F:.%_/\\]*$/.test(pattern)) return false;
  return true;
}

/** Compiled once per account: the server's `compare_hostname()`. */
export class HostPattern {
  readonly needsName: boolean;
  private readonly any: boolean;
  private readonly mask: { net: number; mask: number } | null;
  private readonly byAddress: RegExp;
  private readonly byName: RegExp;

  constructor(readonly pattern: string) {
    this.any = pattern === "" || pattern === WILD_MANY;
    this.mask = netmask(pattern);
    this.byAddress = wildRegExp(pattern, false);
    this.byName = wildRegExp(pattern, true);
    this.needsName = needsHostName(pattern);
  }

  matches(client: ClientHost): boolean {
    if (this.any) return true;
    if (this.mask !== null) {
      const ip = ipv4(client.ip);
      // As the server: the network must be given with its host bits zero ('10.0.0.5/255.255.255.0'
      // matches nothing).
      if (ip !== null) return (ip & this.mask.mask) >>> 0 === this.mask.net;
    }
    if (client.name !== null && this.byName.test(client.name)) return true;
    return this.byAddress.test(client.ip);
  }
}

/** 127.0.0.0/8, ::1 (and their IPv4-mapped forms): a client on rwsplit's own machine. */
export function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  if (isIPv4(v4)) return v4.startsWith("127.");
  return ip === "::1" || ip === "0:0:0:0:0:0:0:1";
}
