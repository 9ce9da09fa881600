/** `pilotfish sidecar -c <bootstrap>`: load, start, drain on SIGTERM/SIGINT. */
import { createLogger } from "../common/logger.js";
import { loadBootstrapFile } from "../config/load-bootstrap.js";
import type { Bootstrap } from "../config/model.js";
import { Sidecar } from "../sidecar/sidecar.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { printConfigError } from "./validate-command.js";

export async function runSidecar(file: string): Promise<number> {
  let bootstrap: Bootstrap;
  try {
    bootstrap = loadBootstrapFile(file);
  } catch (err) {
    printConfigError(file, err);
    return EXIT_USAGE;
  }
  const log = createLogger("pilotfish-sidecar");
  const sidecar = new Sidecar(bootstrap, log);
  let ports;
  try {
    ports = await sidecar.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, "sidecar failed to start");
    await sidecar.shutdown();
    return EXIT_FAILURE;
  }
  log.info({ node: bootstrap.node.id, admin_port: ports.admin, listeners: ports.listeners }, "sidecar ready");
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "shutting down");
  await sidecar.shutdown();
  log.info("sidecar stopped");
  return EXIT_OK;
}
