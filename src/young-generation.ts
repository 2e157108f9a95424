import { setFlagsFromString } from "node:v8";

/**
 * How large V8's young generation (the semi-spaces where every new object starts) may grow
 * (issue #15: memory at start, per idle connection, and after bursts of sessions).
 *
 * V8 starts the young generation at 1 MB per semi-space and doubles it, up to 16 MB (32 MB of
 * resident memory for the two), whenever many objects survive a scavenge: loading the modules at
 * start does that, and so does a burst of connections, since each session lives through a few
 * scavenges. The memory comes back only when V8's memory reducer next runs, 10–30 s after the
 * load ends, and returns at the next burst. Measured on `rwsplit serve` (bench `idle` and `churn`,
 * and a 30,000-session churn watched for a minute): with V8's growth, 88 MB 5 s after start
 * (74 MB once reduced), 165 MB peak during the churn, back to its start about 20 s after;
 * fixed at 1 MB, 81 MB at start and 91 MB peak, 89 MB after. The price is more frequent
 * scavenges: about 3% more CPU per query on point selects and write transactions (sysbench, 8
 * threads, alternating rounds), within the machine's noise.
 *
 * `fixed` (the default) keeps V8's 1 MB; `elastic` restores V8's own growth. A flag, not a
 * command-line option of node: V8 reads `--semi-space-growth-factor` each time it would grow,
 * so it can be set from inside the process, for every command before it loads anything.
 */
export type YoungGeneration = "fixed" | "elastic";

/** V8's own default of `--semi-space-growth-factor`. */
const V8_GROWTH_FACTOR = 2;

export function setYoungGeneration(mode: YoungGeneration): void {
  setFlagsFromString(`--semi-space-growth-factor=${mode === "fixed" ? 1 : V8_GROWTH_FACTOR}`);
}
