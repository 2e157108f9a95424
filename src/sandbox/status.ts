import { connectNode, isNodeRunning } from "./node.js";
import { sandboxDir } from "./paths.js";
import { replicaThreads } from "./replication.js";
import { readState } from "./state.js";
import type { NodeStatus, SandboxNode } from "./types.js";

/** What `rwsplit sandbox status` shows: one row per node, asked over TCP as root. */

async function nodeStatus(n: SandboxNode): Promise<NodeStatus> {
  const st: NodeStatus = {
    name: n.name,
    role: n.role,
    pid: n.pid,
    port: n.port,
    alive: isNodeRunning(n.pid, n.dataDir),
    readOnly: null,
    ioRunning: null,
    sqlRunning: null,
    secondsBehind: null,
    gtidCurrentPos: null,
    gtidSlavePos: null,
    error: null,
  };
  if (!st.alive) return st;
  try {
    const c = await connectNode(n);
    try {
      const [rows] = await c.query(
        "SELECT @@read_only AS ro, @@gtid_current_pos AS cur, @@gtid_slave_pos AS sp",
      );
      const v = (rows as { ro: number; cur: string; sp: string }[])[0];
      st.readOnly = v ? Number(v.ro) === 1 : null;
      st.gtidCurrentPos = v?.cur ?? null;
      st.gtidSlavePos = v?.sp ?? null;
      const t = await replicaThreads(c);
      if (t) {
        st.ioRunning = t.ioRunning;
        st.sqlRunning = t.sqlRunning;
        st.secondsBehind = t.secondsBehind;
        st.error = t.lastIoError || t.lastSqlError || null;
      }
    } finally {
      await c.end();
    }
  } catch (e) {
    st.error = (e as Error).message;
  }
  return st;
}

/** One status per node, primary first; empty when `dir` holds no sandbox. */
export async function sandboxStatus(dir: string): Promise<NodeStatus[]> {
  const state = readState(sandboxDir(dir));
  if (!state) return [];
  return Promise.all(state.nodes.map(nodeStatus));
}

/** `primary  primary  pid 1234  port 13306  up  read_only=OFF io=- sql=- behind=- gtid_current=0-1-5 gtid_slave=` */
export function formatStatus(s: NodeStatus): string {
  const onOff = (b: boolean | null) => (b === null ? "?" : b ? "ON" : "OFF");
  return [
    s.name.padEnd(9),
    s.role.padEnd(8),
    `pid ${String(s.pid).padEnd(8)}`,
    `port ${String(s.port).padEnd(6)}`,
    s.alive ? "up  " : "DOWN",
    `read_only=${onOff(s.readOnly)}`,
    `io=${s.ioRunning ?? "-"}`,
    `sql=${s.sqlRunning ?? "-"}`,
    `behind=${s.secondsBehind ?? "-"}`,
    `gtid_current_pos=${s.gtidCurrentPos ?? "?"}`,
    `gtid_slave_pos=${s.gtidSlavePos ?? "?"}`,
    ...(s.error ? [`error=${JSON.stringify(s.error)}`] : []),
  ].join(" ");
}
