/**
 * `pilotfish demo [--duration <s>]` (what `npm start` runs): the demo mesh of src/demo/ in this
 * process, a live view each second, and a summary at the end (Ctrl-C, SIGTERM or --duration). A second
 * Ctrl-C during shutdown exits at once. Everything runs in this process: nothing outlives it.
 */
import { DemoMesh, type DemoOptions, type Sample } from "../demo/demo.js";
import { banner, eventLine, line, screen, summary } from "../demo/view.js";
import { EXIT_FAILURE, EXIT_OK } from "./exit-codes.js";

export interface DemoFlags extends DemoOptions {
  /** Stop after this many seconds of traffic. */
  readonly duration?: number;
  /** Keep the temp dir (mesh.yaml, demo.log) after exit. */
  readonly keep?: boolean;
}

export async function runDemo(flags: DemoFlags): Promise<number> {
  const out = process.stdout;
  const tty = out.isTTY === true && process.env.TERM !== "dumb";
  const demo = new DemoMesh(flags);
  let lastSample: Sample | undefined;
  let stopping = false;

  const onEvent = (e: { elapsedSec: number; text: string }): void => {
    if (!tty && !stopping) out.write(eventLine(e) + "\n");
  };

  // Signals are taken before start so a Ctrl-C during start-up still cleans up.
  let resolveStop!: (reason: string) => void;
  const stopped = new Promise<string>((r) => (resolveStop = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`\npilotfish demo: ${sig} again, exiting now\n`);
      process.exit(130);
    }
    resolveStop(sig === "SIGINT" ? "stopped by Ctrl-C" : `stopped by ${sig}`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const restoreCursor = (): void => {
    if (tty) out.write("\x1b[?25h");
  };
  process.once("exit", restoreCursor);

  out.write("pilotfish demo: starting the discovery server, 3 backends and 2 sidecars...\n");
  let addresses;
  const starting = demo.start(onEvent);
  try {
    addresses = await Promise.race([starting, stopped.then(() => undefined)]);
  } catch (err) {
    process.stderr.write(`pilotfish demo: cannot start: ${(err as Error).message}\n`);
    await demo.stop(true);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    return EXIT_FAILURE;
  }
  if (addresses === undefined) {
    // Interrupted during start-up: let start() settle (it stops what it started if it fails), then stop.
    stopping = true;
    await starting.catch(() => undefined);
    await demo.stop(flags.keep);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    out.write("pilotfish demo: interrupted during start-up\n");
    return EXIT_OK;
  }

  const otlp = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  out.write(banner(addresses, flags.duration, otlp) + "\n");
  if (tty) out.write("\x1b[?25l\x1b[2J");

  const poller = setInterval(() => demo.poll(), 250);
  const render = (): void => {
    demo.poll();
    lastSample = demo.sample();
    if (tty) out.write(screen(addresses, lastSample, demo.events, demo, flags.duration, out.rows ?? 40, otlp));
    else out.write(line(lastSample) + "\n");
  };
  const ticker = setInterval(render, 1000);
  let durationTimer: NodeJS.Timeout | undefined;
  if (flags.duration !== undefined) durationTimer = setTimeout(() => resolveStop(`--duration ${flags.duration}`), flags.duration * 1000);

  const reason = await stopped;
  stopping = true;
  clearInterval(poller);
  clearInterval(ticker);
  clearTimeout(durationTimer);
  if (tty) out.write("\x1b[?25h\n");
  out.write(`pilotfish demo: ${reason}; stopping traffic, sidecars, discovery server and backends...\n`);
  await demo.stop(flags.keep);
  out.write(summary(demo, reason));
  if (flags.keep) out.write(`kept ${addresses.dir} (mesh.yaml, demo.log)\n`);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return EXIT_OK;
}
