import { type ChildProcess, spawn } from "node:child_process";

/** `rwsplit serve` as an operator runs it (bin/rwsplit.js), with its JSON log lines and stderr kept. */
export interface ServeProcess {
  proc: ChildProcess;
  /** Each JSON line the process logged, parsed, in order. */
  logs: Record<string, unknown>[];
  stderr(): string;
  /** Its exit code once it exited (null when killed by a signal). */
  exited: Promise<number | null>;
}

export function spawnServe(args: readonly string[]): ServeProcess {
  const proc = spawn(process.execPath, ["bin/rwsplit.js", "serve", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let buffered = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const l of lines) if (l.startsWith("{")) logs.push(JSON.parse(l));
  });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, logs, stderr: () => stderr, exited };
}
