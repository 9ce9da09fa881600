// Orchestrator of the proxy benchmark. Run it through test/bench/run.sh (`npm run bench`),
// which checks the tools, builds Pilotfish and guarantees cleanup.
//
// Targets: direct (h2load -> upstream), nginx (grpc_pass), HAProxy (proto h2), a naive
// node:http2 proxy (naive-proxy.ts) and the Pilotfish sidecar (dist/cli/main.js sidecar).
// Scenarios: A h2c GET 100 B (nginx upstream), B gRPC unary vs a fake nginx gRPC upstream,
// C gRPC unary vs a @grpc/grpc-js Echo server (echo-server.ts), D a gRPC server stream of
// 4 x 1 MiB messages (static nginx upstream), E 1,000 concurrent idle gRPC streams held open
// (idle-streams.ts against the grpc-js server).
// Proxies run on CPU 0, upstreams + h2load (+ this script) on CPU 1.
//
// Environment: ROUNDS (3), DURATION (4 s), WARMUP (1 s), RATE (1000 req/s total),
// CONNS (10), STREAMS (10), NOISE_MAX (25 = % of one core), NOISE_RETRIES (2),
// TARGETS (comma list of direct,nginx,haproxy,naive,pilotfish,pilotfishnode,pilotfish2), SCENARIOS (A,B,C,D,E),
// IDLE_STREAMS (1000) / IDLE_CONNS (20) for E,
// QUIET_WAIT (10 s), PROXY_NODE_FLAGS (extra node flags for naive + pilotfish), BENCH_TIMEOUT (2400 s),
// BENCH_RUN_DIR (scratch dir; run.sh sets it), BENCH_BASE_PORT (18000).
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";

// ---------------------------------------------------------------- configuration
const HERE = import.meta.dirname;
const ROOT = path.resolve(HERE, "../..");
const NODE = path.join(ROOT, "node_modules/.bin/node");
const env = process.env;
const num = (k: string, d: number): number => (env[k] !== undefined && env[k] !== "" ? Number(env[k]) : d);
const ROUNDS = num("ROUNDS", 3);
const DURATION = num("DURATION", 4);
const WARMUP = num("WARMUP", 1);
const RATE = num("RATE", 2000);
const CONNS = num("CONNS", 10);
const STREAMS = num("STREAMS", 10);
const NOISE_MAX = num("NOISE_MAX", 25);
const NOISE_RETRIES = num("NOISE_RETRIES", 2);
const QUIET_WAIT = num("QUIET_WAIT", 10);
const DEADLINE = Date.now() + num("BENCH_TIMEOUT", 2400) * 1000;
const BASE = num("BENCH_BASE_PORT", 18000);
const PROXY_NODE_FLAGS = (env.PROXY_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
const RUN_DIR = env.BENCH_RUN_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "pf-bench-"));
const PIDFILE = path.join(RUN_DIR, "pgids");
const RESULTS_DIR = path.join(HERE, "results");
const PROXY_CPU = "0";
const LOAD_CPU = "1";
const CLK_TCK = 100;
const FAKE_REPLY = "pilotfish fake grpc reply 0123456"; // 33 ASCII bytes
const REQ_MESSAGE = "0123456789abcdef0123456789abcdef"; // 32 ASCII bytes -> 39-byte request file
const STREAM_MESSAGES = 4; // scenario D: messages of 1 MiB per call
const STREAM_CALL_BYTES = STREAM_MESSAGES * (5 + 1 + 3 + (1 << 20)); // gRPC prefix + tag + 3-byte varint + payload
const IDLE_STREAMS = num("IDLE_STREAMS", 1000);
const IDLE_CONNS = num("IDLE_CONNS", 20); // nginx allows 128 streams per connection, HAProxy 100

type ScenarioId = "A" | "B" | "C" | "D" | "E";
type TargetId = "direct" | "nginx" | "haproxy" | "naive" | "pilotfish" | "pilotfishnode" | "pilotfish2";
type Mode = "sat" | "rate";
interface Scenario {
  id: ScenarioId;
  title: string;
  upstreamPort: number;
  /** Offset of this scenario's listener from each proxy's base port. */
  slot: number;
  path: string;
  grpc: boolean;
  gate: "h2get" | "grpc-fake" | "grpc-echo" | "grpc-stream" | "grpc-hold";
  /** "load": h2load runs; "idle": idle-streams.ts holds IDLE_STREAMS streams open. */
  kind: "load" | "idle";
  /** Load modes run (saturation, fixed rate). */
  modes: Mode[];
  /** h2load -c / -m for this scenario. */
  conns: number;
  streams: number;
}
const SCENARIOS: Scenario[] = (
  [
    { id: "A", title: "h2c GET, 100 B body, fast nginx upstream", upstreamPort: BASE + 1, slot: 1, path: "/", grpc: false, gate: "h2get", kind: "load", modes: ["sat", "rate"], conns: CONNS, streams: STREAMS },
    { id: "B", title: "gRPC unary, fast fake gRPC upstream (nginx static reply + grpc-status trailer)", upstreamPort: BASE + 2, slot: 2, path: "/echo.Echo/Echo", grpc: true, gate: "grpc-fake", kind: "load", modes: ["sat", "rate"], conns: CONNS, streams: STREAMS },
    { id: "C", title: "gRPC unary, @grpc/grpc-js Echo upstream", upstreamPort: BASE + 3, slot: 3, path: "/echo.Echo/Echo", grpc: true, gate: "grpc-echo", kind: "load", modes: ["sat", "rate"], conns: CONNS, streams: STREAMS },
    { id: "D", title: `gRPC server stream, ${STREAM_MESSAGES} × 1 MiB messages per call (nginx static upstream)`, upstreamPort: BASE + 4, slot: 4, path: "/echo.Echo/Stream", grpc: true, gate: "grpc-stream", kind: "load", modes: ["sat"], conns: 2, streams: 2 },
    { id: "E", title: `${IDLE_STREAMS} concurrent idle gRPC streams (grpc-js upstream)`, upstreamPort: BASE + 3, slot: 5, path: "/echo.Echo/Hold", grpc: true, gate: "grpc-hold", kind: "idle", modes: [], conns: IDLE_CONNS, streams: IDLE_STREAMS / IDLE_CONNS },
  ] satisfies Scenario[]
).filter((s) => (env.SCENARIOS ?? "A,B,C,D,E").split(",").includes(s.id));

const TARGET_LABEL: Record<TargetId, string> = {
  direct: "direct",
  nginx: "nginx",
  haproxy: "HAProxy",
  naive: "naive node:http2",
  pilotfish: "Pilotfish",
  pilotfishnode: "Pilotfish, node:http2 server",
  pilotfish2: "Pilotfish, 2 workers on CPUs 0+1",
};
const ALL_TARGETS: TargetId[] = ["direct", "nginx", "haproxy", "naive", "pilotfish", "pilotfishnode", "pilotfish2"];
const TARGETS = ALL_TARGETS.filter((t) => t === "direct" || env.TARGETS === undefined || env.TARGETS === "all" || env.TARGETS.split(",").includes(t));
const PROXY_BASE: Record<Exclude<TargetId, "direct">, number> = {
  nginx: BASE + 100,
  haproxy: BASE + 200,
  naive: BASE + 300,
  pilotfish: BASE + 400,
  pilotfish2: BASE + 500,
  pilotfishnode: BASE + 600,
};
const ADMIN_PORT = BASE + 1901;
const ADMIN_PORT_2 = BASE + 1902;
const ADMIN_PORT_NODE = BASE + 1903;
function portOf(t: TargetId, s: Scenario): number {
  return t === "direct" ? s.upstreamPort : PROXY_BASE[t] + s.slot;
}

// ---------------------------------------------------------------- processes
interface Proc {
  name: string;
  pid: number;
  log: string;
  exited: boolean;
}
const procs: Proc[] = [];
const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

function startProc(name: string, cpu: string, cmd: string, args: string[], extraEnv: Record<string, string> = {}): Proc {
  const logPath = path.join(RUN_DIR, `${name}.log`);
  const fd = fs.openSync(logPath, "a");
  const child = spawn("taskset", ["-c", cpu, cmd, ...args], {
    detached: true, // own process group: nginx workers etc. are killed with the group
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...extraEnv },
  });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`cannot start ${name}`);
  const p: Proc = { name, pid: child.pid, log: logPath, exited: false };
  child.on("exit", () => (p.exited = true));
  fs.appendFileSync(PIDFILE, `${child.pid}\n`);
  procs.push(p);
  return p;
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}

let cleanedUp = false;
function cleanupSync(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const p of procs) killGroup(p.pid, "SIGTERM");
  const until = Date.now() + 1500;
  while (Date.now() < until && procs.some((p) => groupPids(p.pid).length > 0)) execFileSync("sleep", ["0.1"]);
  for (const p of procs) killGroup(p.pid, "SIGKILL");
}
process.on("exit", cleanupSync);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    log(`got ${sig}, cleaning up`);
    cleanupSync();
    process.exit(130);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function waitPort(port: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const attempt = (): void => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > until) resolve(false);
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function tail(file: string, n = 8): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-n).join(" | ");
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------- /proc accounting
interface StatLine {
  pgrp: number;
  ticks: number; // utime + stime
  childTicks: number; // cutime + cstime
}
function readStat(pid: number | "self"): StatLine | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" "); // f[0] = field 3 (state)
    return { pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]), childTicks: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}
function allPids(): number[] {
  return fs
    .readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}
function groupPids(pgid: number): number[] {
  return allPids().filter((p) => readStat(p)?.pgrp === pgid);
}
function ticksOf(pids: number[]): number {
  return pids.reduce((a, p) => a + (readStat(p)?.ticks ?? 0), 0);
}
function rssMiB(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}
interface CpuStat {
  busy: number;
  cpu: Record<string, number>;
}
function readCpu(): CpuStat {
  const out: CpuStat = { busy: 0, cpu: {} };
  for (const line of fs.readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest is already in user)
    const busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    if (m[1] === "") out.busy = busy;
    else out.cpu[m[1]] = busy;
  }
  return out;
}
function selfTicks(): number {
  const s = readStat("self");
  return s ? s.ticks + s.childTicks : 0; // childTicks covers reaped h2load runs
}

// ---------------------------------------------------------------- configs
function writeFiles(): { reqBin: string } {
  const varint = (n: number): number[] => {
    const out: number[] = [];
    for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
    return [...out, n];
  };
  const frame = (msg: string): Buffer => {
    const pb = Buffer.concat([Buffer.from([0x0a, ...varint(msg.length)]), Buffer.from(msg, "ascii")]);
    const hdr = Buffer.alloc(5);
    hdr.writeUInt32BE(pb.length, 1);
    return Buffer.concat([hdr, pb]);
  };
  // The naive proxy runs as plain JS: Node's on-the-fly type stripping would add ~24 MiB RSS
  // to it (Pilotfish runs compiled JS from dist/ too).
  fs.writeFileSync(path.join(RUN_DIR, "naive-proxy.mjs"), stripTypeScriptTypes(fs.readFileSync(path.join(HERE, "naive-proxy.ts"), "utf8")));
  const reqBin = path.join(RUN_DIR, "grpc-req.bin");
  fs.writeFileSync(reqBin, frame(REQ_MESSAGE));
  fs.mkdirSync(path.join(RUN_DIR, "www"), { recursive: true });
  fs.writeFileSync(path.join(RUN_DIR, "www", "reply.bin"), frame(FAKE_REPLY));
  const mib = frame("x".repeat(1 << 20));
  if (mib.length * STREAM_MESSAGES !== STREAM_CALL_BYTES) throw new Error("stream frame size");
  fs.writeFileSync(path.join(RUN_DIR, "www", "stream.bin"), Buffer.concat(Array.from({ length: STREAM_MESSAGES }, () => mib)));

  const common = (name: string): string => `
worker_processes 1;
daemon off;
master_process on;
user root;
pid ${RUN_DIR}/${name}.pid;
error_log ${RUN_DIR}/${name}.err warn;
events { worker_connections 16384; }
`;
  const httpCommon = (name: string): string => `
  access_log off;
  client_body_temp_path ${RUN_DIR}/${name}-tmp/body;
  proxy_temp_path ${RUN_DIR}/${name}-tmp/proxy;
  fastcgi_temp_path ${RUN_DIR}/${name}-tmp/fcgi;
  uwsgi_temp_path ${RUN_DIR}/${name}-tmp/uwsgi;
  scgi_temp_path ${RUN_DIR}/${name}-tmp/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_body_buffer_size 64k;
`;
  const body100 = "x".repeat(99) + "\\n";
  fs.writeFileSync(
    path.join(RUN_DIR, "nginx-upstream.conf"),
    `${common("nginx-upstream")}
http {
${httpCommon("nginx-upstream")}
  server {
    listen 127.0.0.1:${BASE + 1} http2;
    location / { default_type text/plain; return 200 "${body100}"; }
  }
  server {
    listen 127.0.0.1:${BASE + 2} http2;
    # mirror + mirror_request_body makes nginx read the whole request body before it
    # answers; otherwise nginx's own grpc_pass proxy trips over an early response.
    location = /_mirror { internal; return 204; }
    location = /echo.Echo/Echo {
      mirror /_mirror;
      mirror_request_body on;
      # The static module answers POST with 405; error_page turns that into an internal
      # GET of the reply file (a known nginx idiom). mirror runs first and reads the body.
      alias ${RUN_DIR}/www/reply.bin;
      error_page 405 =200 /_reply.bin;
    }
    location = /_reply.bin {
      internal;
      default_type application/grpc;
      etag off;
      add_trailer grpc-status 0;
      alias ${RUN_DIR}/www/reply.bin;
    }
  }
  server {
    listen 127.0.0.1:${BASE + 4} http2;
    location = /_mirror { internal; return 204; }
    location = /echo.Echo/Stream {
      mirror /_mirror;
      mirror_request_body on;
      alias ${RUN_DIR}/www/stream.bin;
      error_page 405 =200 /_stream.bin;
    }
    location = /_stream.bin {
      internal;
      default_type application/grpc;
      etag off;
      add_trailer grpc-status 0;
      alias ${RUN_DIR}/www/stream.bin;
    }
  }
}
`,
  );
  const up = (s: Scenario): string => `up${s.id}`;
  fs.writeFileSync(
    path.join(RUN_DIR, "nginx-proxy.conf"),
    `${common("nginx-proxy")}
http {
${httpCommon("nginx-proxy")}
${SCENARIOS.map(
  (s) => `  upstream ${up(s)} { server 127.0.0.1:${s.upstreamPort}; keepalive 256; keepalive_requests 100000000; keepalive_timeout 600s; }
  server { listen 127.0.0.1:${portOf("nginx", s)} http2; location / { grpc_pass grpc://${up(s)}; grpc_read_timeout 60s; } }`,
).join("\n")}
}
`,
  );
  fs.writeFileSync(
    path.join(RUN_DIR, "haproxy.cfg"),
    `global
  nbthread 1
  maxconn 5000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
${SCENARIOS.map(
  (s) => `frontend f${s.id}
  bind 127.0.0.1:${portOf("haproxy", s)} proto h2
  default_backend b${s.id}
backend b${s.id}
  server s1 127.0.0.1:${s.upstreamPort} proto h2`,
).join("\n")}
`,
  );
  for (const [t, admin] of [["pilotfish", ADMIN_PORT], ["pilotfishnode", ADMIN_PORT_NODE], ["pilotfish2", ADMIN_PORT_2]] as const) writePilotfishBootstrap(t, admin);
  return { reqBin };
}

function writePilotfishBootstrap(t: "pilotfish" | "pilotfishnode" | "pilotfish2", adminPort: number): void {
  const listeners = SCENARIOS.map(
    (s) => `  - name: ingress_${s.id}
    address: { socket_address: { address: 127.0.0.1, port_value: ${portOf(t, s)} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_${s.id}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [ { match: { prefix: "/" }, route: { cluster: upstream_${s.id}, timeout: 0s } } ]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`,
  ).join("\n");
  const clusters = SCENARIOS.map(
    (s) => `  - name: upstream_${s.id}
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: upstream_${s.id}
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${s.upstreamPort} } } } } ] } ]`,
  ).join("\n");
  fs.writeFileSync(
    path.join(RUN_DIR, `${t}-bootstrap.yaml`),
    `node: { id: bench, cluster: bench }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: ${adminPort} } } }
static_resources:
  listeners:
${listeners}
  clusters:
${clusters}
`,
  );
}

// ---------------------------------------------------------------- targets
interface TargetState {
  id: TargetId;
  pgids: number[]; // process groups belonging to this proxy (empty for direct)
  startError?: string;
  idleRss?: number;
  afterRss?: number;
  peakRss: Partial<Record<ScenarioId, number>>;
  gate: Partial<Record<ScenarioId, { ok: boolean; detail: string }>>;
}
const state = new Map<TargetId, TargetState>();
let upstreamPgids: number[] = [];

async function startAll(): Promise<void> {
  for (const p of [...new Set(SCENARIOS.map((s) => s.upstreamPort)), ...SCENARIOS.flatMap((s) => TARGETS.map((t) => portOf(t, s))), ADMIN_PORT, ADMIN_PORT_2, ADMIN_PORT_NODE]) {
    if (!(await portFree(p))) throw new Error(`port ${p} is already in use (another bench running?)`);
  }
  for (const n of ["nginx-upstream", "nginx-proxy"]) {
    for (const d of ["body", "proxy", "fcgi", "uwsgi", "scgi"]) fs.mkdirSync(path.join(RUN_DIR, `${n}-tmp`, d), { recursive: true });
  }
  const up = startProc("upstream-nginx", LOAD_CPU, "nginx", ["-p", RUN_DIR, "-e", path.join(RUN_DIR, "nginx-upstream.err"), "-c", path.join(RUN_DIR, "nginx-upstream.conf")]);
  const ups = [up];
  if (SCENARIOS.some((s) => s.id === "C" || s.id === "E")) ups.push(startProc("upstream-grpcjs", LOAD_CPU, NODE, [path.join(HERE, "echo-server.ts"), String(BASE + 3)]));
  for (const s of SCENARIOS) {
    if (!(await waitPort(s.upstreamPort, 15000))) throw new Error(`upstream for ${s.id} did not start: ${ups.map((p) => tail(p.log)).join(" / ")}`);
  }
  upstreamPgids = ups.map((p) => p.pid);

  for (const t of TARGETS) {
    const st: TargetState = { id: t, pgids: [], peakRss: {}, gate: {} };
    state.set(t, st);
    let p: Proc | undefined;
    if (t === "nginx") p = startProc("proxy-nginx", PROXY_CPU, "nginx", ["-p", RUN_DIR, "-e", path.join(RUN_DIR, "nginx-proxy.err"), "-c", path.join(RUN_DIR, "nginx-proxy.conf")]);
    if (t === "haproxy") p = startProc("proxy-haproxy", PROXY_CPU, "haproxy", ["-db", "-f", path.join(RUN_DIR, "haproxy.cfg")]);
    if (t === "naive") p = startProc("proxy-naive", PROXY_CPU, NODE, [...PROXY_NODE_FLAGS, path.join(RUN_DIR, "naive-proxy.mjs"), ...SCENARIOS.map((s) => `${portOf("naive", s)}=127.0.0.1:${s.upstreamPort}`)]);
    if (t === "pilotfish" || t === "pilotfishnode" || t === "pilotfish2") {
      const main = path.join(ROOT, "dist/cli/main.js");
      if (!fs.existsSync(main)) {
        st.startError = "dist/cli/main.js not built";
        continue;
      }
      // The sidecar re-executes itself with its production V8 flags (src/cli/node-flags.ts);
      // PROXY_NODE_FLAGS, when given, replaces them so that both Node proxies run alike.
      const flagsEnv: Record<string, string> = PROXY_NODE_FLAGS.length > 0 ? { PILOTFISH_NODE_FLAGS: PROXY_NODE_FLAGS.join(" ") } : {};
      // pilotfishnode: the same one-worker sidecar with node:http2's server as its downstream half instead
      // of our own (docs/raw-h2-server.md), for the A/B of issue #9. (The upstream half's A/B, raw client
      // against node:http2's, is recorded in docs/performance.md; PILOTFISH_UPSTREAM_H2=node still works.)
      if (t === "pilotfishnode") flagsEnv.PILOTFISH_DOWNSTREAM_H2 = "node";
      const one = t !== "pilotfish2";
      p = startProc(`proxy-${t}`, one ? PROXY_CPU : `${PROXY_CPU},${LOAD_CPU}`, NODE, [
        main, "sidecar", "-c", path.join(RUN_DIR, `${t}-bootstrap.yaml`), "--concurrency", one ? "1" : "2",
      ], flagsEnv);
    }
    if (!p) continue;
    st.pgids = [p.pid];
    for (const s of SCENARIOS) {
      if (!(await waitPort(portOf(t, s), 20000))) {
        st.startError = `listener :${portOf(t, s)} not up after 20 s${p.exited ? " (process exited)" : ""}: ${tail(p.log, 5)}`;
        break;
      }
    }
    if (st.startError) {
      killGroup(p.pid, "SIGKILL");
      log(`${t}: ${st.startError}`);
    }
  }
  await sleep(1000);
  for (const st of state.values()) if (st.pgids.length && !st.startError) st.idleRss = rssMiB(st.pgids.flatMap(groupPids));
}

async function runGate(): Promise<void> {
  const checks: { id: string; port: number; kind: string }[] = [];
  for (const s of SCENARIOS) for (const t of TARGETS) if (!state.get(t)!.startError) checks.push({ id: `${s.id}/${t}`, port: portOf(t, s), kind: s.gate });
  const res = await new Promise<string>((resolve) => {
    const c = spawn("taskset", ["-c", LOAD_CPU, NODE, path.join(HERE, "grpc-check.ts"), JSON.stringify(checks)], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, FAKE_REPLY },
    });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => c.kill("SIGKILL"), 60000);
    c.on("exit", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
  let parsed: Record<string, { ok: boolean; detail: string }> = {};
  try {
    parsed = JSON.parse(res) as typeof parsed;
  } catch {
    log(`correctness gate produced no result: ${res}`);
  }
  for (const s of SCENARIOS) {
    for (const t of TARGETS) {
      const st = state.get(t)!;
      st.gate[s.id] = st.startError ? { ok: false, detail: `not started: ${st.startError}` } : (parsed[`${s.id}/${t}`] ?? { ok: false, detail: "no gate result" });
      log(`gate ${s.id}/${t}: ${st.gate[s.id]!.ok ? "ok" : "FAILED"} (${st.gate[s.id]!.detail})`);
    }
  }
}

// ---------------------------------------------------------------- one load run
interface Run {
  round: number;
  ok: boolean;
  error?: string;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  done: number;
  failed: number; // failed + errored + timeout + non-2xx
  proxyCpu: number | null; // % of one core
  cpu1: number; // % busy of CPU 1 (h2load + upstream)
  foreign: number; // % of one core used by processes outside the benchmark
  upConns: number | null;
  peakRss: number | null;
  attempts: number;
  logLines: number; // lines in h2load's --log-file (to check it only covers the main phase)
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function countUpstreamConns(port: number, pids: Set<number>): number {
  try {
    const out = execFileSync("ss", ["-Htnp", "state", "established", `( dport = :${port} )`], { encoding: "utf8" });
    return out.split("\n").filter((l) => [...l.matchAll(/pid=(\d+)/g)].some((m) => pids.has(Number(m[1])))).length;
  } catch {
    return NaN;
  }
}

async function loadOnce(s: Scenario, t: TargetId, mode: Mode, round: number, reqBin: string): Promise<Run> {
  const st = state.get(t)!;
  const logFile = path.join(RUN_DIR, `h2load-${s.id}-${t}-${mode}-${round}.log`);
  const args = ["-c", LOAD_CPU, "h2load", "-t", "1", "-c", String(s.conns), "-m", String(s.streams), "-D", String(DURATION), "--warm-up-time", String(WARMUP), "--log-file", logFile];
  if (mode === "rate") args.push("--rps", String(RATE / CONNS));
  if (s.grpc) args.push("-d", reqBin, "-H", "content-type: application/grpc", "-H", "te: trailers");
  args.push(`http://127.0.0.1:${portOf(t, s)}${s.path}`);

  const proxyPids = st.pgids.flatMap(groupPids);
  const ourLongLived = ourPids();
  const cpu0 = readCpu();
  const self0 = selfTicks();
  const ours0 = ticksOf(ourLongLived);
  const proxy0 = ticksOf(proxyPids);
  const t0 = performance.now();

  let peak = proxyPids.length ? rssMiB(proxyPids) : 0;
  let upConns: number | null = null;
  const rssTimer = setInterval(() => (peak = Math.max(peak, rssMiB(proxyPids))), 250);
  const connTimer = setTimeout(() => {
    const pids = new Set(t === "direct" ? [] : proxyPids);
    if (t === "direct") {
      for (const p of allPids()) if (readStat(p)?.pgrp === h2loadPid) pids.add(p);
    }
    upConns = countUpstreamConns(s.upstreamPort, pids);
  }, (WARMUP + DURATION / 2) * 1000);

  let h2loadPid = 0;
  const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
    const c = spawn("taskset", args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    h2loadPid = c.pid ?? 0;
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => killGroup(c.pid ?? 0, "SIGKILL"), (WARMUP + DURATION + 20) * 1000);
    c.on("exit", (rc) => {
      clearTimeout(killer);
      resolve({ stdout: out, code: rc });
    });
  });
  clearInterval(rssTimer);
  clearTimeout(connTimer);
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = readCpu();
  const ours = selfTicks() - self0 + (ticksOf(ourLongLived) - ours0);
  const foreign = Math.max(0, ((cpu1.busy - cpu0.busy - ours) / (wall * CLK_TCK)) * 100);
  const proxyCpu = proxyPids.length ? ((ticksOf(proxyPids) - proxy0) / (wall * CLK_TCK)) * 100 : null;
  const cpu1busy = ((cpu1.cpu[LOAD_CPU] - cpu0.cpu[LOAD_CPU]) / (wall * CLK_TCK)) * 100;

  const run: Run = {
    round,
    ok: false,
    rps: 0,
    p50: NaN,
    p99: NaN,
    p999: NaN,
    done: 0,
    failed: 0,
    proxyCpu,
    cpu1: cpu1busy,
    foreign,
    upConns,
    peakRss: proxyPids.length ? peak : null,
    attempts: 1,
    logLines: 0,
  };
  const fin = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(stdout);
  const sc = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  if (!fin || !req || !sc) {
    run.error = `h2load rc=${code}: ${stdout.trim().split("\n").slice(-3).join(" | ")}`;
    return run;
  }
  run.rps = Number(fin[1]);
  run.done = Number(req[3]);
  run.failed = Number(req[5]) + Number(req[6]) + Number(req[7]) + Number(sc[2]) + Number(sc[3]) + Number(sc[4]);
  const durs: number[] = [];
  try {
    for (const line of fs.readFileSync(logFile, "utf8").split("\n")) {
      const f = line.split("\t");
      if (f.length >= 3 && f[1] === "200") durs.push(Number(f[2]) / 1000);
    }
    fs.rmSync(logFile);
  } catch {
    /* no log */
  }
  run.logLines = durs.length;
  durs.sort((a, b) => a - b);
  run.p50 = pct(durs, 50);
  run.p99 = pct(durs, 99);
  run.p999 = pct(durs, 99.9);
  run.ok = run.done > 0 && run.failed === 0;
  if (!run.ok) run.error = `${run.failed} failed/errored/non-2xx of ${Number(req[1])}`;
  return run;
}

// ---------------------------------------------------------------- scenario E: idle streams
interface IdleRun {
  round: number;
  ok: boolean;
  error?: string;
  opened: number;
  openMs: number; // until every stream had its response headers
  endedEarly: number; // streams that ended before the client cancelled them
  rssBefore: number | null;
  rssHeld: number | null; // max while held
  rssAfter: number | null; // 1 s after the client cancelled everything
  proxyCpu: number | null; // % of one core while the streams sat idle
  foreign: number;
}

async function idleOnce(s: Scenario, t: TargetId, round: number): Promise<IdleRun> {
  const st = state.get(t)!;
  const proxyPids = st.pgids.flatMap(groupPids);
  const rss = (): number | null => (proxyPids.length ? rssMiB(proxyPids) : null);
  const run: IdleRun = { round, ok: false, opened: 0, openMs: NaN, endedEarly: 0, rssBefore: rss(), rssHeld: null, rssAfter: null, proxyCpu: null, foreign: 0 };
  const c = spawn("taskset", ["-c", LOAD_CPU, NODE, path.join(HERE, "idle-streams.ts"), String(portOf(t, s)), String(s.conns), String(s.streams)], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  let buf = "";
  c.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      waiter?.();
    }
  });
  let stderr = "";
  c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => c.on("exit", () => r()));
  const killer = setTimeout(() => killGroup(c.pid ?? 0, "SIGKILL"), (DURATION + 60) * 1000);
  const nextLine = async (): Promise<string | undefined> => {
    while (lines.length === 0) {
      const more = new Promise<void>((r) => (waiter = r));
      if ((await Promise.race([more.then(() => "line"), exited.then(() => "exit")])) === "exit" && lines.length === 0) return undefined;
    }
    return lines.shift();
  };
  try {
    const first = await nextLine();
    const ready = first && /^READY (\d+)/.exec(first);
    if (!ready) {
      run.error = `${first ?? "client exited"} ${stderr.trim().split("\n").slice(-1)[0] ?? ""}`.trim();
      return run;
    }
    run.openMs = Number(ready[1]);
    await sleep(1000); // let the open burst's garbage settle before the idle window
    const cpu0 = readCpu();
    const ours0 = selfTicks() + ticksOf(ourPids());
    const p0 = ticksOf(proxyPids);
    const t0 = performance.now();
    let held = rss() ?? 0;
    for (let i = 0; i < DURATION * 4; i++) {
      await sleep(250);
      held = Math.max(held, rss() ?? 0);
    }
    const wall = (performance.now() - t0) / 1000;
    run.proxyCpu = proxyPids.length ? ((ticksOf(proxyPids) - p0) / (wall * CLK_TCK)) * 100 : null;
    run.foreign = Math.max(0, ((readCpu().busy - cpu0.busy - (selfTicks() + ticksOf(ourPids()) - ours0)) / (wall * CLK_TCK)) * 100);
    run.rssHeld = proxyPids.length ? held : null;
    c.stdin.write("close\n");
    const last = await nextLine();
    const res = JSON.parse(last ?? "{}") as { opened?: number; ended_early?: number };
    run.opened = res.opened ?? 0;
    run.endedEarly = res.ended_early ?? 0;
    await sleep(1000);
    run.rssAfter = rss();
    run.ok = run.opened === IDLE_STREAMS && run.endedEarly === 0;
    if (!run.ok) run.error = `${run.opened} opened, ${run.endedEarly} ended before the client closed them`;
    return run;
  } finally {
    clearTimeout(killer);
    killGroup(c.pid ?? 0, "SIGKILL");
  }
}

function ourPids(): number[] {
  return [...upstreamPgids, ...[...state.values()].flatMap((x) => x.pgids)].flatMap(groupPids);
}

// Foreign CPU (% of one core) over a short window: everything busy minus our processes.
async function foreignNow(ms: number): Promise<number> {
  const pids = ourPids();
  const c0 = readCpu();
  const o0 = selfTicks() + ticksOf(pids);
  const t0 = performance.now();
  await sleep(ms);
  const o1 = selfTicks() + ticksOf(pids);
  const wall = (performance.now() - t0) / 1000;
  return Math.max(0, ((readCpu().busy - c0.busy - (o1 - o0)) / (wall * CLK_TCK)) * 100);
}

let quietWaitTotal = 0;
// Before a run, wait (up to QUIET_WAIT s) until other people's builds/tests quiet down.
async function waitQuiet(): Promise<void> {
  const until = Date.now() + QUIET_WAIT * 1000;
  const t0 = Date.now();
  let f = await foreignNow(500);
  while (f > NOISE_MAX && Date.now() < until) f = await foreignNow(1000);
  const waited = (Date.now() - t0 - 500) / 1000;
  if (waited > 0.5) {
    quietWaitTotal += waited;
    log(`  waited ${waited.toFixed(0)} s for foreign CPU to drop (now ${f.toFixed(0)} %)`);
  }
}

async function load(s: Scenario, t: TargetId, mode: Mode, round: number, reqBin: string): Promise<Run> {
  let best: Run | undefined;
  for (let attempt = 1; attempt <= 1 + NOISE_RETRIES; attempt++) {
    await waitQuiet();
    const r = await loadOnce(s, t, mode, round, reqBin);
    r.attempts = attempt;
    if (!best || r.foreign < best.foreign) best = { ...r };
    best.attempts = attempt;
    if (r.foreign <= NOISE_MAX || !r.ok) break;
    log(`  foreign CPU ${r.foreign.toFixed(0)} % > ${NOISE_MAX} % -> retry`);
  }
  return best!;
}

// ---------------------------------------------------------------- statistics & report
const median = (xs: number[]): number => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const f0 = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "–" : Math.round(x).toLocaleString("en-US").replace(/,/g, " "));
const f1 = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(1));
const f2 = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(2));
const signed = (x: number): string => (Number.isFinite(x) ? (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(2) : "–");

type Results = Record<ScenarioId, Record<Mode, Partial<Record<TargetId, Run[]>>>>;
const idleResults: Partial<Record<TargetId, IdleRun[]>> = {};

function perCore(r: Run): number {
  return r.proxyCpu && r.proxyCpu > 0 ? r.rps / (r.proxyCpu / 100) : NaN;
}
function ratioMedian(a: Run[] | undefined, b: Run[] | undefined, f: (r: Run) => number): number {
  if (!a || !b) return NaN;
  const xs: number[] = [];
  for (const ra of a) {
    const rb = b.find((x) => x.round === ra.round);
    if (rb && ra.ok && rb.ok) xs.push(f(ra) / f(rb));
  }
  return median(xs);
}
function usable(t: TargetId, s: Scenario): boolean {
  const st = state.get(t)!;
  return !st.startError && st.gate[s.id]?.ok === true;
}

/** The issue's target table (#9): each figure for naive / nginx / HAProxy / Pilotfish, the target, and the gap. */
function targetsTable(results: Results): string[] {
  const sc = (id: ScenarioId): Scenario | undefined => SCENARIOS.find((s) => s.id === id);
  const sat = (id: ScenarioId): Partial<Record<TargetId, Run[]>> => (sc(id) ? results[id].sat : {});
  const rate = (id: ScenarioId): Partial<Record<TargetId, Run[]>> => (sc(id) ? results[id].rate : {});
  const ok = (t: TargetId, id: ScenarioId): boolean => sc(id) !== undefined && state.has(t) && usable(t, sc(id)!);
  const perCoreVsNginx = (t: TargetId, id: ScenarioId): number => (ok(t, id) ? ratioMedian(sat(id)[t], sat(id).nginx, perCore) : NaN);
  const vsDirect = (t: TargetId, id: ScenarioId): number => (ok(t, id) ? ratioMedian(sat(id)[t], sat(id).direct, (r) => r.rps) : NaN);
  const added = (t: TargetId, id: ScenarioId, f: (r: Run) => number): number => {
    if (!ok(t, id)) return NaN;
    const d = median((rate(id).direct ?? []).filter((r) => r.ok).map(f));
    return median((rate(id)[t] ?? []).filter((r) => r.ok).map(f)) - d;
  };
  const AB: ScenarioId[] = ["A", "B"];
  const addedCell = (t: TargetId): string =>
    AB.filter((id) => sc(id) !== undefined)
      .map((id) => `${id}: ${signed(added(t, id, (r) => r.p50))} / ${signed(added(t, id, (r) => r.p99))}`)
      .join("; ") || "–";
  const peakOf = (t: TargetId): number => {
    const st = state.get(t);
    const peaks = st ? Object.values(st.peakRss).filter((v): v is number => typeof v === "number") : [];
    return peaks.length ? Math.max(...peaks) : NaN;
  };
  const rss = (t: TargetId): string => {
    const st = state.get(t);
    return st === undefined || st.startError ? "–" : `${f1(st.idleRss)} / ${f1(peakOf(t))}`;
  };
  const mark = (v: number, goal: number, higherIsBetter = true): string =>
    !Number.isFinite(v) ? "not measured" : (higherIsBetter ? v >= goal : v <= goal) ? "**met**" : `missed by ${f2(Math.abs(v - goal))}`;
  const cols: TargetId[] = ["naive", "nginx", "haproxy", "pilotfish", "pilotfishnode"];
  const row = (figure: string, cell: (t: TargetId) => string, target: string, verdict: string): string =>
    `| ${figure} | ${cols.map((t) => (state.has(t) ? cell(t) : "–")).join(" | ")} | ${target} | ${verdict} |`;
  const L = [
    "## Targets (issue #9; ratios are medians of per-round ratios from this run)",
    "",
    `| figure | ${cols.map((t) => TARGET_LABEL[t]).join(" | ")} | target | Pilotfish vs target |`,
    `|---|${cols.map(() => "---").join("|")}|---|---|`,
  ];
  for (const [id, what] of [["A", "h2c GET, 100 B"], ["B", "gRPC unary, fast upstream"]] as const) {
    L.push(row(`${what}: req/s per proxy core ÷ nginx`, (t) => f2(perCoreVsNginx(t, id)), "≥ 1.0", mark(perCoreVsNginx("pilotfish", id), 1.0)));
  }
  L.push(row("gRPC unary, grpc-js upstream: req/s ÷ direct", (t) => f2(vsDirect(t, "C")), "≥ 0.9", mark(vsDirect("pilotfish", "C"), 0.9)));
  const worst = (f: (r: Run) => number): number => Math.max(...AB.map((id) => added("pilotfish", id, f)).filter((x) => Number.isFinite(x)));
  L.push(
    row(`added p50 / p99 ms at ${RATE} req/s`, addedCell, "≤ +0.5 / +2", `p50 ${mark(worst((r) => r.p50), 0.5, false)}; p99 ${mark(worst((r) => r.p99), 2, false)}`),
  );
  L.push(row("RSS idle / under load, MiB", rss, "≤ 60 / 100", `idle ${mark(state.get("pilotfish")?.idleRss ?? NaN, 60, false)}; load ${mark(peakOf("pilotfish"), 100, false)}`));
  const scale = AB.filter((id) => ok("pilotfish2", id) && ok("pilotfish", id)).map((id) => [id, ratioMedian(sat(id).pilotfish2, sat(id).pilotfish, (r) => r.rps)] as const);
  const worstScale = scale.length ? Math.min(...scale.map(([, v]) => v)) : NaN;
  L.push(`| 2 workers on 2 cores vs 1 worker, req/s | – | – | – | ${scale.map(([id, v]) => `${id}: ${f2(v)}`).join("; ") || "–"} | – | ≥ 1.7 | ${mark(worstScale, 1.7)} |`);
  // The issue names these two scenarios without a target: shown for comparison, not judged.
  const mibps = (r: Run): number => (r.rps * STREAM_CALL_BYTES) / 2 ** 20;
  if (sc("D")) {
    const cell = (t: TargetId): string =>
      ok(t, "D") ? `${f0(median((sat("D")[t] ?? []).filter((r) => r.ok).map(mibps)))} MiB/s (${f2(perCoreVsNginx(t, "D"))})` : "–";
    L.push(row(`server stream, 1 MiB messages: MiB/s (per proxy core ÷ nginx); direct ${f0(median((sat("D").direct ?? []).filter((r) => r.ok).map(mibps)))} MiB/s`, cell, "none set", "–"));
  }
  if (sc("E")) {
    const cell = (t: TargetId): string => {
      const rs = (idleResults[t] ?? []).filter((r) => r.ok);
      if (!ok(t, "E") || !rs.length) return ok(t, "E") ? "failed" : "–";
      const added = median(rs.map((r) => (r.rssHeld ?? NaN) - (r.rssBefore ?? NaN)));
      return `${Number.isFinite(added) && added < 0 ? "−" : "+"}${f1(Math.abs(added))} MiB, ${f1(median(rs.map((r) => r.proxyCpu ?? NaN)))} %`;
    };
    L.push(row(`${IDLE_STREAMS} idle streams held: RSS added / proxy CPU while idle`, cell, "none set", "–"));
  }
  L.push("", "The 2-worker target has both CPUs, but h2load and the upstream also run on CPU 1, so its ratio understates what 2 free cores give.");
  return L;
}

function idleTable(s: Scenario): string[] {
  const L = [
    `${IDLE_STREAMS} streams on ${s.conns} connections (\`idle-streams.ts\`), each a bidi call that sent only its headers and got the upstream's; held ${DURATION} s, then cancelled. Medians of ${ROUNDS} rounds.`,
    "",
    "| target | opened | open ms | RSS before, MiB | RSS held | RSS after cancel | added per stream, KiB | proxy CPU % while idle | ended early | foreign CPU % | errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const t of TARGETS) {
    if (!usable(t, s)) {
      L.push(`| ${TARGET_LABEL[t]} | **FAILED** (${state.get(t)!.startError ?? state.get(t)!.gate[s.id]?.detail ?? ""}) ||||||||||`);
      continue;
    }
    const all = idleResults[t] ?? [];
    const rs = all.filter((r) => r.ok);
    const m = (f: (r: IdleRun) => number | null): number => median(rs.map((r) => f(r) ?? NaN));
    const added = m((r) => (r.rssHeld ?? NaN) - (r.rssBefore ?? NaN));
    const errs = all.filter((r) => !r.ok).map((r) => `r${r.round}: ${r.error}`);
    L.push(
      `| ${TARGET_LABEL[t]} | ${f0(m((r) => r.opened))} | ${f0(m((r) => r.openMs))} | ${f1(m((r) => r.rssBefore))} | ${f1(m((r) => r.rssHeld))} | ${f1(m((r) => r.rssAfter))} | ${f1((added * 1024) / IDLE_STREAMS)} | ${f1(m((r) => r.proxyCpu))} | ${f0(m((r) => r.endedEarly))} | ${f0(median(all.map((r) => r.foreign)))} | ${errs.length ? errs.join("; ") : "0"} |`,
    );
  }
  return L;
}

function report(results: Results, meta: Record<string, string>): string {
  const L: string[] = [];
  L.push(`# Pilotfish proxy benchmark — ${meta.date}`, "");
  for (const [k, v] of Object.entries(meta)) if (k !== "date") L.push(`- **${k}:** ${v}`);
  L.push("");

  L.push(...targetsTable(results), "");

  // Summary
  const present = TARGETS.filter((t) => t !== "direct");
  const mainT: TargetId = present.includes("pilotfish") ? "pilotfish" : "naive";
  L.push(`## Summary (saturation, -c ${CONNS} -m ${STREAMS}; median req/s, in brackets per proxy core)`, "");
  L.push(`| scenario | ${TARGETS.map((t) => TARGET_LABEL[t]).join(" | ")} | ${TARGET_LABEL[mainT]} ÷ nginx, req/s | ${TARGET_LABEL[mainT]} ÷ HAProxy, per core |${mainT === "pilotfish" ? " Pilotfish ÷ naive, req/s |" : ""}`);
  L.push(`|---|${TARGETS.map(() => "---").join("|")}|---|---|${mainT === "pilotfish" ? "---|" : ""}`);
  for (const s of SCENARIOS.filter((x) => x.kind === "load")) {
    const row = results[s.id].sat;
    const cells = TARGETS.map((t) => {
      if (!usable(t, s)) return "FAILED";
      const rs = row[t] ?? [];
      const rps = median(rs.filter((r) => r.ok).map((r) => r.rps));
      return t === "direct" ? f0(rps) : `${f0(rps)} (${f0(median(rs.filter((r) => r.ok).map(perCore)))})`;
    });
    const vsNginx = ratioMedian(row[mainT], row.nginx, (r) => r.rps);
    const vsHap = ratioMedian(row[mainT], row.haproxy, perCore);
    const vsNaive = mainT === "pilotfish" ? ` ${f2(ratioMedian(row.pilotfish, row.naive, (r) => r.rps))} |` : "";
    L.push(`| ${s.id}: ${s.title} | ${cells.join(" | ")} | **${f2(vsNginx)}** | ${f2(vsHap)} |${vsNaive}`);
  }
  L.push("");
  L.push(`Added latency at a fixed ${RATE} req/s (target median minus direct median, ms, +p50 / +p99):`, "");
  L.push(`| scenario | direct p50 / p99 | ${present.map((t) => TARGET_LABEL[t]).join(" | ")} |`);
  L.push(`|---|---|${present.map(() => "---").join("|")}|`);
  for (const s of SCENARIOS.filter((x) => x.modes.includes("rate"))) {
    const row = results[s.id].rate;
    const d = row.direct?.filter((r) => r.ok) ?? [];
    const d50 = median(d.map((r) => r.p50));
    const d99 = median(d.map((r) => r.p99));
    const cells = present.map((t) => {
      if (!usable(t, s)) return "FAILED";
      const rs = row[t]?.filter((r) => r.ok) ?? [];
      return `${signed(median(rs.map((r) => r.p50)) - d50)} / ${signed(median(rs.map((r) => r.p99)) - d99)}`;
    });
    L.push(`| ${s.id} | ${f2(d50)} / ${f2(d99)} | ${cells.join(" | ")} |`);
  }
  L.push("");

  // Memory
  L.push("## Memory (RSS, MiB; nginx = master + worker)", "");
  L.push(`| proxy | idle | ${SCENARIOS.map((s) => `peak ${s.id}`).join(" | ")} | after all load |`);
  L.push(`|---|---|${SCENARIOS.map(() => "---").join("|")}|---|`);
  for (const t of present) {
    const st = state.get(t)!;
    if (st.startError) {
      L.push(`| ${TARGET_LABEL[t]} | not started | ${SCENARIOS.map(() => "–").join(" | ")} | – |`);
      continue;
    }
    L.push(`| ${TARGET_LABEL[t]} | ${f1(st.idleRss)} | ${SCENARIOS.map((s) => f1(st.peakRss[s.id])).join(" | ")} | ${f1(st.afterRss)} |`);
  }
  L.push("");

  // Gate
  L.push("## Correctness gate (one real request per target before load)", "");
  L.push(`| target | ${SCENARIOS.map((s) => s.id).join(" | ")} |`);
  L.push(`|---|${SCENARIOS.map(() => "---").join("|")}|`);
  for (const t of TARGETS) {
    const st = state.get(t)!;
    L.push(`| ${TARGET_LABEL[t]} | ${SCENARIOS.map((s) => (st.gate[s.id]?.ok ? `ok (${st.gate[s.id]!.detail})` : `**FAILED**: ${st.gate[s.id]?.detail ?? "?"}`)).join(" | ")} |`);
  }
  L.push("");

  // Details per scenario
  for (const s of SCENARIOS) {
    L.push(`## ${s.id} — ${s.title}`, "");
    if (s.kind === "idle") {
      L.push(...idleTable(s), "");
      continue;
    }
    if (s.id === "D") L.push(`Each request is one call of ${STREAM_MESSAGES} messages (${f1(STREAM_CALL_BYTES / 2 ** 20)} MiB on the wire), so MiB/s = req/s × ${f1(STREAM_CALL_BYTES / 2 ** 20)}.`, "");
    L.push(`Saturation (h2load -c ${s.conns} -m ${s.streams}, ${DURATION} s + ${WARMUP} s warm-up, medians of ${ROUNDS} rounds):`, "");
    L.push("| target | req/s | each round | x direct | x nginx | p50 ms | p99 ms | proxy CPU % | req/s per proxy core | per core x nginx | upstream conns | CPU 1 busy % | foreign CPU % (max) | errors |");
    L.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    const sat = results[s.id].sat;
    for (const t of TARGETS) {
      if (!usable(t, s)) {
        L.push(`| ${TARGET_LABEL[t]} | **FAILED** (${state.get(t)!.startError ?? state.get(t)!.gate[s.id]?.detail ?? ""}) |||||||||||||`);
        continue;
      }
      const all = sat[t] ?? [];
      const rs = all.filter((r) => r.ok);
      const errs = all.filter((r) => !r.ok).map((r) => `r${r.round}: ${r.error}`);
      L.push(
        `| ${TARGET_LABEL[t]} | ${f0(median(rs.map((r) => r.rps)))} | ${all.map((r) => (r.ok ? f0(r.rps).replace(" ", "") : "ERR")).join("/")} | ${f2(ratioMedian(sat[t], sat.direct, (r) => r.rps))} | ${f2(ratioMedian(sat[t], sat.nginx, (r) => r.rps))} | ${f2(median(rs.map((r) => r.p50)))} | ${f2(median(rs.map((r) => r.p99)))} | ${f0(median(rs.map((r) => r.proxyCpu ?? NaN)))} | ${f0(median(rs.map(perCore)))} | ${t === "direct" ? "–" : f2(ratioMedian(sat[t], sat.nginx, perCore))} | ${f0(median(rs.map((r) => r.upConns ?? NaN)))} | ${f0(median(rs.map((r) => r.cpu1)))} | ${f0(median(all.map((r) => r.foreign)))} (${f0(Math.max(...all.map((r) => r.foreign)))}) | ${errs.length ? errs.join("; ") : "0"} |`,
      );
    }
    L.push("");
    if (!s.modes.includes("rate")) continue;
    L.push(`Fixed rate ${RATE} req/s (h2load --rps ${RATE / CONNS} × ${CONNS} connections):`, "");
    L.push("| target | achieved req/s | p50 ms | p99 ms | p99.9 ms | +p50 vs direct | +p99 vs direct | p50 x nginx | p99 x nginx | proxy CPU % | foreign CPU % (max) | errors |");
    L.push("|---|---|---|---|---|---|---|---|---|---|---|---|");
    const rate = results[s.id].rate;
    const dOk = rate.direct?.filter((r) => r.ok) ?? [];
    const nOk = rate.nginx?.filter((r) => r.ok) ?? [];
    for (const t of TARGETS) {
      if (!usable(t, s)) {
        L.push(`| ${TARGET_LABEL[t]} | **FAILED** |||||||||||`);
        continue;
      }
      const all = rate[t] ?? [];
      const rs = all.filter((r) => r.ok);
      const errs = all.filter((r) => !r.ok).map((r) => `r${r.round}: ${r.error}`);
      const p50 = median(rs.map((r) => r.p50));
      const p99 = median(rs.map((r) => r.p99));
      L.push(
        `| ${TARGET_LABEL[t]} | ${f0(median(rs.map((r) => r.rps)))} | ${f2(p50)} | ${f2(p99)} | ${f2(median(rs.map((r) => r.p999)))} | ${t === "direct" ? "–" : signed(p50 - median(dOk.map((r) => r.p50)))} | ${t === "direct" ? "–" : signed(p99 - median(dOk.map((r) => r.p99)))} | ${f2(p50 / median(nOk.map((r) => r.p50)))} | ${f2(p99 / median(nOk.map((r) => r.p99)))} | ${f0(median(rs.map((r) => r.proxyCpu ?? NaN)))} | ${f0(median(all.map((r) => r.foreign)))} (${f0(Math.max(...all.map((r) => r.foreign)))}) | ${errs.length ? errs.join("; ") : "0"} |`,
      );
    }
    L.push("");
  }
  return L.join("\n");
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (e) {
    const err = e as { stderr?: string };
    return (err.stderr ?? "").trim() || "?";
  }
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const started = Date.now();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const { reqBin } = writeFiles();
  log(`scratch dir ${RUN_DIR}; rounds=${ROUNDS} duration=${DURATION}s warmup=${WARMUP}s rate=${RATE}/s targets=${TARGETS.join(",")}`);
  await startAll();
  await runGate();

  const results = Object.fromEntries(SCENARIOS.map((s) => [s.id, { sat: {}, rate: {} }])) as Results;
  let retries = 0;
  let maxForeign = 0;
  let timedOut = false;
  outer: for (let round = 1; round <= ROUNDS; round++) {
    for (const s of SCENARIOS) {
      if (s.kind === "idle") {
        const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length]).filter((t) => usable(t, s));
        for (const t of order) {
          if (Date.now() > DEADLINE) {
            timedOut = true;
            break outer;
          }
          const r = await idleOnce(s, t, round);
          (idleResults[t] ??= []).push(r);
          const st = state.get(t)!;
          if (r.rssHeld !== null) st.peakRss[s.id] = Math.max(st.peakRss[s.id] ?? 0, r.rssHeld);
          log(
            `round ${round} ${s.id} idle ${t.padEnd(9)} ${r.ok ? "" : `ERROR ${r.error} `}opened ${r.opened} in ${f0(r.openMs)} ms, RSS ${f1(r.rssBefore)} -> ${f1(r.rssHeld)} -> ${f1(r.rssAfter)} MiB, proxyCPU ${f1(r.proxyCpu)}% foreign ${f0(r.foreign)}%`,
          );
          await sleep(300);
        }
        continue;
      }
      for (const mode of s.modes) {
        // Rotate the visiting order every round, so slow phases of the host hit all targets.
        const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length]).filter((t) => usable(t, s));
        for (const t of order) {
          if (Date.now() > DEADLINE) {
            timedOut = true;
            log("BENCH_TIMEOUT reached, stopping early");
            break outer;
          }
          const r = await load(s, t, mode, round, reqBin);
          retries += r.attempts - 1;
          maxForeign = Math.max(maxForeign, r.foreign);
          ((results[s.id][mode][t] ??= [])).push(r);
          const st = state.get(t)!;
          if (r.peakRss !== null) st.peakRss[s.id] = Math.max(st.peakRss[s.id] ?? 0, r.peakRss);
          log(
            `round ${round} ${s.id} ${mode.padEnd(4)} ${t.padEnd(9)} ${r.ok ? "" : `ERROR ${r.error} `}${f0(r.rps)} req/s p50 ${f2(r.p50)} p99 ${f2(r.p99)} ms` +
              ` proxyCPU ${f0(r.proxyCpu)}% cpu1 ${f0(r.cpu1)}% foreign ${f0(r.foreign)}% conns ${r.upConns ?? "–"} log/done ${r.logLines}/${r.done}${r.attempts > 1 ? ` (attempts ${r.attempts})` : ""}`,
          );
          await sleep(300);
        }
      }
    }
  }
  for (const st of state.values()) if (st.pgids.length && !st.startError) st.afterRss = rssMiB(st.pgids.flatMap(groupPids));

  const cpuModel = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?";
  const meta: Record<string, string> = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${cpuModel}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${sh("uname", ["-sr"])}, ${sh("sh", ["-c", ". /etc/os-release && echo $PRETTY_NAME"])}`,
    software: `Node ${sh(NODE, ["-v"])} (proxies, grpc-js server), ${sh("sh", ["-c", "nginx -v 2>&1"]).replace("nginx version: ", "")}, HAProxy ${sh("sh", ["-c", "haproxy -v | head -1"]).split(" ")[2] ?? "?"}, h2load ${sh("sh", ["-c", "h2load --version"]).replace("h2load ", "")}`,
    "git commit": sh("git", ["-C", ROOT, "log", "-1", "--format=%h %s"]),
    parameters: `ROUNDS=${ROUNDS} DURATION=${DURATION}s WARMUP=${WARMUP}s, saturation -c ${CONNS} -m ${STREAMS}, fixed rate ${RATE} req/s, proxies on CPU ${PROXY_CPU}, upstreams + h2load on CPU ${LOAD_CPU}${PROXY_NODE_FLAGS.length ? `, PROXY_NODE_FLAGS=${PROXY_NODE_FLAGS.join(" ")}` : ""}`,
    "noise guard": `runs with foreign CPU > ${NOISE_MAX} % of a core retried up to ${NOISE_RETRIES}x (least noisy attempt kept), and each run first waits up to ${QUIET_WAIT} s for foreign CPU < ${NOISE_MAX} %; ${retries} retries needed, ${f0(quietWaitTotal)} s spent waiting; max foreign CPU in a kept run ${f0(maxForeign)} %`,
    "wall time": `${((Date.now() - started) / 1000).toFixed(0)} s${timedOut ? " (STOPPED EARLY at BENCH_TIMEOUT)" : ""}`,
  };
  const md = report(results, meta);
  const stamp = meta.date.replace(/[:.]/g, "-");
  fs.writeFileSync(path.join(RESULTS_DIR, `results-${stamp}.md`), md + "\n");
  fs.writeFileSync(path.join(RESULTS_DIR, `results-${stamp}.json`), JSON.stringify({ meta, state: [...state.values()], results }, null, 1));
  process.stdout.write(md + "\n");
  log(`saved test/bench/results/results-${stamp}.md`);
}

main().then(
  () => {
    cleanupSync();
    process.exit(0);
  },
  (e: unknown) => {
    log(`fatal: ${(e as Error).stack ?? String(e)}`);
    cleanupSync();
    process.exit(1);
  },
);
