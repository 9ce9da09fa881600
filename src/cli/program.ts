/**
 * `pilotfish`'s command line: argument parsing and process lifecycle only. Exit codes: 0 ok, 1 runtime
 * failure, 2 bad usage or bad config. Imported by main.ts, which runs it on import.
 */
import { Command, CommanderError } from "commander";
import { availableParallelism } from "node:os";
import { EXIT_USAGE } from "./exit-codes.js";
import { parseConcurrency, parsePort, parsePositiveSeconds } from "./options.js";

// Subcommands are imported when chosen, so that the sidecar does not load (and keep in memory) the
// discovery server's mesh, schema and metrics libraries, and vice versa.

const program = new Command();
program
  .name("pilotfish")
  .description("A service-mesh sidecar and xDS discovery server")
  .exitOverride()
  .showHelpAfterError();

program
  .command("sidecar")
  .description("run the data plane from an Envoy v3 bootstrap (YAML or JSON)")
  .requiredOption("-c, --config <file>", "bootstrap file")
  .option(
    "--concurrency <n>",
    "worker processes sharing the listeners (SO_REUSEPORT); 1 serves in this process",
    parseConcurrency,
    availableParallelism(),
  )
  .action(async (opts: { config: string; concurrency: number }) => {
    const { runSidecarCommand } = await import("./sidecar-command.js");
    process.exitCode = await runSidecarCommand(opts.config, opts.concurrency);
  });

program
  .command("validate")
  .description("check a bootstrap or mesh file; print every error with its field path; exit 1 on any")
  .argument("<file>", "bootstrap or mesh file (YAML or JSON); a mesh file has upstreams/routes/listeners")
  .action(async (file: string) => {
    const { isMeshFile, runValidateMesh } = await import("./control-plane-command.js");
    const { runValidate } = await import("./validate-command.js");
    process.exitCode = isMeshFile(file) ? runValidateMesh(file) : runValidate(file);
  });

program
  .command("control-plane")
  .description("run the xDS discovery server (ADS, SotW and delta) from a mesh file")
  .requiredOption("-c, --config <file>", "mesh file (mesh.yaml)")
  .option("--port <port>", "xDS (gRPC) port; 0 picks one", parsePort, 18000)
  .option("--admin-port <port>", "admin HTTP port (/nodes /ready /metrics /config); 0 picks one", parsePort, 18001)
  .option("--address <ip>", "listen address of both ports", "0.0.0.0")
  .option(
    "--kubeconfig <file>",
    "Kubernetes client config for discovery: {kubernetes} upstreams (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)",
  )
  .action(async (opts: { config: string; port: number; adminPort: number; address: string; kubeconfig?: string }) => {
    const { runControlPlane } = await import("./control-plane-command.js");
    process.exitCode = await runControlPlane(opts);
  });

program
  .command("demo")
  .description(
    "run a demo mesh in this process: discovery server, 3 gRPC echo backends (healthy, slow, flaky), " +
      "client and server sidecars over xDS, a load generator, and a live view",
  )
  .option("--duration <seconds>", "stop after this many seconds of traffic", parsePositiveSeconds)
  .option("--rate <rps>", "calls per second", parsePositiveSeconds, 200)
  .option("--fail-after <seconds>", "when the flaky backend starts failing", parsePositiveSeconds, 15)
  .option("--fail-for <seconds>", "how long the flaky backend fails", parsePositiveSeconds, 20)
  .option("--keep", "keep the temp dir (mesh.yaml, demo.log) after exit", false)
  .action(async (opts: { duration?: number; rate: number; failAfter: number; failFor: number; keep: boolean }) => {
    const { runDemo } = await import("./demo-command.js");
    process.exitCode = await runDemo({
      duration: opts.duration,
      rate: opts.rate,
      failAfterMs: opts.failAfter * 1000,
      failForMs: opts.failFor * 1000,
      keep: opts.keep,
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : EXIT_USAGE;
  } else {
    process.stderr.write(`pilotfish: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
