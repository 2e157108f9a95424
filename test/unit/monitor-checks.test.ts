import { describe, expect, test } from "vitest";
import {
  heartbeatSql,
  isMariaDb,
  parseDateTimeUs,
  parseHeartbeatRow,
  parseReplicationStatus,
  parseServerVariables,
  quoteIdent,
} from "../../src/monitor/checks.js";

// Recorded from the sandbox (MariaDB 10.11, mysql2 with dateStrings): SHOW ALL SLAVES STATUS on a
// replica with both threads running. The other states below are the fields that changed in the
// recordings of the same replica after each operation.
const RUNNING_ROW = {
  Connection_name: "",
  Slave_SQL_State: "Slave has read all relay log; waiting for more updates",
  Slave_IO_State: "Waiting for master to send event",
  Master_Host: "127.0.0.1",
  Master_User: "repl",
  Master_Port: 37357,
  Connect_Retry: 1,
  Master_Log_File: "mariadb-bin.000001",
  Read_Master_Log_Pos: 2292,
  Relay_Log_File: "relay-bin.000002",
  Relay_Log_Pos: 2593,
  Relay_Master_Log_File: "mariadb-bin.000001",
  Slave_IO_Running: "Yes",
  Slave_SQL_Running: "Yes",
  Replicate_Do_DB: "",
  Replicate_Ignore_DB: "",
  Replicate_Do_Table: "",
  Replicate_Ignore_Table: "",
  Replicate_Wild_Do_Table: "",
  Replicate_Wild_Ignore_Table: "",
  Last_Errno: 0,
  Last_Error: "",
  Skip_Counter: 0,
  Exec_Master_Log_Pos: 2292,
  Relay_Log_Space: 2896,
  Until_Condition: "None",
  Until_Log_File: "",
  Until_Log_Pos: 0,
  Master_SSL_Allowed: "No",
  Master_SSL_CA_File: "",
  Master_SSL_CA_Path: "",
  Master_SSL_Cert: "",
  Master_SSL_Cipher: "",
  Master_SSL_Key: "",
  Seconds_Behind_Master: 0,
  Master_SSL_Verify_Server_Cert: "No",
  Last_IO_Errno: 0,
  Last_IO_Error: "",
  Last_SQL_Errno: 0,
  Last_SQL_Error: "",
  Replicate_Ignore_Server_Ids: "",
  Master_Server_Id: 1,
  Master_SSL_Crl: "",
  Master_SSL_Crlpath: "",
  Using_Gtid: "Slave_Pos",
  Gtid_IO_Pos: "0-1-10",
  Replicate_Do_Domain_Ids: "",
  Replicate_Ignore_Domain_Ids: "",
  Parallel_Mode: "optimistic",
  SQL_Delay: 0,
  SQL_Remaining_Delay: null,
  Slave_SQL_Running_State: "Slave has read all relay log; waiting for more updates",
  Slave_DDL_Groups: 9,
  Slave_Non_Transactional_Groups: 0,
  Slave_Transactional_Groups: 1,
  Replicate_Rewrite_DB: "",
  Retried_transactions: 0,
  Max_relay_log_size: 1073741824,
  Executed_log_entries: 30,
  Slave_received_heartbeats: 0,
  Slave_heartbeat_period: 30,
  Gtid_Slave_Pos: "0-1-10",
};

const SQL_ERROR =
  "Could not execute Write_rows_v1 event on table app.dup; Duplicate entry '1' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's master log mariadb-bin.000001, end_log_pos 2625";
const IO_ERROR =
  "error reconnecting to master 'repl@127.0.0.1:37357' - retry-time: 1  maximum-retries: 100000  message: Can't connect to server on '127.0.0.1' (111 \"Connection refused\")";

const STATES = {
  running: RUNNING_ROW,
  // STOP SLAVE SQL_THREAD
  sqlStopped: { ...RUNNING_ROW, Slave_SQL_Running: "No", Seconds_Behind_Master: null },
  // STOP SLAVE
  stopped: { ...RUNNING_ROW, Slave_IO_Running: "No", Slave_SQL_Running: "No", Seconds_Behind_Master: null },
  // A replicated insert hit a duplicate key on the replica.
  sqlError: {
    ...RUNNING_ROW,
    Slave_SQL_Running: "No",
    Seconds_Behind_Master: null,
    Last_Errno: 1062,
    Last_Error: SQL_ERROR,
    Last_SQL_Errno: 1062,
    Last_SQL_Error: SQL_ERROR,
  },
  // The primary shut down: the IO thread retries every MASTER_CONNECT_RETRY seconds.
  primaryGone: {
    ...RUNNING_ROW,
    Slave_IO_Running: "Connecting",
    Seconds_Behind_Master: null,
    Last_IO_Errno: 2003,
    Last_IO_Error: IO_ERROR,
  },
};

describe("parseReplicationStatus", () => {
  test.each([
    [
      "running",
      { ioRunning: true, sqlRunning: true, broken: false, secondsBehindMaster: 0, lastError: null },
    ],
    [
      "sqlStopped",
      { ioRunning: true, sqlRunning: false, broken: false, secondsBehindMaster: null, lastError: null },
    ],
    [
      "stopped",
      { ioRunning: false, sqlRunning: false, broken: false, secondsBehindMaster: null, lastError: null },
    ],
    [
      "sqlError",
      { ioRunning: true, sqlRunning: false, broken: true, secondsBehindMaster: null, lastError: SQL_ERROR },
    ],
    [
      "primaryGone",
      { ioRunning: false, sqlRunning: true, broken: true, secondsBehindMaster: null, lastError: IO_ERROR },
    ],
  ] as const)("%s", (state, expected) => {
    const s = parseReplicationStatus([STATES[state]]);
    expect(s).toMatchObject(expected);
  });

  test("the channel keeps the verbatim thread states and the GTID IO position", () => {
    const s = parseReplicationStatus([STATES.primaryGone])!;
    expect(s.channels).toEqual([
      {
        connectionName: "",
        ioRunning: "Connecting",
        sqlRunning: "Yes",
        secondsBehindMaster: null,
        lastIoError: IO_ERROR,
        lastSqlError: null,
        gtidIoPos: "0-1-10",
        masterHost: "127.0.0.1",
        masterPort: 37357,
      },
    ]);
  });

  test("no rows: the server replicates from nobody", () => {
    expect(parseReplicationStatus([])).toBeNull();
  });

  test("multi-source: every channel must run; the lag is the worst channel's; errors name their channel", () => {
    const a = { ...RUNNING_ROW, Connection_name: "a", Seconds_Behind_Master: 3 };
    const b = { ...RUNNING_ROW, Connection_name: "b", Seconds_Behind_Master: 7 };
    expect(parseReplicationStatus([a, b])).toMatchObject({
      ioRunning: true,
      sqlRunning: true,
      secondsBehindMaster: 7,
    });
    const broken = { ...STATES.sqlError, Connection_name: "b" };
    expect(parseReplicationStatus([a, broken])).toMatchObject({
      sqlRunning: false,
      broken: true,
      secondsBehindMaster: null,
      lastError: `b: ${SQL_ERROR}`,
    });
  });

  test("an old error on a thread that runs again is reported but is not 'broken'", () => {
    const s = parseReplicationStatus([{ ...RUNNING_ROW, Last_SQL_Error: SQL_ERROR }])!;
    expect(s.broken).toBe(false);
    expect(s.lastError).toBe(SQL_ERROR);
  });

  test("MySQL 8.4 SHOW REPLICA STATUS spelling", () => {
    const s = parseReplicationStatus([
      {
        Replica_IO_Running: "Yes",
        Replica_SQL_Running: "Yes",
        Seconds_Behind_Source: "2",
        Last_IO_Error: "",
        Last_SQL_Error: "",
        Source_Host: "db1",
        Source_Port: 3306,
      },
    ])!;
    expect(s).toMatchObject({ ioRunning: true, sqlRunning: true, secondsBehindMaster: 2 });
    expect(s.channels[0]).toMatchObject({
      connectionName: "",
      masterHost: "db1",
      masterPort: 3306,
      gtidIoPos: null,
    });
  });
});

describe("parseServerVariables", () => {
  test.each([
    [
      {
        read_only: 1,
        gtid_slave_pos: "0-1-11",
        gtid_current_pos: "0-1-11",
        gtid_binlog_pos: "0-1-11",
        max_prepared_stmt_count: 16382,
        max_allowed_packet: 16777216,
      },
      {
        readOnly: true,
        gtidSlavePos: "0-1-11",
        gtidCurrentPos: "0-1-11",
        gtidBinlogPos: "0-1-11",
        maxPreparedStmtCount: 16382,
        maxAllowedPacket: 16777216,
      },
    ],
    [
      { read_only: 0, gtid_slave_pos: "", gtid_current_pos: "0-1-3", gtid_binlog_pos: "0-1-3" },
      {
        readOnly: false,
        gtidSlavePos: "",
        gtidCurrentPos: "0-1-3",
        gtidBinlogPos: "0-1-3",
        maxPreparedStmtCount: null,
        maxAllowedPacket: null,
      },
    ],
    // MySQL: no MariaDB GTID variables (max_prepared_stmt_count as a string, as some drivers give it).
    [
      { read_only: "1", max_prepared_stmt_count: "20", max_allowed_packet: "67108864" },
      {
        readOnly: true,
        gtidSlavePos: null,
        gtidCurrentPos: null,
        gtidBinlogPos: null,
        maxPreparedStmtCount: 20,
        maxAllowedPacket: 67108864,
      },
    ],
  ])("%j", (row, expected) => {
    expect(parseServerVariables(row)).toEqual(expected);
  });
});

describe("parseDateTimeUs", () => {
  test.each([
    ["1970-01-01 00:00:00.000001", 1],
    ["1970-01-01 00:00:01", 1_000_000],
    ["2024-11-25 07:48:00.123456", Date.UTC(2024, 10, 25, 7, 48, 0) * 1000 + 123_456],
    ["2024-11-25 07:48:00.5", Date.UTC(2024, 10, 25, 7, 48, 0) * 1000 + 500_000],
    ["2024-11-25T07:48:00.000010", Date.UTC(2024, 10, 25, 7, 48, 0) * 1000 + 10],
  ])("%s", (text, us) => {
    expect(parseDateTimeUs(text)).toBe(us);
  });

  test.each([null, undefined, "", "yesterday", "2024-11-25", "2024-11-25 07:48:00.1234567"])(
    "%j is not a DATETIME",
    (v) => {
      expect(parseDateTimeUs(v)).toBeNull();
    },
  );

  test("microsecond differences survive (no Date rounding to ms)", () => {
    const a = parseDateTimeUs("2030-01-01 00:00:00.999999")!;
    const b = parseDateTimeUs("2030-01-01 00:00:01.000000")!;
    expect(b - a).toBe(1);
  });
});

describe("heartbeat rows and statements", () => {
  test("a replica's row", () => {
    expect(
      parseHeartbeatRow({ ts: "2024-11-25 07:48:00.100000", now_ts: "2024-11-25 07:48:00.350000" }),
    ).toEqual({
      tsUs: Date.UTC(2024, 10, 25, 7, 48, 0) * 1000 + 100_000,
      replicaNowUs: Date.UTC(2024, 10, 25, 7, 48, 0) * 1000 + 350_000,
    });
    expect(parseHeartbeatRow(undefined)).toBeNull();
    expect(parseHeartbeatRow({ ts: null, now_ts: "2024-11-25 07:48:00" })).toBeNull();
  });

  test("statements quote the schema", () => {
    expect(quoteIdent("a`b")).toBe("`a``b`");
    const sql = heartbeatSql("rwsplit");
    expect(sql.createSchema).toBe("CREATE DATABASE IF NOT EXISTS `rwsplit`");
    expect(sql.createTable).toBe(
      "CREATE TABLE IF NOT EXISTS `rwsplit`.heartbeat (id INT PRIMARY KEY, ts DATETIME(6) NOT NULL)",
    );
    expect(sql.write).toBe("REPLACE INTO `rwsplit`.heartbeat (id, ts) VALUES (1, NOW(6))");
  });

  test("flavour from VERSION()", () => {
    expect(isMariaDb("10.11.19-MariaDB-0+deb12u1")).toBe(true);
    expect(isMariaDb("8.4.3")).toBe(false);
  });
});
