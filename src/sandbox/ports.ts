import net from "node:net";

/**
 * Port probing by asking the OS: bind, read, close. A probe only says the port was free a moment
 * ago; the sandbox re-checks right before it starts each node and says which port is taken.
 */

const HOST = "127.0.0.1";

/** True when nothing listens on host:port (a bind there succeeds). */
export function isPortFree(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port the OS picked as free (listen on port 0, read it, close). */
export function freePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports, each picked by the OS separately. */
export async function freePorts(count: number, host = HOST): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const p = await freePort(host);
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}
