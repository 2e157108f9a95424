/**
 * What a backup command reports while it runs: a progress bar on a terminal, one JSON object
 * per line otherwise (progress-report.ts). Every event has `event`; the rest depends on it.
 */
export type BackupEvent =
  | { event: "source"; source: string; why: string; rejected: { name: string; why: string }[] }
  | { event: "start"; id: string; method: string; totalBytes: number | null }
  | { event: "progress"; id: string; rawBytes: number; storedBytes: number; totalBytes: number | null }
  | { event: "destination"; id: string; destination: string; ok: boolean; error?: string }
  | { event: "step"; id: string; step: string }
  | { event: "done"; id: string; ok: boolean; durationMs: number; error?: string };

export type Report = (e: BackupEvent) => void;
