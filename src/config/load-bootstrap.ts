/**
 * Sidecar bootstrap loading: YAML/JSON text → strict proto3 JSON validation against proto/ → wire
 * bytes → generated messages → domain model, deep-frozen. Every problem is collected before failing.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { ErrorCode, type FieldError, PilotfishError } from "../common/errors.js";
import { deepFreeze } from "../common/freeze.js";
import { Bootstrap as PbBootstrap } from "../gen/envoy/config/bootstrap/v3/bootstrap.js";
import { decodeBootstrapMessage } from "./decode/bootstrap.js";
import { type DecodeResult, Errors } from "./decode/field-errors.js";
import { protoJsonToBinary } from "./decode/proto-json.js";
import type { Bootstrap } from "./model.js";

const BOOTSTRAP_TYPE = "envoy.config.bootstrap.v3.Bootstrap";

/** Decodes a parsed bootstrap document (proto3 JSON object). Never throws on bad input. */
export function decodeBootstrap(obj: unknown): DecodeResult<Bootstrap> {
  const r = decodeBootstrapToWire(obj);
  return r.ok ? { ok: true, value: r.value.bootstrap } : r;
}

/** A valid bootstrap, and the proto wire bytes it was decoded from (decodeBootstrapWire() takes them). */
export interface LoadedBootstrap {
  readonly bootstrap: Bootstrap;
  readonly wire: Uint8Array;
}

/** decodeBootstrap(), keeping the wire bytes of the valid document. */
export function decodeBootstrapToWire(obj: unknown): DecodeResult<LoadedBootstrap> {
  const errors = new Errors();
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    errors.add("(document)", `expected a mapping at the top level, got ${obj === null ? "an empty document" : typeof obj}`);
    return { ok: false, errors: errors.list };
  }
  const bytes = protoJsonToBinary(BOOTSTRAP_TYPE, obj, "", errors);
  if (bytes === undefined) return { ok: false, errors: errors.list };
  // Semantic checks run even after structural errors so one run reports everything; the invalid fields
  // were dropped, so semantic complaints about them (e.g. "required") would only repeat the first error.
  const semantic = new Errors();
  const value = decodeBootstrapMessage(PbBootstrap.decode(bytes), semantic);
  const structural = errors.list.map((e) => e.path);
  for (const e of semantic.list) {
    if (!structural.some((p) => related(p, e.path))) errors.add(e.path, e.message);
  }
  if (errors.count > 0) return { ok: false, errors: errors.list };
  return { ok: true, value: { bootstrap: deepFreeze(value), wire: bytes } };
}

/** Whether one path is the other or lies under it. */
function related(a: string, b: string): boolean {
  const under = (x: string, y: string) => x === y || x.startsWith(`${y}.`) || x.startsWith(`${y}[`);
  return under(a, b) || under(b, a);
}

/** Reads, parses and decodes a bootstrap file; throws PilotfishError CONFIG_UNREADABLE or CONFIG_INVALID. */
export function loadBootstrapFile(path: string): Bootstrap {
  return loadBootstrapFileWithWire(path).bootstrap;
}

/** loadBootstrapFile(), keeping the wire bytes for a process that should not parse the file again. */
export function loadBootstrapFileWithWire(path: string): LoadedBootstrap {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new PilotfishError(ErrorCode.CONFIG_UNREADABLE, `cannot read ${path}: ${(err as Error).message}`, [], { cause: err });
  }
  let doc: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser serves both; duplicate keys are an error.
    doc = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    const details: FieldError[] = [{ path: "(document)", message: (err as Error).message }];
    throw new PilotfishError(ErrorCode.CONFIG_UNREADABLE, `cannot parse ${path}: ${(err as Error).message}`, details, { cause: err });
  }
  const result = decodeBootstrapToWire(doc);
  if (!result.ok) {
    const n = result.errors.length;
    throw new PilotfishError(ErrorCode.CONFIG_INVALID, `${path}: ${n} error${n === 1 ? "" : "s"} in the bootstrap`, result.errors);
  }
  return result.value;
}
