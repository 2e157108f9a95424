import pino, { type DestinationStream, type Logger } from "pino";

/**
 * Where a password can sit in what gets logged: the config (users[].password, monitor.password,
 * redis.url as redis://:secret@host), alone or nested one level down (`{ config }`, `{ user }`), and
 * driver option objects. pino's `*` matches exactly one level, hence the explicit deeper paths.
 */
export const REDACT_PATHS: readonly string[] = [
  "password",
  "*.password",
  "*.*.password",
  "users[*].password",
  "*.users[*].password",
  "monitor.password",
  "*.monitor.password",
  "redis.url",
  "*.redis.url",
  "credentials.*",
  "*.credentials.*",
];

/**
 * JSON logs (pino); secrets never print, whatever object a caller logs. `destination` defaults to
 * stdout; tests pass a stream to read the lines back.
 */
export function createLogger(cfg: { level: string }, destination?: DestinationStream): Logger {
  const options = {
    level: cfg.level,
    base: { service: "rwsplit" },
    redact: { paths: [...REDACT_PATHS], censor: "***" },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
