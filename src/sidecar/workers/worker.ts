/**
 * A worker process of `pilotfish sidecar --concurrency N`: a whole sidecar (own pools, pickers, health
 * checks, ADS stream) whose listeners bind with SO_REUSEPORT on the ports the primary chose, without an
 * admin server of its own; it answers the primary's admin queries over IPC. It exits when told
 * (SIGTERM/SIGINT: drain first) or when the primary goes away (IPC disconnect).
 */
import { systemRandom } from "../../common/clock.js";
import type { Logger } from "../../common/logger.js";
import type { Bootstrap } from "../../config/model.js";
import { clustersJson } from "../../admin/admin-server.js";
import { Sidecar } from "../sidecar.js";
import { isQuery, WORKER_INDEX_ENV, WORKER_PORTS_ENV, type AnswerMessage, type QueryMessage, type WorkerReadyMessage } from "./worker-protocol.js";

/** Runs this process as worker `PILOTFISH_WORKER_INDEX`; resolves with the exit code. */
export async function runWorker(bootstrap: Bootstrap, log: Logger): Promise<number> {
  const index = Number(process.env[WORKER_INDEX_ENV]);
  const ports = JSON.parse(process.env[WORKER_PORTS_ENV] ?? "{}") as Record<string, number>;
  const wlog = log.child({ worker: index });
  const listeners = bootstrap.listeners.map((l) =>
    ports[l.name] !== undefined ? { ...l, address: { ...l.address, port: ports[l.name] } } : l,
  );
  const sidecar = new Sidecar({ ...bootstrap, admin: undefined, listeners }, wlog, systemRandom, { reusePort: true });
  const target = sidecar.adminTarget();

  const answer = (m: QueryMessage): unknown => {
    switch (m.q) {
      case "stats":
        return target.stats.snapshot();
      case "clusters":
        return clustersJson(target.clusters);
      case "ready":
        return target.isReady();
      case "config_dump":
        return target.configDump();
      case "healthcheck_fail":
        target.setHealthFailed(true);
        return true;
      case "healthcheck_ok":
        target.setHealthFailed(false);
        return true;
      case "drain_listeners":
        target.drainListeners();
        return true;
    }
  };
  process.on("message", (m: unknown) => {
    if (!isQuery(m) || !process.connected) return;
    let body: unknown;
    try {
      // A structured clone: drop what IPC cannot carry (Sets become arrays, functions vanish).
      body = JSON.parse(JSON.stringify(answer(m), (_k, v: unknown) => (v instanceof Set ? [...v] : v)) ?? "null");
    } catch (err) {
      body = { error: (err as Error).message };
    }
    process.send?.({ t: "answer", id: m.id, body } satisfies AnswerMessage);
  });

  let ports2;
  try {
    ports2 = await sidecar.start();
  } catch (err) {
    wlog.error({ err: (err as Error).message }, "worker failed to start");
    await sidecar.shutdown();
    return 1;
  }
  process.send?.({ t: "ready", listeners: ports2.listeners } satisfies WorkerReadyMessage);
  wlog.info({ listeners: ports2.listeners }, "worker ready");
  const reason = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("disconnect", () => resolve("primary gone"));
  });
  wlog.info({ reason }, "worker shutting down");
  await sidecar.shutdown();
  wlog.info("worker stopped");
  // The IPC channel keeps the event loop alive: without closing it the worker lingered until the
  // primary's grace period ran out and it was SIGKILLed.
  if (process.connected) process.disconnect();
  return 0;
}
