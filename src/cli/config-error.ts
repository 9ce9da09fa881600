/** How the CLI reports a bad config file: one line for the file, one per field error. */
import { formatFieldErrors, PilotfishError } from "../common/errors.js";

/** Prints a config error as `file: message` plus one line per field error; never a stack trace. */
export function printConfigError(file: string, err: unknown): void {
  if (PilotfishError.is(err)) {
    process.stderr.write(`${file}: ${err.message} [${err.code}]\n`);
    if (err.details.length > 0) process.stderr.write(formatFieldErrors(err.details) + "\n");
  } else {
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
  }
}
