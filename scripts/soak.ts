/**
 * Soak: steady gRPC load through a real sidecar (on ADS from a real discovery server) for a bounded
 * time, with faults mixed in: a mesh.yaml edit every second, a backend crashed and replaced every
 * 20 s, the discovery server killed and restarted every 45 s. Run by hand:
 *
 *   npm run soak -- --minutes 10 [--lanes 8]
 *
 * Every call carries a deadline, so every call ends: OK, or an error status. Statuses a proxy may
 * legitimately give under these faults are UNAVAILABLE and DEADLINE_EXCEEDED; anything else counts
 * as "unexpected". A call that has not ended 5 s after its deadline counts as "hung". At the end the
 * sidecar's open file descriptors (/proc/<pid>/fd) are compared with their value after warm-up, and
 * its RSS with its value a quarter into the run (once V8's heap has grown to its working size). Exit code 1 if any call hung or got an unexpected status, or RSS/fds grew past the bounds.
 */
import * as grpc from "@grpc/grpc-js";
import { readdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { adsSidecarBootstrap, echoMeshYaml, startControlPlane, type ControlPlane } from "../test/helpers/control-plane.js";
import { createEchoClient, type EchoRequest } from "../test/helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../test/helpers/echo-server.js";
import { startSidecar } from "../test/helpers/sidecar.js";
import { closedPort, delay, until } from "../test/helpers/util.js";

const { values: args } = parseArgs({
  options: { minutes: { type: "string", default: "10" }, lanes: { type: "string", default: "8" } },
});
const MINUTES = Math.min(Number(args.minutes), 30);
const LANES = Number(args.lanes);
const DEADLINE_MS = 2000;
const HANG_GRACE_MS = 5000;
/** End-of-run growth allowed over the warmed-up figures. */
const RSS_GROWTH_BOUND_KB = 64 * 1024;
const FD_GROWTH_BOUND = 20;

const EXPECTED_ERRORS = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function main(): Promise<number> {
  const backends: EchoServer[] = [await startEchoServer({ name: "b0" }), await startEchoServer({ name: "b1" })];
  const listenerPort = await closedPort();
  let edit = 0;
  // Each edit flips the retry budget and adds/removes a rule: a new RDS and CDS version every second.
  const mesh = (): string =>
    echoMeshYaml({
      ports: backends.map((b) => b.port),
      listenerPort,
      upstream: ["    retries: " + String(1 + (edit % 2)), "    retryOn: [unavailable, reset, connect-failure]"],
      rules: edit % 2 === 0 ? [] : ["      - match: { prefix: /soak.nowhere/ }", "        upstream: echo"],
    });
  let cp: ControlPlane = await startControlPlane(mesh());
  const xdsPort = cp.xdsPort;
  const sidecar = await startSidecar(adsSidecarBootstrap(xdsPort));
  const client = createEchoClient(listenerPort);
  await until("the mesh listener to serve", 20_000, () =>
    new Promise<boolean>((resolve) => client.Unary({ message: "hi" }, new grpc.Metadata(), { deadline: Date.now() + 1000 }, (err) => resolve(err === null))),
  );

  // ------------------------------------------------------------------------------------ load
  const byStatus = new Map<string, number>();
  const inFlight = new Map<number, number>(); // call id -> deadline
  let nextId = 0;
  let running = true;
  let hung = 0;
  const req: EchoRequest = { message: "soak", responseSize: 256 };
  const lane = async (): Promise<void> => {
    while (running) {
      const id = nextId++;
      const deadline = Date.now() + DEADLINE_MS;
      inFlight.set(id, deadline);
      const code = await new Promise<grpc.status>((resolve) => {
        client.Unary(req, new grpc.Metadata(), { deadline }, (err) => resolve(err === null ? grpc.status.OK : err.code));
      });
      inFlight.delete(id);
      const name = grpc.status[code] ?? String(code);
      byStatus.set(name, (byStatus.get(name) ?? 0) + 1);
    }
  };
  const hangWatch = setInterval(() => {
    const now = Date.now();
    for (const [id, deadline] of inFlight) {
      if (now > deadline + HANG_GRACE_MS) {
        hung++;
        inFlight.delete(id);
      }
    }
  }, 1000);

  // Warm up, then take the first reading.
  const lanes = Array.from({ length: LANES }, () => lane());
  await delay(10_000);
  const rssStart = await sidecar.rssKb();
  const fdStart = fdCount(sidecar.pid);
  const started = Date.now();
  const endAt = started + MINUTES * 60_000;
  // V8 grows its heap to a steady size over the first minute of load (measured: ~170 MiB more, then
  // flat); a leak shows as growth after that. The baseline for the verdict is taken a quarter in.
  const steadyAt = started + Math.max(60_000, (MINUTES * 60_000) / 4);
  let rssSteady: number | undefined;
  let fdSteady: number | undefined;
  const faults = { edits: 0, backendRestarts: 0, discoveryRestarts: 0, rssPeakKb: rssStart };
  console.log(`soak: ${MINUTES} min, ${LANES} lanes, sidecar pid ${sidecar.pid}, RSS ${rssStart} KiB, fds ${fdStart}`);

  // ---------------------------------------------------------------------------------- faults
  let tick = 0;
  while (Date.now() < endAt) {
    await delay(1000);
    tick++;
    faults.rssPeakKb = Math.max(faults.rssPeakKb, await sidecar.rssKb());
    if (rssSteady === undefined && Date.now() >= steadyAt) {
      rssSteady = await sidecar.rssKb();
      fdSteady = fdCount(sidecar.pid);
    }
    if (tick % 20 === 0) {
      // Crash a backend (calls in flight on it fail), bring a replacement up on a new port.
      const i = (tick / 20) % 2;
      backends[i].kill();
      backends[i] = await startEchoServer({ name: `b${i}-${tick}` });
      faults.backendRestarts++;
    }
    if (tick % 45 === 0) {
      await cp.kill();
      await delay(500);
      cp = await startControlPlane(mesh(), { xdsPort, readyTimeoutMs: 60_000 });
      faults.discoveryRestarts++;
    }
    edit++;
    await cp.writeMesh(mesh());
    faults.edits++;
    if (tick % 30 === 0) {
      const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
      console.log(`  ${Math.round((Date.now() - started) / 1000)} s: ${total} calls ${JSON.stringify(Object.fromEntries(byStatus))}, hung ${hung}, RSS ${await sidecar.rssKb()} KiB, fds ${fdCount(sidecar.pid)}`);
    }
  }

  // ------------------------------------------------------------------------------- wind down
  running = false;
  await Promise.race([Promise.all(lanes), delay(DEADLINE_MS + HANG_GRACE_MS)]);
  hung += inFlight.size;
  clearInterval(hangWatch);
  // Let connections to dead backends and old streams close before the final reading.
  await delay(5000);
  const rssEnd = await sidecar.rssKb();
  const fdEnd = fdCount(sidecar.pid);
  client.close();

  const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
  const unexpected = [...byStatus.entries()].filter(([name]) => name !== "OK" && !EXPECTED_ERRORS.has(grpc.status[name as keyof typeof grpc.status]));
  const summary = {
    minutes: MINUTES,
    lanes: LANES,
    calls: total,
    byStatus: Object.fromEntries(byStatus),
    okRatio: total === 0 ? 0 : (byStatus.get("OK") ?? 0) / total,
    hung,
    unexpected: Object.fromEntries(unexpected),
    faults,
    rssKb: { start: rssStart, steady: rssSteady, peak: faults.rssPeakKb, end: rssEnd },
    fds: { start: fdStart, steady: fdSteady, end: fdEnd },
  };
  console.log(JSON.stringify(summary, null, 2));

  await sidecar.stop();
  await cp.kill();
  for (const b of backends) await b.close();

  const problems: string[] = [];
  if (hung > 0) problems.push(`${hung} calls hung`);
  if (unexpected.length > 0) problems.push(`unexpected statuses ${JSON.stringify(Object.fromEntries(unexpected))}`);
  const rssBase = rssSteady ?? rssStart;
  if (rssEnd - rssBase > RSS_GROWTH_BOUND_KB) problems.push(`RSS grew ${rssEnd - rssBase} KiB after warm-up`);
  if (fdEnd - fdStart > FD_GROWTH_BOUND) problems.push(`open fds grew ${fdStart} -> ${fdEnd}`);
  console.log(problems.length === 0 ? "soak: PASS" : `soak: FAIL: ${problems.join("; ")}`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
