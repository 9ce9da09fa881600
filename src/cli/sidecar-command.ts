/**
 * `pilotfish sidecar -c <bootstrap> [--concurrency N]`: load, start, drain on SIGTERM/SIGINT. With N > 1
 * this process is the workers' primary; a process started by a primary runs as a worker.
 *
 * The process that parses the command reads and validates the bootstrap, then re-executes itself with
 * the sidecar's V8 flags, handing the validated bootstrap over (sidecar-handoff.ts): a bad file is
 * reported before the re-exec, and the serving image never loads the YAML and schema libraries.
 */
import { createLogger, type Logger } from "../common/logger.js";
import { decodeBootstrapWire } from "../config/bootstrap-wire.js";
import type { Bootstrap } from "../config/model.js";
import { Sidecar } from "../sidecar/sidecar.js";
import { startOptimizingCompilers } from "../sidecar/optimizing-compilers.js";
import { printConfigError } from "./config-error.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { ensureSidecarNodeFlags } from "./node-flags.js";
import { handoffEnv, type SidecarHandoff } from "./sidecar-handoff.js";
import { upstreamH2Codec } from "../upstream/upstream-codec.js";
import { downstreamH2Codec } from "../listener/downstream-codec.js";
import { WORKER_INDEX_ENV } from "../sidecar/workers/worker-protocol.js";

/** The command as parsed from the command line: validate the file, re-exec with the flags, serve. */
export async function runSidecarCommand(file: string, concurrency = 1): Promise<number> {
  let loaded;
  try {
    upstreamH2Codec();
    downstreamH2Codec();
    const { loadBootstrapFileWithWire } = await import("../config/load-bootstrap.js");
    loaded = loadBootstrapFileWithWire(file);
  } catch (err) {
    printConfigError(file, err);
    return EXIT_USAGE;
  }
  const handoff: SidecarHandoff = { file, concurrency, wire: loaded.wire };
  ensureSidecarNodeFlags(handoffEnv(handoff)); // returns only when no re-exec is needed
  return runSidecar(handoff, loaded.bootstrap);
}

/** The serving image started with a handoff (a re-exec, or a worker forked by the primary). */
export async function runHandedOffSidecar(handoff: SidecarHandoff): Promise<number> {
  let bootstrap: Bootstrap;
  try {
    upstreamH2Codec();
    downstreamH2Codec();
    bootstrap = decodeBootstrapWire(handoff.wire, handoff.file);
  } catch (err) {
    printConfigError(handoff.file, err);
    return EXIT_USAGE;
  }
  return runSidecar(handoff, bootstrap);
}

async function runSidecar(handoff: SidecarHandoff, bootstrap: Bootstrap): Promise<number> {
  const { concurrency } = handoff;
  const log = createLogger("pilotfish-sidecar");
  if (process.env[WORKER_INDEX_ENV] !== undefined && process.send !== undefined) {
    const { runWorker } = await import("../sidecar/workers/worker.js");
    return runWorker(bootstrap, log);
  }
  if (concurrency > 1) return runPrimary(handoff, bootstrap, log);
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
  const signal = await nextSignal();
  log.info({ signal }, "shutting down");
  await sidecar.shutdown();
  log.info("sidecar stopped");
  return EXIT_OK;
}

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
}

/** The primary of N workers: ports, workers, aggregated admin; "sidecar ready" once all are bound. */
async function runPrimary(handoff: SidecarHandoff, bootstrap: Bootstrap, log: Logger): Promise<number> {
  const { file, concurrency } = handoff;
  const { WorkerPrimary } = await import("../sidecar/workers/primary.js");
  const { startPrimaryAdmin } = await import("../sidecar/workers/primary-admin.js");
  const { adminPort } = await import("../admin/admin-server.js");
  // Workers start from the same handoff, so they do not parse the file either.
  const workerEnv = handoffEnv({ file, concurrency: 1, wire: handoff.wire });
  const primary = new WorkerPrimary(bootstrap, [process.argv[1], "sidecar", "-c", file, "--concurrency", "1"], concurrency, log, workerEnv);
  const maxDrainMs = Math.max(0, ...bootstrap.listeners.map((l) => l.hcm.drainTimeoutMs));
  let admin: import("node:http").Server | undefined;
  let ports;
  try {
    ports = await primary.start();
    if (bootstrap.admin !== undefined) {
      admin = await startPrimaryAdmin(bootstrap.admin.address, primary, () => undefined);
    }
  } catch (err) {
    log.error({ err: (err as Error).message }, "sidecar failed to start");
    await primary.shutdown("SIGTERM", maxDrainMs + 5000);
    admin?.close();
    return EXIT_FAILURE;
  }
  log.info(
    { node: bootstrap.node.id, admin_port: admin === undefined ? null : adminPort(admin), listeners: ports.listeners, workers: primary.pids },
    "sidecar ready",
  );
  // The primary serves only admin, but its start ran just as hot (src/sidecar/optimizing-compilers.ts).
  startOptimizingCompilers(undefined);
  const signal = await nextSignal();
  log.info({ signal }, "shutting down");
  await primary.shutdown(signal, maxDrainMs + 5000);
  await new Promise<void>((resolve) => (admin ? admin.close(() => resolve()) : resolve()));
  admin?.closeAllConnections();
  log.info("sidecar stopped");
  return EXIT_OK;
}
