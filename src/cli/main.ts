/**
 * `pilotfish`. A sidecar image started with a handoff (a re-exec for the V8 flags, or a worker; see
 * sidecar-handoff.ts) serves at once, without loading the command-line parser; everything else goes
 * through the command line (program.ts). Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config.
 */
import { EXIT_FAILURE, EXIT_USAGE } from "./exit-codes.js";
import { takeHandoff, type SidecarHandoff } from "./sidecar-handoff.js";

let handoff: SidecarHandoff | undefined;
try {
  handoff = takeHandoff();
} catch (err) {
  process.stderr.write(`pilotfish: ${(err as Error).message}\n`);
  process.exitCode = EXIT_USAGE;
}
if (handoff !== undefined) {
  try {
    const { runHandedOffSidecar } = await import("./sidecar-command.js");
    process.exitCode = await runHandedOffSidecar(handoff);
  } catch (err) {
    process.stderr.write(`pilotfish: ${(err as Error).message}\n`);
    process.exitCode = EXIT_FAILURE;
  }
} else if (process.exitCode === undefined) {
  await import("./program.js");
}
