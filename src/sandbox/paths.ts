import { dirname, join, resolve } from "node:path";
import { RwsplitError } from "../errors.js";

/**
 * The layout of a sandbox state directory:
 *
 *   <dir>/sandbox.json          nodes, ports, pids (what `down` stops and `status` reads)
 *   <dir>/template/             the one mariadb-install-db result, deleted once copied
 *   <dir>/<node>/data/          the node's datadir
 *   <dir>/<node>/mariadbd.sock  its unix socket
 *   <dir>/<node>/mariadbd.pid   the pid file mariadbd writes itself
 *   <dir>/<node>/error.log      --log-error (what failure messages quote the tail of)
 *   <dir>/<node>/stdout.log     the detached process's stdout and stderr
 */

export const DEFAULT_SANDBOX_DIR = ".rwsplit/sandbox";
export const STATE_FILE = "sandbox.json";

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface NodePaths {
  root: string;
  dataDir: string;
  socket: string;
  pidFile: string;
  errorLog: string;
  stdoutLog: string;
}

export function sandboxDir(dir: string): string {
  return resolve(dir);
}

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

export function templateDir(dir: string): string {
  return join(dir, "template");
}

export function nodeName(index: number): string {
  return index === 0 ? "primary" : `replica${index}`;
}

export function nodePaths(dir: string, name: string): NodePaths {
  const root = join(dir, name);
  const paths: NodePaths = {
    root,
    dataDir: join(root, "data"),
    socket: join(root, "mariadbd.sock"),
    pidFile: join(root, "mariadbd.pid"),
    errorLog: join(root, "error.log"),
    stdoutLog: join(root, "stdout.log"),
  };
  if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      `${name}: unix socket path ${paths.socket} is longer than ${MAX_SOCKET_PATH} bytes; pass a shorter --dir`,
    );
  }
  return paths;
}

/** The paths of a node recorded in the state file (its datadir is `<dir>/<name>/data`). */
export function pathsOfNode(node: { name: string; dataDir: string }): NodePaths {
  return nodePaths(dirname(dirname(node.dataDir)), node.name);
}
