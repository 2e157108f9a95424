/**
 * Micro-benchmark of one client session serving point selects end to end (issue #15's CPU per
 * query on the proxy's own hot path): a ClientSession with its command handlers and StatementRun
 * as in production, over an in-memory client and backends that answer at once with a fixed
 * response. No socket, no database: what is measured is the proxy's work per statement (framing,
 * classification, routing, leasing, relaying, placement), for a text point select (COM_QUERY) and
 * a prepared one (COM_STMT_EXECUTE) on a replica. As `serve` runs it: replicas picked by the
 * lag-weighted balancer (both serving, lag 0), each statement counted in the metrics and digests.
 *
 * Not a test. Run: `npm run build && node dist/bench/session-loop.bench.js [rounds] [shape]`; a profile:
 * `node --cpu-prof dist/bench/session-loop.bench.js 3 prepared`. Prints CPU ns per statement, the median
 * of the rounds (a shared machine is noisy: CPU time, not wall time, and several rounds), and the
 * bytes each statement allocates.
 */
import pino from "pino";
import { Balancer } from "../src/balancer/balancer.js";
import { validateConfig } from "../src/config/load.js";
import { sessionHooks } from "../src/data-path.js";
import { DigestStore } from "../src/digests/store.js";
import { Metrics } from "../src/metrics/registry.js";
import { nativeToken } from "../src/protocol/auth/native-password.js";
import { BACKEND_BASE_CAPABILITIES, Capability } from "../src/protocol/constants/capabilities.js";
import { Command } from "../src/protocol/constants/commands.js";
import { ServerStatus } from "../src/protocol/constants/server-status.js";
import { packet } from "../src/protocol/framing.js";
import { encodeColumnCount, encodeColumnDefinition } from "../src/protocol/packets/column-definition.js";
import { encodeEof } from "../src/protocol/packets/eof.js";
import { encodeHandshakeResponse41 } from "../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../src/protocol/packets/handshake-v10.js";
import { encodeOk } from "../src/protocol/packets/ok.js";
import { BackendConnection } from "../src/proxy/backend-connection.js";
import type { BackendLink } from "../src/proxy/backend-link.js";
import type { Connector } from "../src/proxy/backend-login.js";
import { BalancedPicker } from "../src/proxy/balanced-picker.js";
import type { ProxyContext } from "../src/proxy/context.js";
import { MARIADB_DEFAULTS } from "../src/proxy/server-defaults.js";
import { ClientSession } from "../src/proxy/session/client-session.js";
import type { ClientTransport, TransportHandlers } from "../src/proxy/session/transport.js";
import { Upstreams } from "../src/proxy/upstreams.js";
import { UserDirectory } from "../src/proxy/user-directory.js";

const SQL = "SELECT c FROM sbtest1 WHERE id=?";
const STATUS = ServerStatus.AUTOCOMMIT;

const column = (seq: number) =>
  encodeColumnDefinition(seq, {
    catalog: "def",
    schema: "sbtest",
    table: "sbtest1",
    orgTable: "sbtest1",
    name: "c",
    orgName: "c",
    characterSet: 45,
    columnLength: 480,
    type: 0xfe,
    flags: 0,
    decimals: 0,
  });
const ROW =
  "83868641912-28773972837-60736120486-75162659906-27563526494-20381887404-41576422241-93426793964-56405065102-33518432330";
const lenencRow = (prefix: number[]) =>
  Buffer.concat([Buffer.from(prefix), Buffer.from([ROW.length]), Buffer.from(ROW)]);

/** A one-column, one-row result set as the server sends it (EOFs: no CLIENT_DEPRECATE_EOF). */
function resultSet(row: Buffer): Buffer {
  return Buffer.concat([
    encodeColumnCount(1, 1),
    column(2),
    encodeEof(3, STATUS),
    packet(4, row),
    encodeEof(5, STATUS),
  ]);
}
const TEXT_RESULT = resultSet(lenencRow([]));
const BINARY_RESULT = resultSet(lenencRow([0x00, 0x00]));
const OK = encodeOk(1, { status: STATUS }, Capability.SESSION_TRACK);
const SELECT = Buffer.from("SELECT");

/** A COM_QUERY packet whose SQL starts with SELECT (byte by byte: Buffer#compare makes views). */
function isSelect(b: Buffer): boolean {
  for (let i = 0; i < SELECT.length; i++) if (b[5 + i] !== SELECT[i]) return false;
  return true;
}

/**
 * Where replies wait when the bench delivers them itself (`sync`), else each on the next turn: the
 * links and their replies (two arrays, no object per reply: the bench's own garbage would count).
 */
const pendingLinks: LoopLink[] = [];
const pendingReplies: Buffer[] = [];
let pendingCount = 0;
let sync = false;

/** A backend that answers every command at once with a fixed response. */
class LoopLink implements BackendLink {
  private onChunk: ((chunk: Buffer) => void) | null = null;
  private nextStmt = 1;

  attach(onChunk: (chunk: Buffer) => void): void {
    this.onChunk = onChunk;
  }

  write(b: Buffer): void {
    const reply = this.answer(b);
    if (reply === null) return;
    if (sync) {
      pendingLinks[pendingCount] = this;
      pendingReplies[pendingCount++] = reply;
    } else setImmediate(() => this.onChunk!(reply));
  }

  deliver(bytes: Buffer): void {
    this.onChunk!(bytes);
  }

  private answer(b: Buffer): Buffer | null {
    switch (b[4]) {
      case Command.QUERY:
        return isSelect(b) ? TEXT_RESULT : OK;
      case Command.STMT_EXECUTE:
        return BINARY_RESULT;
      case Command.STMT_PREPARE: {
        const ok = Buffer.alloc(12);
        ok.writeUInt32LE(this.nextStmt++, 1);
        ok.writeUInt16LE(1, 5); // columns
        ok.writeUInt16LE(1, 7); // params
        return Buffer.concat([
          packet(1, ok),
          column(2),
          encodeEof(3, STATUS),
          column(4),
          encodeEof(5, STATUS),
        ]);
      }
      case Command.STMT_CLOSE:
      case Command.STMT_SEND_LONG_DATA:
        return null;
      default:
        return OK;
    }
  }

  pause(): void {}
  resume(): void {}
  lend(): void {}
  end(): void {}
  destroy(): void {}
}

const connector: Connector = async (opts) => {
  const conn = new BackendConnection(new LoopLink(), {
    endpoint: opts.endpoint,
    user: opts.credentials.user,
    wireFlags: opts.wireFlags,
    mariadbFlags: opts.mariadbFlags ?? 0,
    collation: opts.collation,
    schema: opts.schema,
    serverVersion: "10.11.0-MariaDB-loop",
    threadId: 1,
    capabilities: BACKEND_BASE_CAPABILITIES | opts.wireFlags,
  });
  if (opts.initSql !== undefined) await conn.query(opts.initSql);
  return conn;
};

/** The client's side: what the session writes is counted; an ERR anywhere fails the bench. */
class CountingClient implements ClientTransport {
  readonly remoteHost = "127.0.0.1";
  readonly secure = false;
  readonly pendingBytes = 0;
  handlers: TransportHandlers | null = null;
  last: Buffer = Buffer.alloc(0);
  bytes = 0;

  attach(h: TransportHandlers): void {
    this.handlers = h;
  }
  write(b: Buffer): boolean {
    this.bytes += b.length;
    this.last = b;
    return true;
  }
  onceDrained(): void {}
  offDrained(): void {}
  startTls(): void {
    throw new Error("no TLS here");
  }
  end(): void {}
  destroy(): void {}
}

const at = (port: number) => ({ host: "127.0.0.1", port });
const config = validateConfig({
  listen: at(0),
  backends: { primary: at(1), replicas: [at(2), at(3)] },
  users: [{ name: "app", password: "app-pass" }],
  routing: { consistency: "session" },
});
const noop = () => {};
const upstreams = new Upstreams(config, connector);
// The monitor's part (cluster.ts): a balancer over the replicas, both seen up with no lag.
const replicaNames = upstreams.replicas.map((p) => p.endpoint.name);
const balancer = new Balancer(
  replicaNames.map((name) => ({ name, weight: 1 })),
  config.lag,
  { isExhausted: (_name, i): boolean => picker.exhausted(i) },
);
for (const name of replicaNames) {
  const at = Date.now();
  balancer.observe(name, { up: true, replicating: true, lagMs: 0, readOnly: true, at }, at);
}
const picker: BalancedPicker = new BalancedPicker(upstreams.replicas, balancer, () => new Map());
upstreams.picker = picker;
if (!balancer.snapshot().every((r) => r.eligible)) throw new Error("replicas not serving");
const metrics = new Metrics({ defaultMetrics: false });
const kinds = { read: 0, write: 0, session: 0 };
const ctx: ProxyContext = {
  config,
  users: new UserDirectory(config.users),
  upstreams,
  tls: null,
  logger: pino({ level: "silent" }),
  hooks: sessionHooks(metrics, new DigestStore(config.digests.max), kinds, noop),
  serverVersion: () => "10.11.0-MariaDB-loop",
  serverProtocol: () => ({ mariadb: true, extended: 0 }),
  serverDefaults: () => MARIADB_DEFAULTS,
  nextConnectionId: () => 1,
  session: () => undefined,
  draining: () => false,
};

const turn = () => new Promise((r) => setImmediate(r));
const client = new CountingClient();
const session = new ClientSession(client, ctx, noop);

async function login(): Promise<void> {
  const greeting = decodeHandshakeV10(client.last.subarray(4));
  const response = encodeHandshakeResponse41(1, {
    capabilities:
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.LONG_PASSWORD |
      Capability.TRANSACTIONS |
      Capability.MULTI_RESULTS |
      Capability.SESSION_TRACK |
      Capability.CONNECT_WITH_DB,
    mariadbCapabilities: 0,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    username: "app",
    authResponse: nativeToken("app-pass", greeting.scramble),
    database: "sbtest",
    authPlugin: "mysql_native_password",
    attributes: {},
  });
  client.handlers!.data(response);
  for (let i = 0; i < 20 && session.phase !== "idle"; i++) await turn();
  if (session.phase !== "idle" || client.last[4] !== 0x00) throw new Error("login failed");
}

function command(cmd: number, body: Buffer): Buffer {
  return packet(0, Buffer.concat([Buffer.from([cmd]), body]));
}

/** Sends `template` (a fresh copy: EXECUTE is rewritten in place) and waits for the answer. */
async function roundTrip(template: Buffer): Promise<void> {
  client.handlers!.data(Buffer.from(template));
  for (let i = 0; i < 50 && session.phase !== "idle"; i++) await turn();
  check();
}

function check(): void {
  if (session.phase !== "idle") throw new Error(`session ${session.phase} after its statement`);
  if (client.last[4] === 0xff) throw new Error(`ERR: ${client.last.toString("latin1", 13)}`);
}

/** `n` statements, every reply delivered at once (the sync hot path). */
function serve(template: Buffer, work: Buffer, n: number): void {
  for (let i = 0; i < n; i++) {
    template.copy(work);
    client.handlers!.data(work);
    // The backend's answer, as a socket read would bring it.
    for (let r = 0; r < pendingCount; r++) pendingLinks[r]!.deliver(pendingReplies[r]!);
    pendingCount = 0;
    if (session.phase !== "idle") check();
  }
}

/** CPU ns per statement over `n` statements. */
function perStatement(template: Buffer, n: number): number {
  const work = Buffer.allocUnsafe(template.length);
  const t0 = process.cpuUsage();
  serve(template, work, n);
  const t = process.cpuUsage(t0);
  check();
  return ((t.user + t.system) * 1000) / n;
}

/**
 * Bytes allocated on the JS heap per statement (the bench's own reply bookkeeping included): the
 * heap's growth over a batch of 100 statements, the median of the batches that no garbage
 * collection ran in (those where the heap shrank are left out).
 */
function allocatedPerStatement(template: Buffer, batches: number): number {
  const work = Buffer.allocUnsafe(template.length);
  const perBatch: number[] = [];
  for (let b = 0; b < batches; b++) {
    const before = process.memoryUsage().heapUsed;
    serve(template, work, 100);
    const grew = process.memoryUsage().heapUsed - before;
    if (grew >= 0) perBatch.push(grew / 100);
  }
  check();
  perBatch.sort((a, b) => a - b);
  return perBatch[perBatch.length >> 1] ?? Number.NaN;
}

await login();
await roundTrip(command(Command.STMT_PREPARE, Buffer.from(SQL)));
// The statement's id is 1 (the proxy's first); EXECUTE: id, flags 0, iteration 1, NULL bitmap,
// new_params_bound_flag 1, type LONGLONG, the value.
const id = Buffer.alloc(4);
id.writeUInt32LE(1);
const value = Buffer.alloc(8);
value.writeBigInt64LE(4242n);
const shapes: [string, Buffer][] = [
  ["text point select", command(Command.QUERY, Buffer.from("SELECT c FROM sbtest1 WHERE id=4242"))],
  [
    "prepared point select",
    command(Command.STMT_EXECUTE, Buffer.concat([id, Buffer.from([0, 1, 0, 0, 0, 0, 1, 0x08, 0]), value])),
  ],
];
// Warm up asynchronously: every replica connection opened, synced and prepared (each shape
// twice in a row: the replicas take turns).
for (let i = 0; i < 200; i++) for (const [, t] of shapes) for (let k = 0; k < 2; k++) await roundTrip(t);
sync = true;

const rounds = Number(process.argv[2] ?? 7);
// A shape's name (or part of it) to run that one only: for a profile of one path.
const only = process.argv[3];
if (only !== undefined) shapes.splice(0, shapes.length, ...shapes.filter(([name]) => name.includes(only)));
const n = 200_000;
const results = new Map<string, number[]>(shapes.map(([name]) => [name, []]));
for (let r = 0; r < rounds + 1; r++) {
  for (const [name, t] of shapes) {
    const ns = perStatement(t, n);
    if (r > 0) results.get(name)!.push(ns); // round 0 lets the JIT settle
  }
}
for (const [name, xs] of results) {
  const sorted = [...xs].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  const bytes = allocatedPerStatement(shapes.find(([shape]) => shape === name)![1], 1000);
  console.log(
    `${name.padEnd(22)} ${median.toFixed(0)} ns/statement  (min ${sorted[0]!.toFixed(0)}, ${xs.length} rounds of ${n}), ${bytes.toFixed(0)} B allocated`,
  );
}
// Every statement above ran on a replica, and each was counted there.
const onReplicas = replicaNames.reduce(
  (n, name) => n + metrics.queryCounter("replica", name, "read").value,
  0,
);
if (onReplicas !== kinds.read) throw new Error(`${kinds.read} reads, ${onReplicas} of them on replicas`);
