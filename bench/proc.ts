import { readdirSync, readFileSync } from "node:fs";

/**
 * What a process under test costs, read from /proc: CPU time (utime + stime, `/proc/PID/stat`
 * fields 14 and 15, in clock ticks) and resident memory (`VmRSS` in `/proc/PID/status`, kB).
 */

/** `/proc/PID/stat` after the command name (field 2, in parentheses, may hold spaces): field 3 on. */
function statFields(pid: number): string[] {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(") ") + 2).split(" ");
}

export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  return Number(f[11]) + Number(f[12]);
}

/**
 * CPU time of a process and every process under it (`serve --workers N` as N processes): for each,
 * utime + stime + cutime + cstime (fields 14-17), so that a worker that exits and is reaped during
 * a run moves its time into its parent's cutime instead of out of the sum. Children are found by
 * their parent pid (field 4) over /proc.
 */
export function treeCpuTicks(pid: number): number {
  const parent = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(statFields(Number(name))[1]);
      const list = parent.get(ppid);
      if (list) list.push(Number(name));
      else parent.set(ppid, [Number(name)]);
    } catch {
      // Gone between readdir and read.
    }
  }
  let sum = 0;
  const todo = [pid];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    try {
      const f = statFields(p);
      sum += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      if (p === pid) throw new Error(`process ${pid} is gone`);
    }
    todo.push(...(parent.get(p) ?? []));
  }
  return sum;
}

export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

/** What one watched interval cost the process. */
export interface ProcessUsage {
  pid: number;
  cpuMs: number;
  rssStartKb: number;
  rssPeakKb: number;
  rssEndKb: number;
  /** [ms since start, VmRSS kB], every `intervalMs`: the raw data behind the peak. */
  rssSamples: [number, number][];
}

/**
 * Samples a process's RSS on a timer while a load runs, and its CPU time from start to stop.
 * The peak is the highest sample, so it can miss a spike shorter than the interval; VmHWM would
 * not (but it is the peak since the process started, not of this interval).
 */
export class ProcessWatch {
  private readonly t0 = Date.now();
  private readonly ticks0: number;
  private readonly samples: [number, number][] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    private readonly clkTck: number,
    intervalMs = 50,
  ) {
    this.ticks0 = cpuTicks(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    try {
      this.samples.push([Date.now() - this.t0, rssKb(this.pid)]);
    } catch {
      // The process exited: the samples so far are what there is.
    }
  }

  stop(): ProcessUsage {
    clearInterval(this.timer);
    this.sample();
    const rss = this.samples.map((s) => s[1]);
    return {
      pid: this.pid,
      cpuMs: ((cpuTicks(this.pid) - this.ticks0) * 1000) / this.clkTck,
      rssStartKb: rss[0] ?? 0,
      rssPeakKb: Math.max(0, ...rss),
      rssEndKb: rss[rss.length - 1] ?? 0,
      rssSamples: this.samples,
    };
  }
}
