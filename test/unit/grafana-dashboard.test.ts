import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { Metrics } from "../../src/metrics/registry.js";

// deploy/grafana/rwsplit-dashboard.json queries the metrics by the names src/metrics/registry.ts
// exports: every metric a panel names must exist, so a rename breaks this test, not a dashboard.

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string; datasource: { uid: string } }[];
}

const dashboard = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "..", "deploy", "grafana", "rwsplit-dashboard.json"), "utf8"),
) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };

test("every metric the dashboard queries is one rwsplit exports", async () => {
  const metrics = new Metrics();
  const exported = new Set([...(await metrics.render()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  const exprs = dashboard.panels.flatMap((p) => p.targets?.map((t) => t.expr) ?? []);
  expect(exprs.length).toBeGreaterThan(20);
  const used = new Set(
    exprs.flatMap((e) => [...e.matchAll(/\b((?:rwsplit|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!)),
  );
  const missing = [...used].filter(
    (name) => !exported.has(name) && !exported.has(name.replace(/_(bucket|sum|count)$/, "")),
  );
  expect(missing).toEqual([]);
  // Each rwsplit family is on the dashboard.
  const families = [...exported].filter((n) => n.startsWith("rwsplit_"));
  const absent = families.filter((f) => ![...used].some((u) => u === f || u.startsWith(`${f}_`)));
  expect(absent).toEqual([]);
});

/** Grafana's `$` + `{datasource}`: the data source picked in the dashboard's variable. */
const DATASOURCE_VARIABLE = `$${"{"}datasource}`;

test("panels have unique ids and query the chosen data source", () => {
  const ids = dashboard.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const p of dashboard.panels)
    for (const t of p.targets ?? []) expect(t.datasource.uid).toBe(DATASOURCE_VARIABLE);
  expect(dashboard.templating.list.map((v) => v.name)).toEqual(["datasource", "job", "instance"]);
});
