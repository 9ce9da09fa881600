/** Helpers for the sidecar admin endpoints. */

/** Parses `/stats` text (`name: value` per line) into a map of numeric values. */
export function parseStats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([^:\s][^:]*):\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line.trim());
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}
