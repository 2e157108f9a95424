/**
 * A strict parser for the Prometheus text exposition format 0.0.4, for tests: it throws (naming the
 * line) on anything a Prometheus server would reject or that breaks the format's rules.
 *
 *   # HELP <metric> <docstring>          docstring escapes: \\ and \n
 *   # TYPE <metric> counter|gauge|histogram|summary|untyped
 *   <metric>{<label>="<value>",...} <float> [<timestamp ms>]   label value escapes: \\ \" \n
 *
 * Rules checked: names match [a-zA-Z_:][a-zA-Z0-9_:]* (labels [a-zA-Z_][a-zA-Z0-9_]*, not "__"
 * prefixed); at most one HELP and one TYPE per family, TYPE before its samples; a family's samples
 * are contiguous; no duplicate series; histogram samples are <name>_bucket (with `le`), _sum and
 * _count, buckets cumulative, ending at le="+Inf" equal to _count.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  line: number;
}

export interface Family {
  name: string;
  help: string | null;
  type: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<string, string[]> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["_sum", "_count"],
};

class PromParseError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seriesSeen = new Set<string>();
  const closed = new Set<string>();
  let current: Family | null = null;
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new PromParseError(lines.length, "exposition must end with a newline");

  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, help: null, type: "untyped", samples: [] };
      families.set(name, f);
    }
    return f;
  };

  lines.forEach((raw, i) => {
    const n = i + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (m === null) return; // a plain comment
      const [, keyword, name, rest = ""] = m;
      if (!METRIC_NAME.test(name!)) throw new PromParseError(n, `bad metric name ${name}`);
      const f = family(name!);
      if (f.samples.length > 0) throw new PromParseError(n, `${keyword} for ${name} after its samples`);
      if (keyword === "HELP") {
        if (f.help !== null) throw new PromParseError(n, `second HELP for ${name}`);
        f.help = unescapeHelp(rest, n);
      } else {
        if (f.type !== "untyped" || !TYPES.has(rest.trim())) {
          throw new PromParseError(n, `bad or second TYPE for ${name}: ${rest}`);
        }
        f.type = rest.trim();
      }
      return;
    }
    const sample = parseSample(raw, n);
    const f = owningFamily(families, sample.name) ?? family(sample.name);
    if (current !== f) {
      if (current !== null) closed.add(current.name);
      if (closed.has(f.name)) throw new PromParseError(n, `samples of ${f.name} are not contiguous`);
      current = f;
    }
    const seriesKey = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seriesSeen.has(seriesKey)) throw new PromParseError(n, `duplicate series ${seriesKey}`);
    seriesSeen.add(seriesKey);
    f.samples.push(sample);
  });

  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

/** The family a sample belongs to: its own name, or a typed family whose suffix it carries. */
function owningFamily(families: Map<string, Family>, sampleName: string): Family | undefined {
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const suffix of suffixes) {
      if (!sampleName.endsWith(suffix)) continue;
      const f = families.get(sampleName.slice(0, -suffix.length));
      if (f?.type === type) return f;
    }
  }
  const f = families.get(sampleName);
  if (f !== undefined && SUFFIXES[f.type] !== undefined) {
    throw new Error(
      `sample ${sampleName} of ${f.type} ${f.name} lacks a ${SUFFIXES[f.type]!.join("/")} suffix`,
    );
  }
  return f;
}

function parseSample(raw: string, n: number): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?$/.exec(raw);
  if (m === null) throw new PromParseError(n, `not a sample line: ${raw}`);
  const [, name, labelText, valueText] = m;
  return { name: name!, labels: parseLabels(labelText ?? "", n), value: parseValue(valueText!, n), line: n };
}

/** `{a="x",b="y\"z"}`; a trailing comma is allowed by the format. */
function parseLabels(text: string, n: number): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text === "") return labels;
  let i = 1;
  const end = text.length - 1;
  while (i < end) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new PromParseError(n, `label without '=' in ${text}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith("__"))
      throw new PromParseError(n, `bad label name ${name}`);
    if (name in labels) throw new PromParseError(n, `label ${name} twice`);
    if (text[eq + 1] !== '"') throw new PromParseError(n, `label ${name} value is not quoted`);
    let value = "";
    let j = eq + 2;
    for (; j < end && text[j] !== '"'; j++) {
      if (text[j] !== "\\") {
        value += text[j];
        continue;
      }
      j++;
      const escaped = { "\\": "\\", '"': '"', n: "\n" }[text[j] ?? ""];
      if (escaped === undefined) throw new PromParseError(n, `bad escape \\${text[j]} in label ${name}`);
      value += escaped;
    }
    if (text[j] !== '"') throw new PromParseError(n, `unterminated value of label ${name}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i !== end) throw new PromParseError(n, `expected ',' or '}' after label ${name}`);
  }
  return labels;
}

/**
 * Prometheus reads values with Go's strconv.ParseFloat, which takes NaN and Inf in any case (and
 * prom-client writes "Nan" for a NaN gauge, e.g. nodejs_eventloop_lag_min before any sample).
 */
function parseValue(text: string, n: number): number {
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text);
  if (special !== null) {
    if (special[2]!.toLowerCase() === "nan") return Number.NaN;
    return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new PromParseError(n, `bad value ${text}`);
  return Number(text);
}

function unescapeHelp(text: string, n: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    throw new PromParseError(n, `bad escape \\${c} in HELP`);
  });
}

function checkHistogram(f: Family): void {
  const bySeries = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    bySeries.set(key, [...(bySeries.get(key) ?? []), s]);
  }
  for (const samples of bySeries.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    let previous = -1;
    let previousValue = 0;
    for (const b of buckets) {
      if (b.labels.le === undefined) throw new PromParseError(b.line, `${f.name}_bucket without le`);
      const le = parseValue(b.labels.le, b.line);
      if (le <= previous) throw new PromParseError(b.line, `le ${b.labels.le} not increasing`);
      if (b.value < previousValue) throw new PromParseError(b.line, "buckets are not cumulative");
      previous = le;
      previousValue = b.value;
    }
    const last = buckets.at(-1);
    if (
      last === undefined ||
      last.labels.le !== "+Inf" ||
      count === undefined ||
      last.value !== count.value
    ) {
      throw new Error(`histogram ${f.name}: needs a le="+Inf" bucket equal to _count`);
    }
    if (!samples.some((s) => s.name === `${f.name}_sum`)) throw new Error(`histogram ${f.name}: no _sum`);
  }
}

/** The value of the one sample named `name` whose labels include `labels`; undefined if none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
