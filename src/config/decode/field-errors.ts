/**
 * Error collection shared by every decoder. Decoders never throw on bad input: they record a FieldError
 * naming the full path and keep going, so one run reports every problem in a file or xDS resource.
 */
import type { FieldError } from "../../common/errors.js";

/** Collects errors under a path prefix (e.g. `static_resources.clusters[2]` or a resource name). */
export class Errors {
  readonly list: FieldError[] = [];

  add(path: string, message: string): void {
    this.list.push({ path, message });
  }

  get count(): number {
    return this.list.length;
  }
}

/** `a.b` joined, skipping an empty prefix. */
export function at(prefix: string, field: string): string {
  return prefix === "" ? field : `${prefix}.${field}`;
}

/** `a[3]`. */
export function idx(prefix: string, i: number): string {
  return `${prefix}[${i}]`;
}

/** JSON rendering of an offending value, shortened so messages stay one line. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "bigint" ? value.toString() : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Standard wording for an enum-like value outside what we implement. */
export function unsupportedValue(value: string | number, supported: readonly string[]): string {
  return `unsupported value ${show(value)}; supported: ${supported.join(", ")}`;
}

/** Standard wording for a field that is valid Envoy config but not implemented by Pilotfish. */
export function notSupported(what = "this field"): string {
  return `${what} is not supported by pilotfish`;
}

/** Result of decoding a whole document or one xDS resource. */
export type DecodeResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };
