import net from "node:net";

/**
 * A TCP relay on a free loopback port that counts the bytes the server sends back. The driver
 * matrix puts one in front of the primary and one in front of rwsplit for the compression case:
 * a driver that asked for compression and really got it receives a 1.6 MB compressible result in
 * a few kilobytes, one that silently fell back to the uncompressed protocol receives all of it.
 * The counts are the only thing it adds; bytes pass through unchanged.
 */
export interface CountingRelay {
  host: string;
  port: number;
  /** Bytes from the server to clients since the last `reset()`. */
  readonly bytesDown: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingRelay(target: { host: string; port: number }): Promise<CountingRelay> {
  let bytesDown = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.on("data", (chunk: Buffer) => {
      bytesDown += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    get bytesDown() {
      return bytesDown;
    },
    reset() {
      bytesDown = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
