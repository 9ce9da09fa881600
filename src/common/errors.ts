/**
 * Errors with stable codes. A code never changes meaning once published: operators grep for them and
 * docs/errors.md lists each one.
 */

/** Every error code Pilotfish raises. */
export const ErrorCode = {
  /** A configuration file or resource failed validation; `details` lists every problem. */
  CONFIG_INVALID: "PF_CONFIG_INVALID",
  /** A configuration file could not be read or parsed as YAML/JSON. */
  CONFIG_UNREADABLE: "PF_CONFIG_UNREADABLE",
  /** Command-line usage error. */
  USAGE: "PF_USAGE",
  /** A listener could not bind its address. */
  LISTEN_FAILED: "PF_LISTEN_FAILED",
  /** A discovery-server snapshot references a resource it does not contain; the previous snapshot stays. */
  SNAPSHOT_INCONSISTENT: "PF_SNAPSHOT_INCONSISTENT",
  /** mesh.yaml uses Kubernetes discovery and no usable kubeconfig or in-cluster account was found. */
  KUBERNETES_CONFIG: "PF_KUBERNETES_CONFIG",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One validation problem: the field path (as written in config) and what is wrong with it. */
export interface FieldError {
  /** Dotted path with indexes, e.g. `static_resources.clusters[0].connect_timeout`. */
  readonly path: string;
  /** What is wrong, naming the offending value. */
  readonly message: string;
}

/** Base class of Pilotfish's own errors. */
export class PilotfishError extends Error {
  /** Stable code. */
  readonly code: ErrorCode;
  /** Validation problems, when the error is about config. */
  readonly details: readonly FieldError[];

  constructor(code: ErrorCode, message: string, details: readonly FieldError[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = "PilotfishError";
    this.code = code;
    this.details = details;
  }

  /** Cross-realm check by code rather than prototype chain. */
  static is(err: unknown, code?: ErrorCode): err is PilotfishError {
    return (
      typeof err === "object" &&
      err !== null &&
      (err as { name?: unknown }).name === "PilotfishError" &&
      (code === undefined || (err as { code?: unknown }).code === code)
    );
  }
}

/** Formats field errors one per line, as the CLI prints them. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `  ${e.path}: ${e.message}`).join("\n");
}
