/** `pilotfish control-plane -c <mesh.yaml> [--port 18000] [--admin-port 18001] [--kubeconfig f]`: serve until SIGTERM/SIGINT. */
import { readFileSync } from "node:fs";
import { ErrorCode, formatFieldErrors, PilotfishError } from "../common/errors.js";
import { createLogger } from "../common/logger.js";
import { ControlPlane } from "../control-plane/control-plane.js";
import { loadMeshFile, parseMeshText } from "../control-plane/mesh/mesh-source.js";
import { translateMesh } from "../control-plane/mesh/translator.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";

/** Parsed flags. */
export interface ControlPlaneFlags {
  /** mesh.yaml path. */
  readonly config: string;
  /** xDS port (0 picks one). */
  readonly port: number;
  /** Admin port (0 picks one). */
  readonly adminPort: number;
  /** Listen address of both servers. */
  readonly address: string;
  /** Kubernetes client config file (Kubernetes discovery only). */
  readonly kubeconfig?: string;
}

/** Parses a port flag; commander calls it and a throw becomes a usage error (exit 2). */
export { parsePort } from "./options.js";

export async function runControlPlane(flags: ControlPlaneFlags): Promise<number> {
  const log = createLogger("pilotfish-control-plane");
  const cp = new ControlPlane({
    meshFile: flags.config,
    translate: translateMesh,
    log,
    xdsHost: flags.address,
    xdsPort: flags.port,
    adminHost: flags.address,
    adminPort: flags.adminPort,
    kubernetes: { kubeconfig: flags.kubeconfig },
  });
  try {
    await cp.start();
  } catch (err) {
    await cp.stop().catch(() => undefined);
    if (PilotfishError.is(err) && err.code !== ErrorCode.LISTEN_FAILED) {
      printMeshError(flags.config, err);
      return EXIT_USAGE;
    }
    log.error({ err: (err as Error).message }, "control plane failed to start");
    return EXIT_FAILURE;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "shutting down");
  await cp.stop();
  log.info("control plane stopped");
  return EXIT_OK;
}

const MESH_KEYS = ["upstreams", "routes", "listeners"];

/**
 * Whether `pilotfish validate` should treat the file as mesh.yaml: a mapping with a top-level
 * `upstreams`, `routes` or `listeners` key (a bootstrap has `static_resources` and friends instead).
 * Unreadable or unparsable files are not mesh files: the bootstrap path reports those errors.
 */
export function isMeshFile(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false;
  }
  const parsed = parseMeshText(text, file);
  if (!parsed.ok || typeof parsed.doc !== "object" || parsed.doc === null || Array.isArray(parsed.doc)) return false;
  return MESH_KEYS.some((k) => Object.hasOwn(parsed.doc as object, k));
}

/** `pilotfish validate mesh.yaml`: every error with its path, exit 1 on any. */
export function runValidateMesh(file: string): number {
  try {
    loadMeshFile(file);
    process.stdout.write(`${file}: OK\n`);
    return EXIT_OK;
  } catch (err) {
    printMeshError(file, err);
    return EXIT_FAILURE;
  }
}

/**
 * Prints a mesh error: `file: summary [code]` and one line per field error. The mesh loader's message
 * already embeds the field errors, so only its first line is the summary (no error is printed twice).
 */
function printMeshError(file: string, err: unknown): void {
  if (PilotfishError.is(err)) {
    const summary = err.message.split("\n")[0] ?? err.message;
    process.stderr.write(`${file}: ${summary} [${err.code}]\n`);
    if (err.details.length > 0) process.stderr.write(formatFieldErrors(err.details) + "\n");
  } else {
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
  }
}
