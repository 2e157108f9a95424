import net from "node:net";
import { nativeToken } from "../../src/protocol/auth/native-password.js";
import { Capability } from "../../src/protocol/constants/capabilities.js";
import { type Packet, PacketFramer, packet } from "../../src/protocol/framing.js";
import { decodeErr, type ErrPacket } from "../../src/protocol/packets/err.js";
import { encodeHandshakeResponse41 } from "../../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10, type HandshakeV10 } from "../../src/protocol/packets/handshake-v10.js";

/**
 * A bare-bones MySQL client speaking packets directly, for tests that need what drivers hide:
 * unsupported commands, malformed packets, exact sequence ids.
 */
export class RawClient {
  private readonly framer = new PacketFramer();
  private readonly waiting: ((p: Packet) => void)[] = [];
  private readonly queue: Packet[] = [];
  closed = false;
  greeting: HandshakeV10 | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (c: Buffer) => {
      this.framer.push(c);
      for (let p = this.framer.next(); p !== null; p = this.framer.next()) {
        const w = this.waiting.shift();
        if (w) w(p);
        else this.queue.push(p);
      }
    });
    socket.on("close", () => {
      this.closed = true;
    });
    socket.on("error", () => {});
  }

  static async connect(host: string, port: number): Promise<RawClient> {
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawClient(socket);
  }

  /** Connects and logs in with mysql_native_password; returns the final packet (OK or ERR). */
  static async login(
    host: string,
    port: number,
    user: string,
    password: string,
    database: string | null = null,
    /** Capabilities asked for on top of the defaults (e.g. CLIENT_DEPRECATE_EOF). */
    extraCapabilities = 0,
    /** Default capabilities not asked for (e.g. CLIENT_SESSION_TRACK, as PyMySQL does). */
    withoutCapabilities = 0,
  ) {
    const c = await RawClient.connect(host, port);
    const greet = await c.read();
    if (greet.payload[0] === 0xff) return { client: c, result: greet };
    c.greeting = decodeHandshakeV10(greet.payload);
    const caps =
      ((Capability.PROTOCOL_41 |
        Capability.SECURE_CONNECTION |
        Capability.PLUGIN_AUTH |
        Capability.LONG_PASSWORD |
        Capability.TRANSACTIONS |
        Capability.MULTI_RESULTS |
        Capability.SESSION_TRACK |
        (database ? Capability.CONNECT_WITH_DB : 0) |
        extraCapabilities) &
        ~withoutCapabilities) >>>
      0;
    c.socket.write(
      encodeHandshakeResponse41(1, {
        capabilities: caps,
        maxPacketSize: 1 << 24,
        characterSet: 45,
        username: user,
        authResponse: nativeToken(password, c.greeting.scramble),
        database,
        authPlugin: "mysql_native_password",
        attributes: {},
      }),
    );
    return { client: c, result: await c.read() };
  }

  read(timeoutMs = 5000): Promise<Packet> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no packet within timeout")), timeoutMs);
      this.waiting.push((p) => {
        clearTimeout(t);
        resolve(p);
      });
    });
  }

  send(seq: number, payload: Buffer): void {
    this.socket.write(packet(seq, payload));
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a command and returns its first response packet. */
  async command(payload: Buffer): Promise<Packet> {
    this.send(0, payload);
    return this.read();
  }

  static err(p: Packet): ErrPacket | null {
    return p.payload[0] === 0xff ? decodeErr(p.payload) : null;
  }

  close(): void {
    this.socket.destroy();
  }
}
