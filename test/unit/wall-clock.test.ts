import { describe, expect, it, vi } from "vitest";
import { wallMs } from "../../src/proxy/wall-clock.js";

describe("wallMs", () => {
  it("is Date.now() of the reading, or up to a millisecond behind it, never ahead", () => {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const t = wallMs(performance.now());
      const after = Date.now();
      expect(Number.isInteger(t)).toBe(true);
      expect(t).toBeGreaterThanOrEqual(before - 1);
      expect(t).toBeLessThanOrEqual(after);
    }
  });

  it("follows a step of the system clock once a second has passed since it last looked", () => {
    const stepped = Date.now() + 3_600_000;
    const dateNow = vi.spyOn(Date, "now").mockReturnValue(stepped);
    try {
      // A reading two seconds on: the offset is read again, the step with it.
      const later = wallMs(performance.now() + 2000);
      expect(later).toBeGreaterThanOrEqual(stepped + 2000 - 1);
      expect(later).toBeLessThan(stepped + 2000 + 100);
    } finally {
      dateNow.mockRestore();
    }
  });
});
