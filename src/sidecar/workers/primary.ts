/**
 * The primary of `pilotfish sidecar --concurrency N`: forks N worker processes that share every
 * listener port through SO_REUSEPORT (the kernel spreads new connections over them), restarts a
 * worker that dies, serves the aggregated admin, and stops them all on shutdown.
 *
 * Static listeners on port 0 need one port for all workers: the primary binds each first (with
 * SO_REUSEPORT, on the listener's address), hands the port to the workers, and closes its own socket
 * once they are all bound, before it reports ready.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import type { Logger } from "../../common/logger.js";
import type { Bootstrap } from "../../config/model.js";
import { StatsStore } from "../../stats/stats-store.js";
import { isFromWorker, WORKER_INDEX_ENV, WORKER_PORTS_ENV, type QueryMessage, type WorkerQuery } from "./worker-protocol.js";

/** Bound on an admin query to one worker. */
const QUERY_TIMEOUT_MS = 3000;
/** Restart delay after a crash, doubled per quick crash (a worker that lived 10 s resets it). */
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 5000;
const STABLE_AFTER_MS = 10_000;

/** One worker slot: the current process in it and its state. */
interface WorkerSlot {
  readonly index: number;
  proc: ChildProcess | undefined;
  ready: boolean;
  startedAt: number;
  restartDelayMs: number;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<void>;
}

/** Where the workers listen. */
export interface PrimaryPorts {
  /** Static listener name → port shared by all workers. */
  readonly listeners: Record<string, number>;
}

/** Forks, watches and stops the workers. */
export class WorkerPrimary {
  /** Primary-level stats (`server.*`), merged into the admin's aggregate. */
  readonly stats = new StatsStore();
  private readonly slots: WorkerSlot[] = [];
  private readonly pending = new Map<number, (body: unknown) => void>();
  private nextId = 1;
  private stopping = false;
  private ports: Record<string, number> = {};
  private readonly restarts = this.stats.counter("server.worker_restarts");
  private readonly live = this.stats.gauge("server.workers_live");

  constructor(
    private readonly bootstrap: Bootstrap,
    /** Arguments for a worker: `[cli entry, "sidecar", "-c", file, ...]`. */
    private readonly workerArgs: readonly string[],
    readonly concurrency: number,
    private readonly log: Logger,
    /** Added to each worker's environment (the bootstrap's handoff). */
    private readonly workerEnv: Readonly<Record<string, string>> = {},
  ) {
    this.stats.gauge("server.concurrency").value = concurrency;
  }

  /** Reserves ports, forks every worker, and resolves once all are bound. */
  async start(): Promise<PrimaryPorts> {
    const holders: net.Server[] = [];
    try {
      for (const l of this.bootstrap.listeners) {
        const { address, port } = l.address;
        if (port !== 0) {
          this.ports[l.name] = port;
          continue;
        }
        const holder = net.createServer();
        holders.push(holder);
        await new Promise<void>((resolve, reject) => {
          holder.once("error", reject);
          holder.listen({ host: address, port: 0, reusePort: true }, () => resolve());
        });
        this.ports[l.name] = (holder.address() as net.AddressInfo).port;
      }
      const readies: Promise<void>[] = [];
      for (let i = 0; i < this.concurrency; i++) {
        const slot: WorkerSlot = {
          index: i,
          proc: undefined,
          ready: false,
          startedAt: 0,
          restartDelayMs: RESTART_BASE_MS,
          restartTimer: undefined,
          exited: Promise.resolve(),
        };
        this.slots.push(slot);
        readies.push(this.spawn(slot));
      }
      await Promise.all(readies);
    } finally {
      for (const h of holders) h.close();
    }
    return { listeners: { ...this.ports } };
  }

  /** Forks the worker of `slot`; resolves when it reports ready, rejects if it exits first. */
  private spawn(slot: WorkerSlot): Promise<void> {
    const [entry, ...args] = this.workerArgs;
    const proc = fork(entry, args, {
      env: { ...process.env, ...this.workerEnv, [WORKER_INDEX_ENV]: String(slot.index), [WORKER_PORTS_ENV]: JSON.stringify(this.ports) },
      execArgv: process.execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    slot.proc = proc;
    slot.ready = false;
    slot.startedAt = performance.now();
    let exited!: () => void;
    slot.exited = new Promise<void>((r) => (exited = r));
    return new Promise<void>((resolve, reject) => {
      proc.on("message", (m: unknown) => {
        if (!isFromWorker(m)) return;
        if (m.t === "ready") {
          slot.ready = true;
          this.live.value++;
          resolve();
        } else {
          const done = this.pending.get(m.id);
          if (done !== undefined) {
            this.pending.delete(m.id);
            done(m.body);
          }
        }
      });
      proc.on("error", () => {
        // 'exit' follows (or the fork failed and 'exit' reports it).
      });
      proc.once("exit", (code, signal) => {
        exited();
        if (slot.ready) this.live.value--;
        const wasReady = slot.ready;
        slot.ready = false;
        slot.proc = undefined;
        if (!wasReady) reject(new Error(`worker ${slot.index} exited before it was ready (code ${code}, signal ${signal})`));
        if (this.stopping || !wasReady) return;
        this.onCrash(slot, code, signal);
      });
    });
  }

  private onCrash(slot: WorkerSlot, code: number | null, signal: NodeJS.Signals | null): void {
    if (performance.now() - slot.startedAt > STABLE_AFTER_MS) slot.restartDelayMs = RESTART_BASE_MS;
    const delay = slot.restartDelayMs;
    slot.restartDelayMs = Math.min(RESTART_MAX_MS, delay * 2);
    this.restarts.inc();
    this.log.warn({ worker: slot.index, code, signal, restart_in_ms: delay }, "worker died; restarting");
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      this.spawn(slot).then(
        () => this.log.info({ worker: slot.index, pid: slot.proc?.pid }, "worker restarted"),
        (err: Error) => {
          this.log.error({ worker: slot.index, err: err.message }, "worker restart failed");
          if (!this.stopping) this.onCrash(slot, null, null);
        },
      );
    }, delay);
  }

  /** Pids of the current workers (undefined for a slot being restarted). */
  get pids(): (number | undefined)[] {
    return this.slots.map((s) => s.proc?.pid);
  }

  /** Whether every worker is up and bound. */
  get allReady(): boolean {
    return !this.stopping && this.slots.every((s) => s.ready);
  }

  /** Asks every ready worker; answers in worker order (undefined for a worker that did not answer). */
  async query(q: WorkerQuery): Promise<unknown[]> {
    return Promise.all(
      this.slots.map((s) => {
        const proc = s.proc;
        if (proc === undefined || !s.ready || !proc.connected) return Promise.resolve(undefined);
        const id = this.nextId++;
        return new Promise<unknown>((resolve) => {
          const timer = setTimeout(() => {
            this.pending.delete(id);
            resolve(undefined);
          }, QUERY_TIMEOUT_MS);
          this.pending.set(id, (body) => {
            clearTimeout(timer);
            resolve(body);
          });
          proc.send({ t: "query", id, q } satisfies QueryMessage, (err) => {
            if (err === null) return;
            clearTimeout(timer);
            this.pending.delete(id);
            resolve(undefined);
          });
        });
      }),
    );
  }

  /** Stops restarting, sends `signal` to every worker (they drain), and waits for them; SIGKILL after `graceMs`. */
  async shutdown(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.restartTimer !== undefined) clearTimeout(s.restartTimer);
      s.proc?.kill(signal);
    }
    const all = Promise.all(this.slots.map((s) => s.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceMs)));
    if ((await Promise.race([all, late])) === "late") {
      const left = this.slots.flatMap((s) => (s.proc?.pid !== undefined ? [s.proc.pid] : []));
      this.log.warn({ workers: left, grace_ms: graceMs }, "workers still running after the grace period; killing them");
      for (const s of this.slots) s.proc?.kill("SIGKILL");
      await all;
    }
    clearTimeout(timer);
  }
}
