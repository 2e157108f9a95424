import { describe, expect, test } from "vitest";
import { ServerStatus, SessionTrack } from "../../../src/protocol/constants/server-status.js";
import {
  eofForClient,
  okForClient,
  type TrackingFilter,
} from "../../../src/protocol/packets/ok-for-client.js";
import { bytes, eofPayload, lenencStr, okPayload, stateEntry } from "../../helpers/wire.js";

// What a backend connection with rwsplit's tracking sends, and what the client's own session
// would have been sent: the bytes a direct connection gets (MariaDB's net_send_ok layout).

const AUTOCOMMIT = ServerStatus.AUTOCOMMIT;
const CHANGED = ServerStatus.SESSION_STATE_CHANGED;

/** MariaDB 10.11's defaults: five variables, the schema, no state change, no transaction info. */
const DEFAULTS: TrackingFilter = {
  sessionTrack: true,
  variables: new Set([
    "autocommit",
    "character_set_client",
    "character_set_connection",
    "character_set_results",
    "time_zone",
  ]),
  schema: true,
  stateChange: false,
  transactionInfo: 0,
};
const NO_TRACK: TrackingFilter = { ...DEFAULTS, sessionTrack: false };
const EVERYTHING: TrackingFilter = { ...DEFAULTS, variables: "*", stateChange: true, transactionInfo: 2 };

const variable = (name: string, value: string) =>
  stateEntry(SessionTrack.SYSTEM_VARIABLES, bytes(lenencStr(name), lenencStr(value)));
const schema = (s: string) => stateEntry(SessionTrack.SCHEMA, lenencStr(s));
const stateChange = stateEntry(SessionTrack.STATE_CHANGE, Buffer.from("1"));

/**
 * An OK as MariaDB's net_send_ok writes it. Under CLIENT_SESSION_TRACK the info is
 * string<lenenc> and is written only when there is a message or the state changed (captured from
 * MariaDB 10.11: `DO 1` answers 00 00 00 0200 0000, nothing after the warnings).
 */
function mariaOk(o: {
  header?: number;
  status?: number;
  info?: string;
  state?: Buffer[];
  affected?: number;
  insertId?: number;
  track?: boolean;
}): Buffer {
  const state = o.state === undefined ? undefined : Buffer.concat(o.state);
  const status = (o.status ?? AUTOCOMMIT) | (state !== undefined ? CHANGED : 0);
  const track = o.track ?? true;
  const withInfo = (track && state !== undefined) || (o.info ?? "") !== "";
  return okPayload({
    header: o.header,
    status: track ? status : status & ~CHANGED,
    affectedRows: o.affected ?? 0,
    lastInsertId: o.insertId ?? 0,
    info: withInfo ? (o.info ?? "") : undefined,
    sessionTrack: withInfo,
    sessionState: track ? state : undefined,
  });
}
const backendOk = mariaOk;

describe("okForClient", () => {
  const cases: [string, Buffer, TrackingFilter, Buffer | null][] = [
    ["a plain OK is the same for every client", backendOk({}), DEFAULTS, null],
    ["a plain OK, client without CLIENT_SESSION_TRACK", backendOk({}), NO_TRACK, null],
    [
      "SET @a = 1: rwsplit's state-change entry is not the client's",
      backendOk({ state: [stateChange] }),
      DEFAULTS,
      mariaOk({}),
    ],
    [
      "SET @a = 1 for a client tracking state changes: unchanged",
      backendOk({ state: [stateChange] }),
      EVERYTHING,
      null,
    ],
    [
      "INSERT: last_gtid is rwsplit's, the message stays (string<lenenc>)",
      backendOk({
        affected: 3,
        info: "Records: 3  Duplicates: 0  Warnings: 0",
        state: [variable("last_gtid", "0-1-9")],
      }),
      DEFAULTS,
      mariaOk({ affected: 3, info: "Records: 3  Duplicates: 0  Warnings: 0" }),
    ],
    [
      "INSERT for a client without CLIENT_SESSION_TRACK: the message stays string<lenenc> (MariaDB's net_send_ok)",
      backendOk({
        affected: 3,
        info: "Records: 3  Duplicates: 0  Warnings: 0",
        state: [variable("last_gtid", "0-1-9")],
      }),
      NO_TRACK,
      mariaOk({ affected: 3, info: "Records: 3  Duplicates: 0  Warnings: 0" }),
    ],
    [
      "SET autocommit=0: the default trackers report autocommit, not the state change",
      backendOk({ status: 0, state: [variable("autocommit", "OFF"), stateChange] }),
      DEFAULTS,
      mariaOk({ status: 0, state: [variable("autocommit", "OFF")] }),
    ],
    [
      "USE db: the schema entry stays, character_set_database goes",
      backendOk({ state: [variable("character_set_database", "latin1"), schema("other"), stateChange] }),
      DEFAULTS,
      mariaOk({ state: [schema("other")] }),
    ],
    [
      "USE db for a client that turned session_track_schema off: nothing left",
      backendOk({ state: [schema("other")] }),
      { ...DEFAULTS, schema: false },
      mariaOk({}),
    ],
    [
      "SET sql_mode for a client without CLIENT_SESSION_TRACK: flag and state go",
      backendOk({ state: [variable("sql_mode", "ANSI_QUOTES")] }),
      NO_TRACK,
      mariaOk({ track: false }),
    ],
    [
      "an OK ending a result set (0xFE header) is rewritten the same way",
      mariaOk({ header: 0xfe, state: [stateChange] }),
      DEFAULTS,
      mariaOk({ header: 0xfe }),
    ],
  ];
  test.each(cases)("%s", (_name, payload, filter, expected) => {
    const out = okForClient(payload, filter);
    if (expected === null) expect(out).toBeNull();
    else expect(out?.toString("hex")).toBe(expected.toString("hex"));
  });

  test("large affected rows and insert ids (multi-byte lenenc) keep their bytes", () => {
    const payload = mariaOk({ affected: 70_000, insertId: 2 ** 40, state: [stateChange] });
    const want = mariaOk({ affected: 70_000, insertId: 2 ** 40 });
    expect(okForClient(payload, DEFAULTS)?.toString("hex")).toBe(want.toString("hex"));
  });
});

describe("eofForClient", () => {
  test("the state flag goes for a client that does not track everything", () => {
    expect(eofForClient(eofPayload(AUTOCOMMIT), DEFAULTS)).toBeNull();
    expect(eofForClient(eofPayload(AUTOCOMMIT | CHANGED), DEFAULTS)?.toString("hex")).toBe(
      eofPayload(AUTOCOMMIT).toString("hex"),
    );
    expect(eofForClient(eofPayload(AUTOCOMMIT | CHANGED), EVERYTHING)).toBeNull();
  });
});
