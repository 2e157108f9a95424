import { readFileSync } from "node:fs";

/**
 * What a process under test costs, read from /proc: CPU time (utime + stime, `/proc/PID/stat`
 * fields 14 and 15, in clock ticks) and resident memory (`VmRSS` in `/proc/PID/status`, kB).
 */

export function cpuTicks(pid: number): number {
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
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
