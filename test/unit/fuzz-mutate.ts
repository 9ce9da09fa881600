/**
 * Structure-aware mutations for the config fuzz tests: take a valid document (a fixture), pick a few
 * places in it, and replace, delete or add values there with hostile ones (wrong types, huge numbers,
 * NaN, control characters, deep nesting). Deterministic under fast-check's seed.
 */
import fc from "fast-check";

type Json = unknown;
/** A step into a document: an object key or an array index. */
type Step = string | number;

/** Values a config decoder must reject (or accept) without throwing. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, Number.NaN, Infinity, "", " ", "\u0000", "-1s", "1e400s", "0x10", "999999999999999999999s", "x".repeat(5000), "../../etc/passwd", "*", "::", "[", "{", "@type", "type.googleapis.com/nope", []),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null)), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxKeys: 3 }),
  fc.integer({ min: 2, max: 60 }).map((d) => {
    let v: Json = {};
    for (let i = 0; i < d; i++) v = { a: [v] };
    return v;
  }),
);

/** Every path in `doc` (containers and leaves), the root excluded. */
export function allPaths(doc: Json, prefix: Step[] = [], out: Step[][] = []): Step[][] {
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => {
      out.push([...prefix, i]);
      allPaths(v, [...prefix, i], out);
    });
  } else if (doc !== null && typeof doc === "object") {
    for (const [k, v] of Object.entries(doc)) {
      out.push([...prefix, k]);
      allPaths(v, [...prefix, k], out);
    }
  }
  return out;
}

/** One mutation at a path. */
export interface Mutation {
  readonly pathIndex: number;
  readonly op: "replace" | "delete" | "add-key" | "duplicate";
  readonly value: Json;
  readonly key: string;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  pathIndex: fc.nat(),
  op: fc.constantFrom("replace", "replace", "replace", "delete", "add-key", "duplicate"),
  value: hostileValue,
  key: fc.oneof(fc.constantFrom("name", "typo_field", "@type", "port_value", "nodes", "__proto__", "constructor"), fc.string({ maxLength: 10 })),
});

/** Applies mutations to a deep copy of `doc`; returns the copy. */
export function mutate(doc: Json, mutations: readonly Mutation[]): Json {
  const copy = structuredClone(doc);
  for (const m of mutations) {
    const paths = allPaths(copy);
    if (paths.length === 0) break;
    const path = paths[m.pathIndex % paths.length];
    const parent = path.slice(0, -1).reduce<Json>((o, s) => (o as Record<string | number, Json>)[s], copy) as Record<string | number, Json> | Json[];
    const last = path[path.length - 1];
    const target = (parent as Record<string | number, Json>)[last];
    switch (m.op) {
      case "replace":
        (parent as Record<string | number, Json>)[last] = structuredClone(m.value);
        break;
      case "delete":
        if (Array.isArray(parent)) parent.splice(last as number, 1);
        else delete (parent as Record<string, Json>)[last as string];
        break;
      case "add-key":
        if (target !== null && typeof target === "object" && !Array.isArray(target)) {
          Object.defineProperty(target, m.key, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true });
        }
        break;
      case "duplicate":
        if (Array.isArray(parent)) parent.push(structuredClone(target));
        break;
    }
  }
  return copy;
}

/** First segment of an error path (`a.b[0].c` → `a`, `x[2]` → `x`). */
export function rootSegment(path: string): string {
  return /^[^.[]*/.exec(path)![0];
}

/** Fixed seed and run count: deterministic and bounded (a few seconds per target). */
export const FUZZ_PARAMS = { seed: 20261126, numRuns: 150 } as const;
