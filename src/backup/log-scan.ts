import type { LogSummary } from "./manifest.js";

/**
 * Finds warnings and errors in the output of the MariaDB tools and the server's error log. Pure.
 * The shapes, as the tools print them:
 *
 *   [00] 2026-12-06 18:16:23 Warning: option 'datadir' has different values:    mariadb-backup
 *   [00] 2026-12-06 18:16:23 Error: failed to ...                                mariadb-backup
 *   2026-12-06 18:16:24 0 [Warning] InnoDB: ...        / [ERROR]                  mariadbd, InnoDB
 *   mariadb-dump: Got error: 2013: Lost connection ... / mariadb-dump: Error: ... mariadb-dump
 *   Warning: ... / WARNING: ... / ERROR: ...                                      mariadb, mariadb-binlog
 *
 * Only those markers count: mariadb-backup also prints the names of the files it copies, and
 * `sys/statements_with_errors_or_warnings.frm` is not an error.
 */

const WARNING = /\[warning\]|(^|\]\s|\d\d:\d\d:\d\d\s|^\S+:\s)warning:/i;
const ERROR = /\[error\]|(^|\]\s|\d\d:\d\d:\d\d\s|^\S+:\s)(error|got error)\b:?|^ERROR \d+/i;
const MAX_LINES = 50;

export function scanLog(text: string, ignore: readonly RegExp[] = []): LogSummary {
  let warnings = 0;
  let errors = 0;
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (ignore.some((r) => r.test(line))) continue;
    const isError = ERROR.test(line);
    const isWarning = !isError && WARNING.test(line);
    if (!isError && !isWarning) continue;
    if (isError) errors++;
    else warnings++;
    if (lines.length < MAX_LINES) lines.push(line.trim());
  }
  return { warnings, errors, lines };
}

export function mergeLogs(...logs: LogSummary[]): LogSummary {
  return {
    warnings: logs.reduce((n, l) => n + l.warnings, 0),
    errors: logs.reduce((n, l) => n + l.errors, 0),
    lines: logs.flatMap((l) => l.lines).slice(0, MAX_LINES),
  };
}
