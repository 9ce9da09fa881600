/**
 * mesh.yaml as a source of MeshConfig: load it once (CLI, startup) or watch it (the discovery server
 * re-reads it on every save). Reading, YAML parsing and validation all report FieldErrors, so a watcher
 * and `pilotfish validate` show the same messages.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { watch } from "chokidar";
import { parseDocument } from "yaml";
import { ErrorCode, type FieldError, formatFieldErrors, PilotfishError } from "../../common/errors.js";
import type { MeshConfig } from "./mesh-model.js";
import { validateMesh, type MeshValidation } from "./mesh-validate.js";

export { validateMesh, type MeshValidation } from "./mesh-validate.js";

/** Text → document, or the YAML syntax errors as FieldErrors (`file:line:col`). */
export function parseMeshText(text: string, file: string): { ok: true; doc: unknown } | { ok: false; errors: FieldError[] } {
  // `merge` lets users share settings between upstreams with YAML anchors and `<<: *defaults`.
  const doc = parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        path: e.linePos ? `${path.basename(file)}:${e.linePos[0].line}:${e.linePos[0].col}` : path.basename(file),
        message: e.message.split("\n")[0],
      })),
    };
  }
  try {
    return { ok: true, doc: doc.toJS({ maxAliasCount: 1000 }) as unknown };
  } catch (err) {
    return { ok: false, errors: [{ path: path.basename(file), message: (err as Error).message }] };
  }
}

/** Parses and validates mesh text (what loadMeshFile and the watcher do after reading). */
export function validateMeshText(text: string, file: string): MeshValidation {
  const parsed = parseMeshText(text, file);
  return parsed.ok ? validateMesh(parsed.doc) : parsed;
}

/**
 * Reads and validates a mesh file.
 * @throws PilotfishError CONFIG_UNREADABLE (cannot read, or not YAML) or CONFIG_INVALID, with every
 *   problem in `details`.
 */
export function loadMeshFile(file: string): MeshConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const message = `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    throw new PilotfishError(ErrorCode.CONFIG_UNREADABLE, message, [{ path: file, message }], { cause: err });
  }
  const parsed = parseMeshText(text, file);
  if (!parsed.ok) {
    throw new PilotfishError(ErrorCode.CONFIG_UNREADABLE, `${file} is not valid YAML:\n${formatFieldErrors(parsed.errors)}`, parsed.errors);
  }
  const result = validateMesh(parsed.doc);
  if (!result.ok) {
    throw new PilotfishError(ErrorCode.CONFIG_INVALID, `${file} is invalid:\n${formatFieldErrors(result.errors)}`, result.errors);
  }
  return result.mesh;
}

/** A running watch. */
export interface MeshWatch {
  /** Resolves once the watcher observes the file; edits before that may go unreported. */
  readonly ready: Promise<void>;
  /** Stops watching; no callback runs after it resolves. */
  close(): Promise<void>;
}

/** Tuning for tests. */
export interface MeshWatchOptions {
  /** Quiet time after the last file event before re-reading, ms (default 100). */
  readonly debounceMs?: number;
}

/**
 * Calls `onChange` with the validated content after each settled edit of `file`. Editors that save by
 * writing a temporary file and renaming it over the original are handled: chokidar watches the parent
 * directory, and the debounce folds unlink + add (or several writes) into one re-read. A re-read whose
 * text is identical to the previous one is not reported (a `touch` or a no-op save pushes nothing).
 * A file that disappears is reported as an error; the caller keeps its last good mesh.
 */
export function watchMeshFile(
  file: string,
  onChange: (r: MeshValidation) => void,
  options: MeshWatchOptions = {},
): MeshWatch {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastText: string | undefined;
  let reading: Promise<void> = Promise.resolve();

  const reload = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      // Mid-rename the file can be briefly absent; a following `add` event schedules another read.
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const key = `\u0000missing:${code}`;
      if (closed || lastText === key) return;
      lastText = key;
      onChange({ ok: false, errors: [{ path: file, message: `cannot read: ${code}` }] });
      return;
    }
    if (closed || text === lastText) return;
    lastText = text;
    onChange(validateMeshText(text, file));
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      // Serialised: a slow read must not deliver an older text after a newer one.
      reading = reading.then(reload, reload);
    }, debounceMs);
  };

  // Seed the "unchanged" check with the current text so the first report is a real change.
  try {
    lastText = readFileSync(file, "utf8");
  } catch {
    lastText = undefined;
  }

  const watcher = watch(file, { ignoreInitial: true, atomic: true, persistent: true });
  watcher.on("add", schedule).on("change", schedule).on("unlink", schedule);
  const ready = new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  return {
    ready,
    async close(): Promise<void> {
      closed = true;
      if (timer) clearTimeout(timer);
      await watcher.close();
      await reading;
    },
  };
}
