import pino, { type Logger } from "pino";

/** JSON logs (pino); secrets never print, whatever object a caller logs. */
export function createLogger(cfg: { level: string }): Logger {
  return pino({
    level: cfg.level,
    base: { service: "rwsplit" },
    redact: {
      paths: [
        "password",
        "*.password",
        "*.*.password",
        "users[*].password",
        "monitor.password",
        "credentials.*",
      ],
      censor: "***",
    },
  });
}
