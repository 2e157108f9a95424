/**
 * The effective configuration, after validation and defaults (src/config/schema.ts produces it).
 * Every duration is in milliseconds. Modules receive this (or a slice of it) as an argument; none
 * reads process.env or files on its own (STYLE.md principle 8).
 */

export interface HostPort {
  host: string;
  port: number;
}

export interface BackendConfig extends HostPort {
  /** Stable name used in logs, metrics and /backends; defaults to "host:port". */
  name: string;
  /** Relative share of reads (replicas only); default 1. */
  weight: number;
  /** Failover preference, higher wins ties (replicas only); default 0. */
  priority: number;
}

export interface UserConfig {
  name: string;
  /** Plaintext password, or a `*` + 40 hex digits mysql_native_password hash (as ProxySQL allows). */
  password: string;
  /** Default schema when the client names none. */
  defaultSchema?: string;
}

/**
 * Read-your-writes scope: `user` (a read sees every write of its user within
 * `consistencyWindowMs`, from any connection, and through Redis from any rwsplit instance),
 * `session` (a read sees its own session's writes), `eventual` (reads may lag), `primary` (every
 * statement on the primary).
 */
export type Consistency = "user" | "session" | "eventual" | "primary";

export interface Config {
  /** Where clients connect; default 127.0.0.1:6033. */
  listen: HostPort;
  admin: {
    /** Fastify admin app; default 127.0.0.1:6070. */
    listen: HostPort;
    enabled: boolean;
    /** Bearer token for all but /healthz, /readyz and /metrics; absent: topology changes from loopback only. */
    token?: string;
  };
  log: { level: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent" };
  backends: {
    primary: BackendConfig;
    replicas: BackendConfig[];
  };
  /** Configured users (may be empty with `accountsFromBackend`). */
  users: UserConfig[];
  /**
   * `auth.from_backend: true`: the primary's own accounts log in too, loaded from its grant
   * tables with this account (default: the monitor's). Absent: only `users`.
   */
  accountsFromBackend?: {
    user: string;
    password: string;
    /** Reload every this long; default 300000. */
    refreshIntervalMs: number;
    /** At most one reload per this long for unknown names and wrong passwords; default 1000. */
    refreshMinGapMs: number;
  };
  monitor: {
    user: string;
    password: string;
    /** Health/lag check period; default 500. */
    intervalMs: number;
    /** A check slower than this is a failure; default 1000. */
    timeoutMs: number;
    heartbeat: {
      enabled: boolean;
      /** Default 250. */
      intervalMs: number;
      /** Schema holding the heartbeat table; default "rwsplit". */
      schema: string;
    };
  };
  pool: {
    /** Max backend connections per backend and user; default 200. */
    maxPerBackend: number;
    /** Default 3000. */
    connectTimeoutMs: number;
    /** Idle connections older than this are closed; default 60000. */
    idleTimeoutMs: number;
    /** A connection idle longer than this is pinged before reuse; default 5000. */
    pingAfterIdleMs: number;
    /** How long a client waits for a free backend connection before ERR 1040; default 5000. */
    acquireTimeoutMs: number;
  };
  limits: {
    /** Default 10000. */
    maxClientConnections: number;
    /** Largest client packet accepted; default 1 GiB (MariaDB's max_allowed_packet ceiling). */
    maxAllowedPacket: number;
    /**
     * A statement whose backend reads stay paused this long while its client could take more is
     * reported (logged once, rwsplit_relay_stalls_total) and its reads resumed.
     */
    relayStallWarnMs: number;
  };
  tls: {
    /** Offer TLS to clients; default true. */
    enabled: boolean;
    /** PEM files; when absent a self-signed certificate is generated at start. */
    certFile?: string;
    keyFile?: string;
  };
  routing: {
    /** Default "user" (read-your-writes across a user's connections). */
    consistency: Consistency;
    /** `user`: how long after a user's last write its reads must see it; default 10000. */
    consistencyWindowMs: number;
    /**
     * How long a read may wait on a replica (MASTER_GTID_WAIT) for the write it must see when the
     * monitor's positions are older than that write, before it goes to the primary; 0: no wait
     * (`user` and `session`). Default 50.
     */
    consistencyWaitMs: number;
    /** When no replica is eligible: serve reads from the primary (default) or fail them. */
    readFallback: "primary" | "error";
  };
  lag: {
    /** Full weight up to this lag; default 500. */
    softMs: number;
    /** Excluded past this lag; default 3000. */
    maxMs: number;
    /** Re-admitted only below this mark ...; default 2000. */
    readmitBelowMs: number;
    /** ... for this many consecutive checks; default 3. */
    readmitChecks: number;
    /** Keep at least this many of the best replicas serving even past maxMs (Vitess-style); default 0. */
    minServing: number;
  };
  failover: {
    /** Promote a replica when the primary fails (needs `admin`); default true. */
    automatic: boolean;
    /** The account promotion, switchover and rejoin run as (SUPER or the 10.5+ admin privileges). Absent: no failover. */
    admin?: { user: string; password: string };
    /** The account replicas replicate with (CHANGE MASTER TO MASTER_USER). */
    replication?: { user: string; password: string };
    /** The primary is failed after missing checks for this long, confirmed by the replicas; default 2000. */
    detectMs: number;
    /** New writes wait this long for a (new) primary instead of failing; default 10000. */
    holdWritesMs: number;
    /** How long a candidate may take to apply what it received / to catch up; default 10000. */
    catchUpMs: number;
    /** Switchover: how long open transactions on the old primary may take to finish; default 5000. */
    switchoverTimeoutMs: number;
  };
  /** SIGTERM: how long running statements may finish before connections are closed; default 10000. */
  drainTimeoutMs: number;
  /**
   * Processes serving client connections (`serve --workers N`, src/workers/): 1 serves in this
   * process; N > 1 runs N worker processes sharing the listen port, with the monitor, HA, the
   * admin app and backups once in the supervising process. Default 1; "auto" in the file: the cores.
   */
  workers: number;
  /**
   * V8's young generation (src/young-generation.ts): "fixed" at 1 MB per semi-space (default), or
   * "elastic", V8's own growth up to 16 MB under load.
   */
  youngGeneration: "fixed" | "elastic";
  digests: {
    /** Rows (statement digest × user × schema) kept at most; the least recently seen is evicted. 0: off. Default 5000. */
    max: number;
  };
  redis?: { url: string };
  /** Backups and the binlog archive (issue #16); absent: none. */
  backup?: BackupConfig;
}

/** How many backups a destination keeps (retention.ts): the newest `last`, and the newest of each of the last N days / M weeks. */
export interface RetentionConfig {
  last: number;
  daily: number;
  weekly: number;
}

export type BackupDestinationConfig =
  | { name: string; type: "dir"; path: string; retention: RetentionConfig }
  | {
      name: string;
      type: "s3";
      bucket: string;
      /** "" or ending in "/". */
      prefix: string;
      /** Absent: AWS's own endpoint for `region`. */
      endpoint?: string;
      region: string;
      /** Absent: the AWS SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles...). */
      accessKeyId?: string;
      secretAccessKey?: string;
      forcePathStyle: boolean;
      retention: RetentionConfig;
    };

export interface BackupConfig {
  /** physical: mariadb-backup; logical: mariadb-dump --single-transaction. Default physical. */
  method: "physical" | "logical";
  /** The account the backup tools, the checksums and the binlog archive connect as. */
  user: string;
  password: string;
  /** Back up from the primary when no replica is healthy; default false. */
  allowPrimary: boolean;
  compression: "zstd" | "gzip";
  /** Pause the source replica's SQL thread during the backup and record CHECKSUM TABLE of every table; default true. */
  sourceChecksums: boolean;
  /** Scratch space for verify and restore; default ".rwsplit/backup". */
  workDir: string;
  destinations: BackupDestinationConfig[];
  /** Cron pattern for `serve`; absent: no scheduled backups. */
  schedule?: string;
  /** Scheduled backups are verified right after; default true. */
  verifyAfterBackup: boolean;
  binlogs: {
    /** Archive the primary's binlogs while `serve` runs; default false. */
    enabled: boolean;
    /** Where mariadb-binlog writes before upload; default ".rwsplit/binlog-spool". */
    spoolDir: string;
    /** How often the growing binlog is uploaded; default 10000. */
    uploadIntervalMs: number;
    /** The server_id the archiver connects with (--stop-never-slave-server-id); default 4000000001. */
    serverId: number;
  };
}
