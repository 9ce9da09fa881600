/** `pilotfish validate <file>`. */
import { formatFieldErrors, PilotfishError } from "../common/errors.js";
import { loadBootstrapFile } from "../config/load-bootstrap.js";
import { EXIT_FAILURE, EXIT_OK } from "./exit-codes.js";

export function runValidate(file: string): number {
  try {
    loadBootstrapFile(file);
    process.stdout.write(`${file}: OK\n`);
    return EXIT_OK;
  } catch (err) {
    printConfigError(file, err);
    return EXIT_FAILURE;
  }
}

/** Prints a config error as `file: message` plus one line per field error; never a stack trace. */
export function printConfigError(file: string, err: unknown): void {
  if (PilotfishError.is(err)) {
    process.stderr.write(`${file}: ${err.message} [${err.code}]\n`);
    if (err.details.length > 0) process.stderr.write(formatFieldErrors(err.details) + "\n");
  } else {
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
  }
}
