import { describe, expect, it } from "vitest";
import {
  type ClientHost,
  compareHosts,
  HostPattern,
  hostSpecificity,
  isLoopback,
  needsHostName,
} from "../../src/proxy/accounts/host-pattern.js";

/** Host patterns of MariaDB accounts against clients of rwsplit (compare_hostname in sql_acl.cc). */

const ip = (ip: string, name: string | null = null): ClientHost => ({ ip, name });

describe("HostPattern.matches", () => {
  it.each([
    // pattern, client, matches
    ["%", ip("203.0.113.9"), true],
    ["", ip("203.0.113.9"), true],
    ["10.0.0.5", ip("10.0.0.5"), true],
    ["10.0.0.5", ip("10.0.0.50"), false],
    ["10.0.0.%", ip("10.0.0.50"), true],
    ["10.0.0.%", ip("10.0.1.5"), false],
    ["10.0.%", ip("10.0.200.1"), true],
    ["192.168.1._", ip("192.168.1.7"), true],
    ["192.168.1._", ip("192.168.1.17"), false],
    // A dot is literal, not "any character".
    ["10.0.0.5", ip("10a0b0c5"), false],
    // Netmask: (client & mask) == network.
    ["10.0.0.0/255.255.255.0", ip("10.0.0.77"), true],
    ["10.0.0.0/255.255.255.0", ip("10.0.1.77"), false],
    ["10.0.0.0/255.255.0.0", ip("10.0.250.1"), true],
    // The server compares against the network as written: host bits set match nothing.
    ["10.0.0.5/255.255.255.0", ip("10.0.0.5"), false],
    // IPv6 as text.
    ["::1", ip("::1", "localhost"), true],
    ["fd00::%", ip("fd00::12"), true],
    ["fd00::%", ip("fd01::12"), false],
    // localhost: loopback clients carry the name "localhost".
    ["localhost", ip("127.0.0.1", "localhost"), true],
    ["localhost", ip("10.0.0.1"), false],
    ["LOCALHOST", ip("127.0.0.1", "localhost"), true],
    ["127.0.0.1", ip("127.0.0.1", "localhost"), true],
    // Host names, case-insensitively, only against a (confirmed) name.
    ["db1.example.com", ip("10.0.0.1", "DB1.Example.com"), true],
    ["%.example.com", ip("10.0.0.1", "app7.example.com"), true],
    ["%.example.com", ip("10.0.0.1", "example.com"), false],
    ["%.example.com", ip("10.0.0.1"), false],
    ["app_.example.com", ip("10.0.0.1", "app7.example.com"), true],
    // Escaped wildcards are literal.
    ["a\\_b.example.com", ip("10.0.0.1", "a_b.example.com"), true],
    ["a\\_b.example.com", ip("10.0.0.1", "axb.example.com"), false],
    // Regex metacharacters in a pattern are literal.
    ["a+b.example.com", ip("10.0.0.1", "aab.example.com"), false],
  ] as const)("%j vs %j: %s", (pattern, client, want) => {
    expect(new HostPattern(pattern).matches(client)).toBe(want);
  });
});

describe("which patterns need the client's host name", () => {
  it.each([
    ["%", false],
    ["", false],
    ["10.0.0.5", false],
    ["10.0.%", false],
    ["10.0.0.0/255.255.255.0", false],
    ["localhost", false],
    ["::1", false],
    ["fd00:ab::%", false],
    ["db1.example.com", true],
    ["%.example.com", true],
    ["AB%", true],
  ] as const)("%j: %s", (pattern, want) => {
    expect(needsHostName(pattern)).toBe(want);
    expect(new HostPattern(pattern).needsName).toBe(want);
  });
});

describe("specificity (get_sort), most specific first", () => {
  it.each([
    ["10.0.0.5", 128],
    ["localhost", 128],
    ["10.0.0.0/255.255.255.0", 128],
    ["10.0.0.%", 9],
    ["10.%", 5],
    ["%.example.com", 2],
    ["_", 2],
    ["%", 1],
    ["", 0],
    ["a\\%b", 128],
  ] as const)("%j → %d", (host, want) => {
    expect(hostSpecificity(host)).toBe(want);
  });

  it("orders one user's accounts as the server tries them", () => {
    const hosts = ["%", "10.%", "", "10.0.0.%", "127.0.0.1", "localhost", "10.0.0.5", "%.example.com"];
    expect([...hosts].sort(compareHosts)).toEqual([
      "localhost",
      "127.0.0.1",
      "10.0.0.5",
      "10.0.0.%",
      "10.%",
      "%.example.com",
      "%",
      "",
    ]);
  });
});

describe("isLoopback", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["::ffff:127.0.0.1", true],
    ["10.0.0.1", false],
    ["::ffff:10.0.0.1", false],
    ["fd00::1", false],
  ] as const)("%s: %s", (addr, want) => {
    expect(isLoopback(addr)).toBe(want);
  });
});
