/**
 * Durations in the two spellings we accept: proto3 JSON (`"1.5s"`, also `{seconds, nanos}` from
 * decoded protos) and mesh.yaml's human form (`250ms`, `10s`, `1m`, `1h`).
 */

const HUMAN = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `250ms`, `10s`, `1.5m`, `1h`; returns undefined when the text is not a duration. */
export function parseHumanDuration(text: string): number | undefined {
  const m = HUMAN.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

/** Converts a decoded google.protobuf.Duration (seconds as bigint) to milliseconds. */
export function protoDurationToMs(d: { seconds: bigint | number; nanos: number }): number {
  return Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6);
}

/** Formats milliseconds as proto3 JSON (`"1.500s"`). */
export function msToProtoJson(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s}s` : `${s.toFixed(3)}s`;
}
