/**
 * The demo mesh, all in this process: the discovery server (ControlPlane) on a generated mesh.yaml,
 * three echo backends, a client-side and a server-side Sidecar configured over xDS, and the load
 * generator. In-process keeps start-up fast and makes "nothing left behind" a matter of closing
 * servers: there are no child processes to reap.
 *
 * `sample()` is the view's data each second; `poll()` (every 250 ms) turns changes into events:
 * backend behaviour changes, host health flags (read generically from the sidecars' Host objects, so
 * outlier ejection and active health checks show up as they land), host membership, mesh reloads and
 * rejections, NACKs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { decodeBootstrap } from "../config/load-bootstrap.js";
import { ControlPlane } from "../control-plane/control-plane.js";
import { translateMesh } from "../control-plane/mesh/translator.js";
import { Sidecar } from "../sidecar/sidecar.js";
import { startDemoBackend, type BackendBehaviour, type DemoBackend } from "./echo-service.js";
import { quantile } from "./latency.js";
import { LoadGenerator } from "./load-generator.js";
import { BACKENDS_UPSTREAM, CLIENT_NODE, demoMeshYaml, demoSidecarBootstrap, SERVER_NODE } from "./mesh.js";

export interface DemoOptions {
  /** Calls per second (default 200). */
  readonly rate?: number;
  /** Concurrent calls (default 4). */
  readonly lanes?: number;
  /** When the flaky backend starts failing, ms after traffic starts (default 15 s). */
  readonly failAfterMs?: number;
  /** How long it fails, ms (default 20 s). */
  readonly failForMs?: number;
  /** Extra delay of the slow backend, ms (default 20). */
  readonly slowDelayMs?: number;
}

/** Addresses the demo prints. */
export interface DemoAddresses {
  readonly dir: string;
  readonly meshFile: string;
  readonly logFile: string;
  readonly xdsPort: number;
  readonly controlPlaneAdmin: number;
  readonly outbound: number;
  readonly inbound: number;
  readonly clientAdmin: number;
  readonly serverAdmin: number;
}

/** One host as a sidecar sees it. */
export interface HostView {
  readonly key: string;
  /** The demo backend at this address, if any (the user may add others to mesh.yaml). */
  readonly backend: DemoBackend | undefined;
  /** Envoy's health flag text: `healthy` or `/failed_outlier_check...`. */
  readonly health: string;
  readonly active: number;
  /** Attempts sent to this host since the last sample. */
  readonly requests: number;
}

/** One second of the demo, for the view. */
export interface Sample {
  /** Seconds since traffic started. */
  readonly elapsedSec: number;
  readonly rps: number;
  readonly requests: number;
  readonly ok: number;
  readonly errors: ReadonlyMap<string, number>;
  readonly p50: number;
  readonly p99: number;
  readonly inFlight: number;
  /** The server sidecar's hosts of upstream `echo`. */
  readonly hosts: readonly HostView[];
}

/** Something that happened, for the event log. */
export interface DemoEvent {
  readonly elapsedSec: number;
  readonly text: string;
}

const DEFAULTS = { rate: 200, lanes: 4, failAfterMs: 15_000, failForMs: 20_000, slowDelayMs: 20 };

/** A port: `preferred` when free on 127.0.0.1, else one the kernel picks. */
async function pickPort(preferred: number): Promise<number> {
  const tryListen = (port: number): Promise<number | undefined> =>
    new Promise((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(undefined));
      srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
  return (await tryListen(preferred)) ?? (await tryListen(0)) ?? 0;
}

export class DemoMesh {
  readonly options: Required<DemoOptions>;
  readonly events: DemoEvent[] = [];
  backends: DemoBackend[] = [];
  addresses!: DemoAddresses;
  /** The load generator; kept after stop() for the summary's totals. */
  load: LoadGenerator | undefined;
  private loadStopped = false;
  private log!: Logger;
  private controlPlane: ControlPlane | undefined;
  private clientSidecar: Sidecar | undefined;
  private serverSidecar: Sidecar | undefined;
  private dir: string | undefined;
  private startedAt = 0;
  private lastSampleAt = 0;
  /** rq_total per Host object at the last sample (a cluster update may replace hosts: they start at 0). */
  private lastRqTotal = new WeakMap<object, number>();
  private lastFlags = new Map<string, string>();
  private lastBackendState = new Map<string, string>();
  private lastMeshLoadedAt: string | null = null;
  private lastMeshErrorAt: string | null = null;
  private seenNacks = new Set<string>();
  private onEvent: ((e: DemoEvent) => void) | undefined;

  constructor(options: DemoOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Seconds since traffic started (0 before). */
  elapsedSec(now = Date.now()): number {
    return this.startedAt === 0 ? 0 : (now - this.startedAt) / 1000;
  }

  /**
   * Starts everything and waits until a call goes through both sidecars (up to 15 s). On failure what
   * was started is stopped again before the error propagates.
   */
  async start(onEvent: (e: DemoEvent) => void): Promise<DemoAddresses> {
    this.onEvent = onEvent;
    const dir = mkdtempSync(join(tmpdir(), "pilotfish-demo-"));
    this.dir = dir;
    const logFile = join(dir, "demo.log");
    this.log = pino(
      { name: "pilotfish-demo", level: process.env.PILOTFISH_LOG_LEVEL ?? "info", timestamp: pino.stdTimeFunctions.isoTime },
      pino.destination({ dest: logFile, sync: true }),
    );
    try {
      return await this.startIn(dir, logFile);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startIn(dir: string, logFile: string): Promise<DemoAddresses> {
    const o = this.options;
    const behaviours: [string, BackendBehaviour][] = [
      ["healthy", { kind: "healthy" }],
      ["slow", { kind: "slow", extraDelayMs: o.slowDelayMs }],
      ["flaky", { kind: "flaky", failAfterMs: o.failAfterMs, failForMs: o.failForMs }],
    ];
    for (const [name, behaviour] of behaviours) this.backends.push(await startDemoBackend(name, behaviour));

    const [outbound, inbound, xdsPort, cpAdmin, clientAdmin, serverAdmin] = [
      await pickPort(15001),
      await pickPort(15006),
      await pickPort(18000),
      await pickPort(18001),
      await pickPort(9901),
      await pickPort(9902),
    ];
    const meshFile = join(dir, "mesh.yaml");
    await writeFile(meshFile, demoMeshYaml(this.backends, { outbound, inbound }));

    this.controlPlane = new ControlPlane({
      meshFile,
      translate: translateMesh,
      log: this.log.child({ component: "control-plane" }),
      xdsHost: "127.0.0.1",
      xdsPort,
      adminHost: "127.0.0.1",
      adminPort: cpAdmin,
      watchDebounceMs: 100,
    });
    const cpPorts = await this.controlPlane.start();

    this.serverSidecar = this.sidecar(SERVER_NODE, serverAdmin, cpPorts.xds, "server-sidecar");
    this.clientSidecar = this.sidecar(CLIENT_NODE, clientAdmin, cpPorts.xds, "client-sidecar");
    const serverPorts = await this.serverSidecar.start();
    const clientPorts = await this.clientSidecar.start();

    this.addresses = {
      dir,
      meshFile,
      logFile,
      xdsPort: cpPorts.xds,
      controlPlaneAdmin: cpPorts.admin,
      outbound: await this.listenerPort(this.clientSidecar, "outbound"),
      inbound: await this.listenerPort(this.serverSidecar, "inbound"),
      clientAdmin: clientPorts.admin ?? 0,
      serverAdmin: serverPorts.admin ?? 0,
    };

    this.load = new LoadGenerator({ target: `127.0.0.1:${this.addresses.outbound}`, rate: o.rate, lanes: o.lanes, deadlineMs: 2000 });
    const deadline = Date.now() + 15_000;
    while (!(await this.load.probe(1000))) {
      if (Date.now() > deadline) throw new Error(`no call got through the sidecars in 15 s; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.load.takeWindow();
    this.poll(); // the hosts as they start, without "added" events
    this.startedAt = Date.now();
    this.lastSampleAt = performance.now();
    for (const b of this.backends) b.begin(this.startedAt);
    this.load.start();
    this.pollMesh(true);
    return this.addresses;
  }

  private sidecar(node: { id: string; cluster: string }, adminPort: number, xdsPort: number, component: string): Sidecar {
    const decoded = decodeBootstrap(demoSidecarBootstrap(node, adminPort, xdsPort));
    if (!decoded.ok) throw new Error(`demo bootstrap invalid: ${JSON.stringify(decoded.errors)}`);
    return new Sidecar(decoded.value, this.log.child({ component }));
  }

  /** Waits (up to 10 s) for a listener pushed over xDS to be bound. */
  private async listenerPort(sidecar: Sidecar, name: string): Promise<number> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const port = sidecar.ports.get(name);
      if (port !== undefined) return port;
      if (Date.now() > deadline) throw new Error(`listener "${name}" not received over xDS in 10 s; see ${this.addresses?.logFile ?? "the log"}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The last second: traffic from the load generator, hosts from the server sidecar. */
  sample(): Sample {
    const w = this.load!.takeWindow();
    const now = performance.now();
    const windowSec = Math.max(0.001, (now - this.lastSampleAt) / 1000);
    this.lastSampleAt = now;
    const p50 = quantile(w.latencies, 0.5);
    const p99 = quantile(w.latencies, 0.99);
    const hosts: HostView[] = [];
    const cluster = this.serverSidecar?.clusters.get(BACKENDS_UPSTREAM);
    for (const h of cluster?.hosts ?? []) {
      const prev = this.lastRqTotal.get(h) ?? 0;
      this.lastRqTotal.set(h, h.stats.rqTotal);
      hosts.push({
        key: h.key,
        backend: this.backends.find((b) => b.address === h.key),
        health: h.healthText(),
        active: h.activeRequests,
        requests: Math.max(0, h.stats.rqTotal - prev),
      });
    }
    return {
      elapsedSec: this.elapsedSec(),
      rps: Math.round(w.requests / windowSec),
      requests: w.requests,
      ok: w.ok,
      errors: w.errors,
      p50,
      p99,
      inFlight: this.load!.inFlight,
      hosts,
    };
  }

  /** Turns what changed since the last poll into events. */
  poll(): void {
    const now = Date.now();
    for (const b of this.backends) {
      const s = b.state(now);
      const prev = this.lastBackendState.get(b.name);
      this.lastBackendState.set(b.name, s);
      if (prev === undefined || prev === s) continue;
      if (s === "failing") this.emit(`backend ${b.name} (${b.address}) starts failing: every call answers UNAVAILABLE`);
      else if (s === "recovered") this.emit(`backend ${b.name} (${b.address}) recovered: answers OK again`);
    }
    this.pollHosts("server sidecar", this.serverSidecar);
    this.pollHosts("client sidecar", this.clientSidecar);
    this.pollMesh(false);
  }

  private pollHosts(label: string, sidecar: Sidecar | undefined): void {
    if (sidecar === undefined) return;
    const seen = new Set<string>();
    for (const c of sidecar.clusters.all()) {
      if (c.name === "xds") continue;
      for (const h of c.hosts) {
        const id = `${label}\0${c.name}\0${h.key}`;
        seen.add(id);
        const flags = h.healthText();
        const prev = this.lastFlags.get(id);
        this.lastFlags.set(id, flags);
        const who = this.hostName(c.name, h.key);
        if (prev === undefined) {
          if (this.startedAt !== 0) this.emit(`${label}: ${who} added to cluster ${c.name}${flags === "healthy" ? "" : ` (${flags})`}`);
          continue;
        }
        if (prev === flags) continue;
        this.emit(`${label}: ${who} ${describeFlagChange(prev, flags)}`);
      }
    }
    for (const id of [...this.lastFlags.keys()]) {
      if (!id.startsWith(`${label}\0`) || seen.has(id)) continue;
      this.lastFlags.delete(id);
      const [, cluster, key] = id.split("\0");
      this.emit(`${label}: ${this.hostName(cluster, key)} removed from cluster ${cluster}`);
    }
  }

  private hostName(cluster: string, key: string): string {
    const b = cluster === BACKENDS_UPSTREAM ? this.backends.find((x) => x.address === key) : undefined;
    return b === undefined ? key : `${b.name} (${key})`;
  }

  private pollMesh(initial: boolean): void {
    const cp = this.controlPlane;
    if (cp === undefined) return;
    const view = cp.configView() as { loaded_at: string | null };
    if (view.loaded_at !== this.lastMeshLoadedAt) {
      if (!initial && this.lastMeshLoadedAt !== null) this.emit("mesh.yaml reloaded: the discovery server pushes the change to both sidecars");
      this.lastMeshLoadedAt = view.loaded_at;
    }
    const err = cp.lastMeshError();
    if (err !== null && err.time !== this.lastMeshErrorAt) {
      this.lastMeshErrorAt = err.time;
      const first = err.errors[0];
      const more = err.errors.length > 1 ? ` (+${err.errors.length - 1} more)` : "";
      this.emit(`mesh.yaml rejected, the last good mesh stays: ${first ? `${first.path}: ${first.message}` : "invalid"}${more}`);
    }
    for (const s of cp.registry.list()) {
      for (const [type, status] of s.types) {
        const n = status.lastNack;
        if (n === null) continue;
        const key = `${s.node.id}\0${type}\0${n.time}`;
        if (this.seenNacks.has(key)) continue;
        this.seenNacks.add(key);
        this.emit(`${s.node.id} NACKed ${type.split(".").at(-1)}: ${n.error.split("\n")[0]}`);
      }
    }
  }

  private emit(text: string): void {
    const e = { elapsedSec: this.elapsedSec(), text };
    this.events.push(e);
    this.log?.info({ event: text }, "demo event");
    this.onEvent?.(e);
  }

  /**
   * Stops everything, in order: traffic, client sidecar, server sidecar, discovery server, backends.
   * Safe to call on a partial start and more than once. Removes the temp dir unless `keepDir`.
   */
  async stop(keepDir = false): Promise<void> {
    const step = async (what: string, f: () => Promise<void> | void): Promise<void> => {
      try {
        await f();
      } catch (err) {
        this.log?.warn({ err: (err as Error).message }, `demo: stopping ${what} failed`);
      }
    };
    const load = this.load;
    if (load !== undefined && !this.loadStopped) {
      this.loadStopped = true;
      await step("load generator", () => load.stop());
    }
    const client = this.clientSidecar;
    this.clientSidecar = undefined;
    if (client !== undefined) await step("client sidecar", () => client.shutdown());
    const server = this.serverSidecar;
    this.serverSidecar = undefined;
    if (server !== undefined) await step("server sidecar", () => server.shutdown());
    const cp = this.controlPlane;
    this.controlPlane = undefined;
    if (cp !== undefined) await step("discovery server", () => cp.stop());
    for (const b of this.backends) await step(`backend ${b.name}`, () => b.close());
    this.log?.flush();
    if (this.dir !== undefined && !keepDir) {
      rmSync(this.dir, { recursive: true, force: true });
      this.dir = undefined;
    }
  }
}

/** "ejected (/failed_outlier_check)", "back in rotation (healthy)", or the flags before and after. */
export function describeFlagChange(prev: string, next: string): string {
  const flags = (s: string): Set<string> => new Set(s === "healthy" ? [] : s.split("/").filter((f) => f !== ""));
  const before = flags(prev);
  const after = flags(next);
  const added = [...after].filter((f) => !before.has(f));
  const removed = [...before].filter((f) => !after.has(f));
  const parts: string[] = [];
  if (added.includes("failed_outlier_check")) parts.push("ejected by outlier detection");
  if (removed.includes("failed_outlier_check")) parts.push("un-ejected");
  if (added.includes("failed_active_hc")) parts.push("failed its active health check");
  if (removed.includes("failed_active_hc")) parts.push("passed its active health check");
  const other = [...added.filter((f) => f !== "failed_outlier_check" && f !== "failed_active_hc").map((f) => `+${f}`),
    ...removed.filter((f) => f !== "failed_outlier_check" && f !== "failed_active_hc").map((f) => `-${f}`)];
  if (other.length > 0) parts.push(`flags ${other.join(" ")}`);
  const state = next === "healthy" ? "back in rotation" : `now ${next}`;
  return `${parts.length > 0 ? parts.join(", ") + ": " : ""}${state}`;
}
