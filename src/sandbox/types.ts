import type { SandboxCredentials } from "./credentials.js";

/** One mariadbd of the sandbox, as recorded in `<dir>/sandbox.json`. */
export interface SandboxNode {
  name: string;
  role: "primary" | "replica";
  host: string;
  port: number;
  pid: number;
  socket: string;
  dataDir: string;
}

export interface SandboxInfo {
  dir: string;
  primary: SandboxNode;
  replicas: SandboxNode[];
  credentials: SandboxCredentials;
}

export interface SandboxOptions {
  /** State directory; default `.rwsplit/sandbox`. */
  dir: string;
  /** Primary port; replica i gets basePort + i. Default 13306. */
  basePort?: number;
  /** Explicit ports, primary first (overrides basePort); needs replicas + 1 entries. */
  ports?: number[];
  /** Default 2. */
  replicas?: number;
  /** rpl_semi_sync_master_timeout in milliseconds; default 10 000. */
  semiSyncTimeoutMs?: number;
  log?: (line: string) => void;
}

/** What `status` shows for one node; null where the node could not be asked. */
export interface NodeStatus {
  name: string;
  role: "primary" | "replica";
  pid: number;
  port: number;
  alive: boolean;
  readOnly: boolean | null;
  /** Slave_IO_Running / Slave_SQL_Running ("Yes", "No", "Connecting"); null without a master. */
  ioRunning: string | null;
  sqlRunning: string | null;
  secondsBehind: number | null;
  gtidCurrentPos: string | null;
  gtidSlavePos: string | null;
  /** Last_IO_Error / Last_SQL_Error, or why the node could not be queried. */
  error: string | null;
}
