import { ALL_PACKAGES, ensurePackages } from "../src/sandbox/install.js";

/**
 * Before any integration or e2e test: the real programs those layers start (MariaDB server and
 * client, sysbench, redis-server, haproxy) must be installed. The sandbox's own installer
 * (src/sandbox/install.ts) installs what is missing with apt-get as root, so `npm test` works on
 * a fresh machine; otherwise the run stops with the command to type.
 */
export default async function setup(): Promise<void> {
  await ensurePackages(ALL_PACKAGES, (line) => console.log(`global setup: ${line}`), "the tests");
}
