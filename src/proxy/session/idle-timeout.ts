import type { ServerDefaults } from "../server-defaults.js";

/**
 * How long a client connection may stay idle before it is closed, as the server decides it
 * (MariaDB "wait_timeout"): the session's own `wait_timeout` once it set one, else the server's
 * `interactive_timeout` for clients that said CLIENT_INTERACTIVE at login (the server copies it
 * into their wait_timeout, until a COM_RESET_CONNECTION or COM_CHANGE_USER starts it over from
 * the global one: the caller passes the session's pool key's flag), else its `wait_timeout`.
 * rwsplit holds the client connection, so it is rwsplit that must close it: an idle session's
 * backend connections are pooled and never time out on its behalf.
 */
export function idleLimitMs(
  vars: ReadonlyMap<string, string>,
  interactive: boolean,
  defaults: ServerDefaults,
): number {
  const own = Number(vars.get("wait_timeout"));
  if (vars.has("wait_timeout") && Number.isFinite(own) && own > 0) return own * 1000;
  return (interactive ? defaults.interactiveTimeoutS : defaults.waitTimeoutS) * 1000;
}
