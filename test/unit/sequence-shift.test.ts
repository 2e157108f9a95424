import { describe, expect, test } from "vitest";
import { sequenceShift, shiftSequenceIds } from "../../src/protocol/sequence-shift.js";

const MAX = 0xffffff;

describe("sequenceShift: the client's physical packets minus those sent", () => {
  test.each([
    { client: 100, sent: 102, shift: 0 },
    { client: MAX - 2, sent: MAX - 1, shift: 0 },
    { client: MAX - 2, sent: MAX, shift: -1 }, // exactly 0xFFFFFF: an empty packet follows
    { client: MAX - 1, sent: MAX + 1, shift: -1 },
    { client: MAX, sent: MAX + 2, shift: 0 }, // the client's took two already
    { client: 2 * MAX - 1, sent: 2 * MAX + 3, shift: -1 },
  ])("$client → $sent bytes: $shift", ({ client, sent, shift }) => {
    expect(sequenceShift(client, sent)).toBe(shift);
  });
});

describe("shiftSequenceIds", () => {
  const pkt = (seq: number, payload: number[]) => Buffer.from([payload.length, 0, 0, seq, ...payload]);

  test("every packet's id moves, payloads stay", () => {
    const response = Buffer.concat([pkt(2, [1]), pkt(3, [0xfe, 0, 0, 2, 0]), pkt(4, [])]);
    expect([...shiftSequenceIds(response, -1)]).toEqual([
      ...pkt(1, [1]),
      ...pkt(2, [0xfe, 0, 0, 2, 0]),
      ...pkt(3, []),
    ]);
  });

  test("modulo 256", () => {
    expect([...shiftSequenceIds(pkt(0, [0]), -1)]).toEqual([...pkt(255, [0])]);
  });
});
