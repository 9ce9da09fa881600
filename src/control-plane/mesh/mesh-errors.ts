/**
 * Turns zod issues into FieldErrors in Pilotfish's voice: `path: what is wrong, naming the value`.
 * zod's own messages ("Invalid input: expected int, received number") say what the schema wanted but
 * not what the user wrote; operators read these in CI logs, so we name the value and, for misspelt
 * keys, suggest the nearest key the schema knows.
 */
import type { z } from "zod";
import type { FieldError } from "../../common/errors.js";
import { show } from "./mesh-primitives.js";

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** `upstreams[0].nodes[1].address`; the empty path is the document itself. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out === "" ? "(root)" : out;
}

/** Appends one segment to a formatted path. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base === "(root)" ? key : `${base}.${key}`;
}

/** Converts every issue; an issue with several unknown keys becomes one error per key. */
export function issuesToFieldErrors(issues: readonly Issue[], schema: z.ZodType): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    const path = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys(schema, issue.path);
      for (const key of issue.keys) {
        const hint = nearest(key, known);
        out.push({
          path: joinPath(path, key),
          message: `unknown key ${show(key)}${hint ? `; did you mean ${show(hint)}?` : known.length > 0 ? ` (known keys: ${known.join(", ")})` : ""}`,
        });
      }
      continue;
    }
    out.push({ path, message: describe(issue) });
  }
  return out;
}

function describe(issue: Issue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return "required";
      if (issue.expected === "int") return `${show(input)} is not an integer`;
      return `expected ${article(issue.expected)}, got ${show(input)}`;
    case "invalid_value":
      return `${show(input)} is not one of ${issue.values.map((v) => show(v)).join(", ")}`;
    case "too_small":
      if (issue.origin === "array") return `needs at least ${String(issue.minimum)} item${issue.minimum === 1 ? "" : "s"}`;
      if (issue.origin === "string") return "must not be empty";
      return `${show(input)} is less than ${String(issue.minimum)}`;
    case "too_big":
      if (issue.origin === "array") return `has more than ${String(issue.maximum)} items`;
      if (issue.origin === "string") return `is longer than ${String(issue.maximum)} characters`;
      return `${show(input)} is more than ${String(issue.maximum)}`;
    case "invalid_format":
      if (issue.format === "starts_with") return `${show(input)} must start with ${show((issue as { prefix?: string }).prefix)}`;
      return `${show(input)} is not a valid value here`;
    case "invalid_union": {
      const expected = new Set<string>();
      for (const branch of issue.errors) for (const e of branch) if (e.code === "invalid_type") expected.add(article(e.expected));
      return expected.size > 0 ? `expected ${[...expected].join(" or ")}, got ${show(input)}` : `${show(input)} is not valid here`;
    }
    case "custom":
      return issue.message;
    default:
      return `${show(input)}: ${issue.message}`;
  }
}

function article(expected: string): string {
  if (expected === "object") return "a mapping";
  if (expected === "array") return "a list";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/**
 * The keys of the object schema at `path`, found by walking zod's definitions (optional, array,
 * pipe/transform, union); [] if the walk meets anything else.
 */
export function knownKeys(schema: z.ZodType, path: Path): string[] {
  let cur: unknown = schema;
  for (let i = 0; i <= path.length; i++) {
    cur = unwrapToObjectOrArray(cur);
    if (cur === undefined) return [];
    const def = (cur as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (i === path.length) return def.type === "object" ? Object.keys(def.shape as object) : [];
    const seg = path[i];
    if (def.type === "array" && typeof seg === "number") cur = def.element;
    else if (def.type === "object" && typeof seg === "string") cur = (def.shape as Record<string, unknown>)[seg];
    else return [];
  }
  return [];
}

function unwrapToObjectOrArray(s: unknown): unknown {
  for (let depth = 0; depth < 10 && s !== undefined; depth++) {
    const def = (s as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return undefined;
    switch (def.type) {
      case "object":
      case "array":
        return s;
      case "optional":
      case "nullable":
      case "default":
        s = def.innerType;
        break;
      case "pipe":
        s = def.in;
        break;
      case "union":
        s = (def.options as unknown[]).find((o) => unwrapToObjectOrArray(o) !== undefined);
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** The known key closest to a misspelling (case-insensitive edit distance <= 2), if any. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}
