/** `pilotfish validate <file>`. */
import { loadBootstrapFile } from "../config/load-bootstrap.js";
import { printConfigError } from "./config-error.js";
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
