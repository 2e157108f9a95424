import { spawn } from "node:child_process";
import { resolve } from "node:path";

/**
 * Runs bench/connectorj/RelayStall.java (issue #19's reproduction with MariaDB Connector/J) as a
 * single source file with Debian's libmariadb-java, and returns its RESULT line.
 */

export const CONNECTOR_J_JAR = "/usr/share/java/mariadb-java-client.jar";
const SOURCE = resolve("bench/connectorj/RelayStall.java");

export interface RelayStallResult {
  runs: number;
  ok: number;
  /** Runs that ended with the socket timeout: a result that never came. */
  stalls: number;
  errors: number;
  medianMs: number;
  maxMs: number;
  socketTimeoutMs: number;
  failures: string[];
}

export interface RelayStallOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  runs: number;
  socketTimeoutMs: number;
  /** Each line the program prints, as it comes. */
  onLine?: (line: string) => void;
}

export async function runRelayStall(
  o: RelayStallOptions,
): Promise<{ result: RelayStallResult; seconds: number }> {
  const started = Date.now();
  const child = spawn(
    "java",
    [
      "-cp",
      CONNECTOR_J_JAR,
      SOURCE,
      o.host,
      String(o.port),
      o.user,
      o.password,
      o.database,
      String(o.runs),
      String(o.socketTimeoutMs),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let result: RelayStallResult | null = null;
  let stderr = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    const lines = (partial + s).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7)) as RelayStallResult;
      else o.onLine?.(line);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  const code = await new Promise<number | string>((done, fail) => {
    child.once("error", fail);
    child.once("exit", (c, sig) => done(c ?? sig ?? -1));
  });
  if (result === null) {
    throw new Error(`RelayStall.java exited with ${code} and no RESULT line: ${stderr.slice(-2000)}`);
  }
  return { result, seconds: (Date.now() - started) / 1000 };
}
