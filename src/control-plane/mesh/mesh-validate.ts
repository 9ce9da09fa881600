/**
 * validateMesh: structure (zod), then cross-references, then the model. Both checks always run, so a
 * file with a typo in one upstream and a dangling route reference elsewhere reports both at once.
 */
import type { FieldError } from "../../common/errors.js";
import { buildMesh } from "./mesh-build.js";
import { issuesToFieldErrors } from "./mesh-errors.js";
import { deepFreeze, type MeshConfig } from "./mesh-model.js";
import { checkReferences } from "./mesh-references.js";
import { meshSchema } from "./mesh-schema.js";

/** The outcome of validating one mesh document. */
export type MeshValidation =
  | {
      readonly ok: true;
      /** The deep-frozen model, defaults applied. */
      readonly mesh: MeshConfig;
    }
  | {
      readonly ok: false;
      /** Every problem found, ordered by path. */
      readonly errors: readonly FieldError[];
    };

/** Validates a parsed YAML/JSON document (any value) as mesh.yaml. */
export function validateMesh(obj: unknown): MeshValidation {
  if (obj === null || obj === undefined) {
    // An empty file is far more often a half-written one (an editor truncating before writing) than
    // an intended "serve nothing"; the latter is spelt `{}`.
    return { ok: false, errors: [{ path: "(root)", message: "the file is empty (an empty mesh is written {})" }] };
  }
  const doc = withoutExtensionKeys(obj);
  const parsed = meshSchema.safeParse(doc, { reportInput: true });
  const errors: FieldError[] = parsed.success ? [] : issuesToFieldErrors(parsed.error.issues, meshSchema);
  errors.push(...checkReferences(doc));
  if (errors.length > 0 || !parsed.success) return { ok: false, errors: sortByPath(dedupe(errors)) };
  return { ok: true, mesh: deepFreeze(buildMesh(parsed.data)) };
}

/**
 * Top-level keys starting with `x-` are the user's own (as in Compose files): a place for YAML anchors
 * shared by several upstreams. They are dropped before validation; any other unknown key is an error.
 */
function withoutExtensionKeys(obj: unknown): unknown {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return obj;
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !k.startsWith("x-")));
}

function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Document order, approximately: by path, with list indexes compared as numbers. */
function sortByPath(errors: FieldError[]): FieldError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.path.localeCompare(b.e.path, "en", { numeric: true }) || a.i - b.i)
    .map(({ e }) => e);
}
