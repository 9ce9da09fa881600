/**
 * ADS push benchmark: N simulated sidecars, each on its own gRPC connection, hold an ADS stream to one
 * discovery server process; mesh.yaml is edited (write a temp file + rename, as editors save) and we
 * measure, on the client side, the time until every sidecar has received the new version of every type
 * the edit changed and ACKed it. Also the server's CPU time and RSS over the push. SotW and delta.
 *
 *   npm run bench:ads                                   # N = 1000 and 5000, SotW and delta, 5 rounds
 *   npx node --import tsx test/bench/ads-bench.ts --n 1000 --modes sotw --rounds 3
 *   npx node --import tsx test/bench/ads-bench.ts --n 1000 --modes sotw --cpu-prof /tmp/prof
 *   npx node --import tsx test/bench/ads-bench.ts --print-mesh 0     # the mesh (variant 0 or 1)
 *
 * Layout: the server (`pilotfish control-plane -c mesh.yaml --port 0 --admin-port 0`) runs as a child
 * process pinned to CPU 0; this process (all simulated clients) re-executes itself pinned to CPU 1 with
 * `ulimit -n` raised. Each client has its own grpc-js channel with a local subchannel pool (so no two
 * share a connection: checked with `ss -tn`).
 *
 * Noise guard: the machine may be shared. Over every measured window we read /proc/stat for CPU 0 and
 * CPU 1 and subtract our own processes' CPU time (from /proc/<pid>/task/* /schedstat): what remains is
 * foreign CPU on the cores we pinned to, reported per round; rounds with more than 20 % of a core of
 * foreign work are flagged "noisy".
 *
 * Output: a markdown report on stdout, and JSON in test/bench/results/ads-<date>.json.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync, mkdirSync, renameSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir, cpus, hostname, release } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { credentials, type ClientDuplexStream } from "@grpc/grpc-js";
import { AggregatedDiscoveryServiceClient } from "../../src/gen/envoy/service/discovery/v3/ads.js";
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from "../../src/gen/envoy/service/discovery/v3/discovery.js";
import type { Node } from "../../src/gen/envoy/config/core/v3/base.js";
import { validateMeshText } from "../../src/control-plane/mesh/mesh-source.js";
import { translateMesh } from "../../src/control-plane/mesh/translator.js";
import { connectionManagersOf, edsNameOf } from "../../src/control-plane/snapshot.js";
import { PUSH_ORDER, TYPE_SHORT, TypeUrl } from "../../src/xds/type-urls.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const NODE_BIN = join(ROOT, "node_modules", ".bin", "node");
const CLI_MAIN = join(ROOT, "src", "cli", "main.ts");
const FD_LIMIT = 20_000;
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const NOISY_FOREIGN_PCT = 20;
/** Simulated sidecars opening their stream at once while connecting. */
const CONNECT_BATCH = 250;
/** Quiet time after the last ACK, included in the CPU window (the server still reads those ACKs). */
const SETTLE_MS = 300;
const ROUND_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly sizes: number[];
  readonly modes: ("sotw" | "delta")[];
  readonly rounds: number;
  readonly groups: number;
  readonly cpuProf: string | undefined;
  readonly out: boolean;
}

function parseArgs(argv: string[]): Options {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const modes = (get("--modes") ?? "sotw,delta").split(",").map((m) => m.trim());
  for (const m of modes) if (m !== "sotw" && m !== "delta") throw new Error(`--modes: unknown mode "${m}"`);
  return {
    sizes: (get("--n") ?? "1000,5000").split(",").map((s) => Number(s)),
    modes: modes as ("sotw" | "delta")[],
    rounds: Number(get("--rounds") ?? "5"),
    groups: Number(get("--groups") ?? "10"),
    cpuProf: get("--cpu-prof"),
    out: !argv.includes("--no-save"),
  };
}

// ---------------------------------------------------------------------------------------------------
// Re-exec: raise the fd limit and pin this process (the clients) to CPU 1.

function reexecPinned(): never {
  if (spawnSync("taskset", ["-V"]).status !== 0) {
    console.error("ads-bench: taskset not found (util-linux)");
    process.exit(2);
  }
  if (cpus().length < 2) {
    console.error("ads-bench: needs 2 CPUs (server on CPU 0, clients on CPU 1)");
    process.exit(2);
  }
  const script = fileURLToPath(import.meta.url);
  const sh = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec taskset -c ${CLIENT_CPU} "$@"`;
  const r = spawnSync("sh", ["-c", sh, "sh", process.execPath, ...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, PF_ADS_BENCH_PINNED: "1" },
  });
  process.exit(r.status ?? 1);
}

// ---------------------------------------------------------------------------------------------------
// The mesh: `groups` node clusters, each with its own listener and route; every route sends to the
// shared upstreams plus its group's own. The edit changes shared-0 (one endpoint added or removed, and
// its connectTimeout), so every node receives a new CDS and a new EDS version; names stay the same.

const SHARED_UPSTREAMS = 5;
const GROUP_UPSTREAMS = 5;

function meshYaml(groups: number, variant: number): string {
  const lines: string[] = ["upstreams:"];
  const upstream = (name: string, nodes: string[], connectTimeout: string): void => {
    lines.push(`  - name: ${name}`, "    protocol: grpc", "    balance: least_request", `    connectTimeout: ${connectTimeout}`, "    timeout: 5s");
    lines.push("    nodes:");
    for (const n of nodes) lines.push(`      - address: ${n}`, "        weight: 1");
    lines.push("    outlierDetection: { consecutive5xx: 5, interval: 1s, baseEjectionTime: 10s, maxEjectionPercent: 50 }");
  };
  const ips = (base: number, n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.${base}.${i + 1}:8080`);
  for (let s = 0; s < SHARED_UPSTREAMS; s++) {
    // Variant 0 and 1 differ only in shared-0: 3 vs 4 endpoints, connectTimeout 1s vs 2s.
    const changed = s === 0 && variant % 2 === 1;
    upstream(`shared-${s}`, ips(s, changed ? 4 : 3), changed ? "2s" : "1s");
  }
  for (let g = 0; g < groups; g++) {
    for (let u = 0; u < GROUP_UPSTREAMS; u++) upstream(`svc-${g}-up-${u}`, ips(100 + g * GROUP_UPSTREAMS + u, 3), "1s");
  }
  lines.push("routes:");
  for (let g = 0; g < groups; g++) {
    lines.push(`  - name: route-${g}`, `    hosts: ["svc-${g}", "svc-${g}:15001"]`, "    rules:");
    for (let u = 0; u < GROUP_UPSTREAMS; u++) lines.push(`      - match: { prefix: /own/${u}/ }`, `        upstream: svc-${g}-up-${u}`);
    for (let s = 0; s < SHARED_UPSTREAMS; s++) lines.push(`      - match: { prefix: /shared/${s}/ }`, `        upstream: shared-${s}`);
  }
  lines.push("listeners:");
  for (let g = 0; g < groups; g++) {
    lines.push(`  - name: svc-${g}`, `    address: 127.0.0.1:${15001 + g}`, `    route: route-${g}`, `    nodes: { cluster: svc-${g} }`);
  }
  return lines.join("\n") + "\n";
}

/** EDS and RDS names a node of a group subscribes to (what a real sidecar learns from CDS and LDS). */
function namesFor(yaml: string, cluster: string): { eds: string[]; rds: string[] } {
  const v = validateMeshText(yaml, "mesh.yaml");
  if (!v.ok) throw new Error(`bench mesh invalid: ${JSON.stringify(v.errors)}`);
  const r = translateMesh(v.mesh, { id: "probe", cluster, proxyless: false });
  const eds = r.clusters.map(edsNameOf).filter((n): n is string => n !== undefined);
  const rds = new Set<string>();
  for (const l of r.listeners) {
    for (const hcm of connectionManagersOf(l)) if (hcm.routeSpecifier?.$case === "rds") rds.add(hcm.routeSpecifier.value.routeConfigName);
  }
  return { eds: eds.sort(), rds: [...rds].sort() };
}

// ---------------------------------------------------------------------------------------------------
// /proc readings

/** CPU time (ns) of every thread of a process, from /proc/<pid>/task/<tid>/schedstat. */
function cpuNs(pid: number | "self"): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // thread exited
    }
  }
  return total;
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Resets VmHWM to the current RSS so that it reports the peak from now on. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

const TICK_NS = 1e9 / 100; // USER_HZ

/** Busy time (ns) per CPU from /proc/stat (user+nice+system+irq+softirq+steal). */
function cpuBusyNs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].split(/\s+/).map(Number);
    out.set(Number(m[1]), (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * TICK_NS);
  }
  return out;
}

function loadAvg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** A window over which our own and the machine's CPU use is measured. */
class CpuWindow {
  private readonly t0 = performance.now();
  private readonly busy0 = cpuBusyNs();
  private readonly server0: number;
  private readonly self0 = cpuNs("self");

  constructor(private readonly serverPid: number) {
    this.server0 = cpuNs(serverPid);
  }

  /** Own CPU, and foreign CPU on the pinned cores as % of one core. */
  end(): { wallMs: number; serverCpuMs: number; clientCpuMs: number; foreignCpu0Pct: number; foreignCpu1Pct: number } {
    const wallMs = performance.now() - this.t0;
    const busy1 = cpuBusyNs();
    const serverNs = cpuNs(this.serverPid) - this.server0;
    const selfNs = cpuNs("self") - this.self0;
    const busy = (c: number): number => (busy1.get(c) ?? 0) - (this.busy0.get(c) ?? 0);
    const pct = (ns: number): number => Math.max(0, (ns / 1e6 / wallMs) * 100);
    return {
      wallMs,
      serverCpuMs: serverNs / 1e6,
      clientCpuMs: selfNs / 1e6,
      foreignCpu0Pct: pct(busy(SERVER_CPU) - serverNs),
      foreignCpu1Pct: pct(busy(CLIENT_CPU) - selfNs),
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// The discovery server child

interface Server {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Epoch ms of the server's log lines with this msg. */
  logTimes(msg: string): number[];
  stop(): Promise<void>;
}

async function startServer(meshFile: string, cpuProf: string | undefined): Promise<Server> {
  const args = ["-c", String(SERVER_CPU), NODE_BIN];
  if (cpuProf !== undefined) args.push("--cpu-prof", "--cpu-prof-dir", cpuProf);
  args.push("--import", "tsx", CLI_MAIN, "control-plane", "-c", meshFile, "--port", "0", "--admin-port", "0", "--address", "127.0.0.1");
  const proc = spawn("taskset", args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const times = new Map<string, number[]>();
  let buf = "";
  let err = "";
  let ports: ((p: { xds: number; admin: number }) => void) | undefined;
  const ready = new Promise<{ xds: number; admin: number }>((resolve, reject) => {
    ports = resolve;
    proc.once("exit", (code) => reject(new Error(`control plane exited (${code}) before ready:\n${err}`)));
    setTimeout(() => reject(new Error(`control plane not ready in 30 s:\n${err}`)), 30_000).unref();
  });
  proc.stderr.on("data", (b: Buffer) => (err += b.toString()));
  proc.stdout.on("data", (b: Buffer) => {
    buf += b.toString();
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      // Only the few lines we time are parsed (5,000 "stream opened" lines are not).
      if (!line.includes('"control plane ready"') && !line.includes('"mesh reloaded"') && !line.includes('"mesh rejected')) continue;
      const j = JSON.parse(line) as { msg: string; time: number | string; xds_port?: number; admin_port?: number };
      if (!times.has(j.msg)) times.set(j.msg, []);
      times.get(j.msg)!.push(typeof j.time === "number" ? j.time : Date.parse(j.time));
      if (j.msg === "control plane ready") ports!({ xds: j.xds_port!, admin: j.admin_port! });
    }
  });
  const p = await ready;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    proc,
    pid: proc.pid!,
    xdsPort: p.xds,
    adminPort: p.admin,
    logTimes: (msg) => times.get(msg) ?? [],
    async stop() {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Simulated sidecars

type Mode = "sotw" | "delta";

/** What one round waits for. */
interface RoundWatch {
  readonly expected: ReadonlySet<string>;
  readonly t0: number;
  remaining: number;
  /** performance.now() of each client's last needed ACK. */
  readonly doneAt: number[];
  /** Responses per type received during the round (every client). */
  readonly received: Map<string, number>;
  resolve: () => void;
}

class SimSidecar {
  private readonly client: AggregatedDiscoveryServiceClient;
  private sotw: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
  private delta: ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> | undefined;
  /** Types answered at least once (setup). */
  readonly acked = new Set<string>();
  /** Last version per type (SotW version_info, delta system_version_info). */
  readonly versions = new Map<string, string>();
  private onSetup: (() => void) | undefined;
  /** Types ACKed in the current round. */
  private roundAcked = new Set<string>();
  round: RoundWatch | undefined;
  errors = 0;
  readonly nodeId: string;

  constructor(
    private readonly index: number,
    port: number,
    private readonly mode: Mode,
    private readonly node: Node,
    private readonly names: { eds: string[]; rds: string[] },
  ) {
    this.nodeId = node.id;
    // A local subchannel pool (and channel options unique to this sidecar) gives every simulated
    // sidecar its own TCP connection, as real sidecars have.
    this.client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
      "grpc.channel_id": index,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
  }

  private subscribed(typeUrl: string): string[] {
    if (typeUrl === TypeUrl.ENDPOINT) return this.names.eds;
    if (typeUrl === TypeUrl.ROUTE) return this.names.rds;
    return []; // LDS/CDS: wildcard
  }

  /** Opens the stream and subscribes to every type; resolves once all four were answered and ACKed. */
  start(): Promise<void> {
    const setup = new Promise<void>((resolve) => (this.onSetup = resolve));
    if (this.mode === "sotw") {
      const call = this.client.streamAggregatedResources();
      this.sotw = call;
      call.on("data", (r: DiscoveryResponse) => this.onSotw(r));
      call.on("error", () => this.errors++);
      PUSH_ORDER.forEach((typeUrl, i) =>
        call.write({ node: i === 0 ? this.node : undefined, versionInfo: "", resourceNames: this.subscribed(typeUrl), typeUrl, responseNonce: "" }),
      );
    } else {
      const call = this.client.deltaAggregatedResources();
      this.delta = call;
      call.on("data", (r: DeltaDiscoveryResponse) => this.onDelta(r));
      call.on("error", () => this.errors++);
      PUSH_ORDER.forEach((typeUrl, i) =>
        call.write({
          node: i === 0 ? this.node : undefined,
          typeUrl,
          resourceNamesSubscribe: this.subscribed(typeUrl),
          resourceNamesUnsubscribe: [],
          initialResourceVersions: {},
          responseNonce: "",
        }),
      );
    }
    return setup;
  }

  private onSotw(r: DiscoveryResponse): void {
    this.sotw!.write({ versionInfo: r.versionInfo, resourceNames: this.subscribed(r.typeUrl), typeUrl: r.typeUrl, responseNonce: r.nonce });
    this.answered(r.typeUrl, r.versionInfo);
  }

  private onDelta(r: DeltaDiscoveryResponse): void {
    this.delta!.write({
      typeUrl: r.typeUrl,
      resourceNamesSubscribe: [],
      resourceNamesUnsubscribe: [],
      initialResourceVersions: {},
      responseNonce: r.nonce,
    });
    this.answered(r.typeUrl, r.systemVersionInfo);
  }

  /** Bookkeeping after the ACK went out (client-side timestamp). */
  private answered(typeUrl: string, version: string): void {
    this.versions.set(typeUrl, version);
    const round = this.round;
    if (round !== undefined) {
      round.received.set(typeUrl, (round.received.get(typeUrl) ?? 0) + 1);
      if (round.expected.has(typeUrl) && !this.roundAcked.has(typeUrl)) {
        this.roundAcked.add(typeUrl);
        if (this.roundAcked.size === round.expected.size) {
          round.doneAt[this.index] = performance.now();
          if (--round.remaining === 0) round.resolve();
        }
      }
      return;
    }
    this.acked.add(typeUrl);
    if (this.acked.size === PUSH_ORDER.length && this.onSetup !== undefined) {
      this.onSetup();
      this.onSetup = undefined;
    }
  }

  beginRound(round: RoundWatch): void {
    this.roundAcked = new Set();
    this.round = round;
  }

  close(): void {
    this.sotw?.cancel();
    this.delta?.cancel();
    this.client.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// One configuration (mode, N)

interface RoundResult {
  readonly round: number;
  readonly warmup: boolean;
  readonly completed: number;
  /** Edit → every client ACKed the changed types (ms). */
  readonly allAckedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly firstAckMs: number;
  /** Edit → the server logged "mesh reloaded" (watch + debounce + read + validate + translate + enqueue). */
  readonly serverReloadMs: number;
  readonly serverCpuMs: number;
  readonly clientCpuMs: number;
  readonly rssBeforeMb: number;
  readonly rssPeakMb: number;
  readonly foreignCpu0Pct: number;
  readonly foreignCpu1Pct: number;
  readonly preForeignCpu0Pct: number;
  readonly preForeignCpu1Pct: number;
  readonly loadavg: string;
  readonly responses: Record<string, number>;
  readonly ackedOnServer: number | undefined;
  readonly noisy: boolean;
}

interface ConfigResult {
  readonly mode: Mode;
  readonly n: number;
  readonly connections: number;
  readonly connectSeconds: number;
  readonly rssIdleMb: number;
  readonly rounds: RoundResult[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function establishedTo(port: number): number {
  const r = spawnSync("ss", ["-Htn", "state", "established", `( dport = :${port} )`], { encoding: "utf8" });
  return r.stdout.split("\n").filter((l) => l.trim() !== "").length;
}

/** How many nodes the server's /nodes shows as having ACKed, for every expected type, what the client holds. */
async function ackedOnServer(adminPort: number, sims: readonly SimSidecar[], expected: ReadonlySet<string>): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/nodes`);
    const j = (await res.json()) as { nodes: { id: string; types: Record<string, { version_acked: string }> }[] };
    const byId = new Map(sims.map((s) => [s.nodeId, s]));
    let ok = 0;
    for (const node of j.nodes) {
      const sim = byId.get(node.id);
      if (sim !== undefined && [...expected].every((t) => node.types[TYPE_SHORT[t as TypeUrl]]?.version_acked === sim.versions.get(t))) ok++;
    }
    return ok;
  } catch {
    return undefined;
  }
}

async function runConfig(mode: Mode, n: number, opts: Options, dir: string): Promise<ConfigResult> {
  const meshFile = join(dir, "mesh.yaml");
  let variant = 0;
  writeFileSync(meshFile, meshYaml(opts.groups, variant));
  const server = await startServer(meshFile, opts.cpuProf);
  const names = new Map<string, { eds: string[]; rds: string[] }>();
  const yaml0 = meshYaml(opts.groups, 0);
  for (let g = 0; g < opts.groups; g++) names.set(`svc-${g}`, namesFor(yaml0, `svc-${g}`));

  const sims: SimSidecar[] = [];
  const tConnect = performance.now();
  try {
    for (let i = 0; i < n; i += CONNECT_BATCH) {
      const batch: Promise<void>[] = [];
      for (let j = i; j < Math.min(n, i + CONNECT_BATCH); j++) {
        const cluster = `svc-${j % opts.groups}`;
        const node: Node = { id: `sidecar-${j}`, cluster, userAgentName: "pilotfish-ads-bench", userAgentVersion: "0", clientFeatures: [] };
        const sim = new SimSidecar(j, server.xdsPort, mode, node, names.get(cluster)!);
        sims.push(sim);
        batch.push(sim.start());
      }
      await Promise.race([Promise.all(batch), sleep(60_000).then(() => Promise.reject(new Error(`batch at ${i} not set up in 60 s`)))]);
    }
    const connectSeconds = (performance.now() - tConnect) / 1000;
    const connections = establishedTo(server.xdsPort);
    process.stderr.write(`[${mode} n=${n}] ${n} streams set up in ${connectSeconds.toFixed(1)} s; ${connections} TCP connections to the server\n`);
    await sleep(1000);
    const rssIdleMb = statusKb(server.pid, "VmRSS") / 1024;

    const rounds: RoundResult[] = [];
    for (let r = 0; r <= opts.rounds; r++) {
      // Pre-round quiet check: foreign CPU on our cores over 1 s with nothing of ours running.
      const pre = new CpuWindow(server.pid);
      await sleep(1000);
      const preCpu = pre.end();

      variant++;
      const before = new Map(PUSH_ORDER.map((t) => [t, sims[0].versions.get(t)]));
      const expected = new Set<string>([TypeUrl.CLUSTER, TypeUrl.ENDPOINT]);
      let resolveRound!: () => void;
      const allDone = new Promise<void>((res) => (resolveRound = res));
      const reloadsBefore = server.logTimes("mesh reloaded").length;
      const peakOk = resetPeakRss(server.pid);
      const rssBeforeMb = statusKb(server.pid, "VmRSS") / 1024;
      const window = new CpuWindow(server.pid);
      const t0 = performance.now();
      const watch: RoundWatch = { expected, t0, remaining: n, doneAt: new Array<number>(n).fill(NaN), received: new Map(), resolve: resolveRound };
      for (const s of sims) s.beginRound(watch);
      // The edit, as an editor saves: write a temp file, rename it over mesh.yaml.
      const tmp = join(dir, `.mesh.yaml.${variant}.tmp`);
      writeFileSync(tmp, meshYaml(opts.groups, variant));
      renameSync(tmp, meshFile);
      const t0Epoch = performance.timeOrigin + t0;
      const timedOut = await Promise.race([allDone.then(() => false), sleep(ROUND_TIMEOUT_MS).then(() => true)]);
      const tDone = performance.now();
      await sleep(SETTLE_MS);
      const cpu = window.end();
      const rssPeakMb = (peakOk ? statusKb(server.pid, "VmHWM") : statusKb(server.pid, "VmRSS")) / 1024;
      for (const s of sims) s.round = undefined;
      const done = watch.doneAt.filter((t) => !Number.isNaN(t)).map((t) => t - t0).sort((a, b) => a - b);
      const reload = server.logTimes("mesh reloaded")[reloadsBefore];
      const after = sims[0].versions;
      const changed = PUSH_ORDER.filter((t) => before.get(t) !== after.get(t));
      if (changed.length !== expected.size || !changed.every((t) => expected.has(t))) {
        process.stderr.write(`warning: the edit changed ${changed.map((t) => TYPE_SHORT[t]).join(",")} (expected cds,eds)\n`);
      }
      const acked = await ackedOnServer(server.adminPort, sims, expected);
      const result: RoundResult = {
        round: r,
        warmup: r === 0,
        completed: done.length,
        allAckedMs: timedOut ? NaN : tDone - t0,
        p50Ms: quantile(done, 0.5),
        p99Ms: quantile(done, 0.99),
        firstAckMs: done[0] ?? NaN,
        serverReloadMs: reload !== undefined ? reload - t0Epoch : NaN,
        serverCpuMs: cpu.serverCpuMs,
        clientCpuMs: cpu.clientCpuMs,
        rssBeforeMb,
        rssPeakMb,
        foreignCpu0Pct: cpu.foreignCpu0Pct,
        foreignCpu1Pct: cpu.foreignCpu1Pct,
        preForeignCpu0Pct: preCpu.foreignCpu0Pct,
        preForeignCpu1Pct: preCpu.foreignCpu1Pct,
        loadavg: loadAvg(),
        responses: Object.fromEntries([...watch.received].map(([t, c]) => [TYPE_SHORT[t as TypeUrl], c])),
        ackedOnServer: acked,
        noisy: Math.max(cpu.foreignCpu0Pct, cpu.foreignCpu1Pct) > NOISY_FOREIGN_PCT,
      };
      rounds.push(result);
      process.stderr.write(
        `[${mode} n=${n}] round ${r}${r === 0 ? " (warm-up)" : ""}: all ${result.completed}/${n} ACKed in ${result.allAckedMs.toFixed(0)} ms ` +
          `(p50 ${result.p50Ms.toFixed(0)}, p99 ${result.p99Ms.toFixed(0)}, reload logged at ${result.serverReloadMs.toFixed(0)}); ` +
          `server CPU ${result.serverCpuMs.toFixed(0)} ms, RSS ${rssBeforeMb.toFixed(0)}→peak ${rssPeakMb.toFixed(0)} MB; ` +
          `foreign CPU0 ${result.foreignCpu0Pct.toFixed(0)} % CPU1 ${result.foreignCpu1Pct.toFixed(0)} %; server-side ACKed ${acked}\n`,
      );
      await sleep(200);
    }
    return { mode, n, connections, connectSeconds, rssIdleMb, rounds };
  } finally {
    for (const s of sims) s.close();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function report(results: ConfigResult[], opts: Options, started: Date): string {
  const f0 = (x: number): string => (Number.isNaN(x) ? "–" : x.toFixed(0));
  const out: string[] = [];
  out.push(`ADS push benchmark, ${started.toISOString()}, ${hostname()} (${cpus()[0]?.model ?? "?"}, ${cpus().length} CPUs, Linux ${release()}, Node ${process.version})`);
  out.push(`mesh: ${opts.groups} node groups, ${SHARED_UPSTREAMS + opts.groups * GROUP_UPSTREAMS} upstreams, ${opts.groups} listeners/routes; edit: shared-0 ±1 endpoint and connectTimeout (CDS+EDS for every node)`);
  out.push(`rounds: 1 warm-up + ${opts.rounds} measured per configuration; times from the rename of mesh.yaml, client side`);
  out.push("");
  out.push("| mode | N | conns | all ACKed, median (ms) | worst (ms) | p50 / p99 (ms) | reload logged (ms) | reload → all ACKed (ms) | server CPU (ms) | client CPU (ms) | RSS idle → peak (MB) | foreign CPU0/CPU1 (%) | noisy rounds |");
  out.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const c of results) {
    const m = c.rounds.filter((r) => !r.warmup);
    const pick = (k: keyof RoundResult): number[] => m.map((r) => r[k] as number);
    out.push(
      `| ${c.mode} | ${c.n} | ${c.connections} | ${f0(median(pick("allAckedMs")))} | ${f0(Math.max(...pick("allAckedMs")))} | ` +
        `${f0(median(pick("p50Ms")))} / ${f0(median(pick("p99Ms")))} | ${f0(median(pick("serverReloadMs")))} | ` +
        `${f0(median(m.map((r) => r.allAckedMs - r.serverReloadMs)))} | ${f0(median(pick("serverCpuMs")))} | ` +
        `${f0(median(pick("clientCpuMs")))} | ${f0(c.rssIdleMb)} → ${f0(Math.max(...pick("rssPeakMb")))} | ` +
        `${f0(median(pick("foreignCpu0Pct")))} / ${f0(median(pick("foreignCpu1Pct")))} | ${m.filter((r) => r.noisy).length}/${m.length} |`,
    );
  }
  out.push("");
  out.push("Per round (all ACKed ms; foreign CPU0/CPU1 % during the push, and in the quiet second before it):");
  for (const c of results) {
    const rounds = c.rounds.map(
      (r) => `${r.warmup ? "w" : r.round}:${f0(r.allAckedMs)}${r.completed < c.n ? `(${r.completed}/${c.n})` : ""} [${f0(r.foreignCpu0Pct)}/${f0(r.foreignCpu1Pct)}, pre ${f0(r.preForeignCpu0Pct)}/${f0(r.preForeignCpu1Pct)}]`,
    );
    out.push(`- ${c.mode} N=${c.n}: ${rounds.join("  ")}`);
  }
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.argv.includes("--print-mesh")) {
    process.stdout.write(meshYaml(opts.groups, Number(process.argv[process.argv.indexOf("--print-mesh") + 1]) || 0));
    return;
  }
  if (process.env.PF_ADS_BENCH_PINNED !== "1") reexecPinned();
  const started = new Date();
  if (opts.cpuProf !== undefined) mkdirSync(opts.cpuProf, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "pf-ads-bench-"));
  const results: ConfigResult[] = [];
  try {
    for (const n of opts.sizes) {
      for (const mode of opts.modes) results.push(await runConfig(mode, n, opts, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const text = report(results, opts, started);
  console.log(text);
  if (opts.out) {
    const resultsDir = join(HERE, "results");
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `ads-${started.toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, JSON.stringify({ started, host: hostname(), options: opts, results }, null, 2));
    console.log(`\nsaved ${file}`);
  }
  process.exit(0);
}

await main();
