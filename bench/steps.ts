import cliProgress from "cli-progress";
import type { OnProgress } from "./loadgen/common.js";

/** One measured step: a scenario against one target. */
export interface Step {
  label: string;
  target: string;
  run: (progress: OnProgress) => Promise<void>;
}

/** How long each step took, for the record (the budgets: quick < 2 min, full < 15 min). */
export interface Timing {
  step: string;
  seconds: number;
}

/**
 * Runs the steps in order with a progress bar (cli-progress) on a terminal, one line per step
 * otherwise. `stop()` returning true (Ctrl-C) ends the run between steps.
 */
export async function runSteps(
  steps: readonly Step[],
  timings: Timing[],
  stop: () => boolean,
): Promise<void> {
  const tty = process.stdout.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      format: "bench [{bar}] {percentage}% | {step}/{steps} {label} → {target} | {duration_formatted}",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  if (tty) bar.start(steps.length, 0, { step: 0, steps: steps.length, label: "", target: "" });
  try {
    for (const [i, st] of steps.entries()) {
      if (stop()) throw new Error("interrupted");
      const payload = { step: i + 1, steps: steps.length, label: st.label, target: st.target };
      if (tty) bar.update(i, payload);
      else process.stdout.write(`bench: [${i + 1}/${steps.length}] ${st.label} → ${st.target}\n`);
      const t0 = Date.now();
      await st.run((f) => {
        if (tty) bar.update(i + Math.max(0, Math.min(1, f)), payload);
      });
      timings.push({ step: `${st.label} → ${st.target}`, seconds: (Date.now() - t0) / 1000 });
    }
    if (tty) bar.update(steps.length);
  } finally {
    if (tty) bar.stop();
  }
}
