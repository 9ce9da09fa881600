/**
 * Client-loop benchmark for issue #9: what does the upstream (client) half of HTTP/2 cost per request,
 * node:http2's `http2.connect` versus the raw frame client in src/upstream/raw-h2 (its streaming API,
as the router uses it)? Not a test;
 * `npm run bench:h2client`.
 *
 * One node:http2 server runs in a child on CPU 1. Each measurement is a fresh client child on CPU 0
 * that keeps IN_FLIGHT streams open on one session: 1 s warm-up, then SECONDS s measured. The client
 * reports its own CPU (process.cpuUsage: all its threads, GC included), so "µs CPU / req" and "req/s
 * per client core" hold even when the server, not the client, limits req/s. Rounds interleave the
 * variants so slow phases of the shared host hit all of them; medians are reported.
 *
 * Shapes: "get" is GET with a 100 B response; "grpc" is POST of a 39 B gRPC-framed message, 39 B
 * reply and a grpc-status trailer.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { RawH2Connection } from "../../src/upstream/raw-h2/raw-h2-connection.js";
import type { RawH2Stream } from "../../src/upstream/raw-h2/raw-h2-stream.js";

const SECONDS = Number(process.env.SECONDS ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 100);
const WARMUP_MS = 1000;
const SELF = fileURLToPath(import.meta.url);

type Impl = "node" | "raw";
type Shape = "get" | "grpc";

const BODY_100 = Buffer.alloc(100, 0x61);
// 5-byte gRPC prefix + EchoRequest{message: 32 ASCII bytes}: 39 bytes, as in perf-anchors.md.
const GRPC_MSG = Buffer.concat([Buffer.from([0, 0, 0, 0, 34, 0x0a, 32]), Buffer.alloc(32, 0x78)]);

interface Result {
  impl: Impl;
  shape: Shape;
  reqs: number;
  errors: number;
  seconds: number;
  cpuUs: number;
  /** The same CPU from /proc/self/stat (10 ms ticks), as a cross-check of process.cpuUsage(). */
  procCpuUs: number;
}

// ---------------------------------------------------------------- server child (CPU 1)

function runServer(): void {
  const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  server.on("stream", (stream, headers) => {
    if (headers[":method"] === "GET") {
      stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": "100" });
      stream.end(BODY_100);
      return;
    }
    stream.on("data", () => {});
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(GRPC_MSG);
    });
  });
  server.listen(0, "127.0.0.1", () => console.log(String((server.address() as AddressInfo).port)));
}

// ---------------------------------------------------------------- client child (CPU 0)

function runClient(impl: Impl, shape: Shape, port: number): void {
  let reqs = 0;
  let errors = 0;
  const get = shape === "get";
  let issue: () => void;

  if (impl === "node") {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => errors++);
    const headers: http2.OutgoingHttpHeaders = get
      ? { ":method": "GET", ":path": "/hello" }
      : { ":method": "POST", ":path": "/echo.Echo/Echo", "content-type": "application/grpc", te: "trailers" };
    issue = () => {
      const req = session.request(headers, { endStream: get });
      const chunks: Buffer[] = [];
      let ok = get;
      req.on("data", (c: Buffer) => chunks.push(c));
      if (!get) req.on("trailers", (t) => (ok = t["grpc-status"] === "0"));
      req.on("error", () => errors++);
      req.on("close", () => {
        if (ok && Buffer.concat(chunks).length > 0) reqs++;
        else errors++;
        issue();
      });
      if (!get) req.end(GRPC_MSG);
    };
  } else {
    // The production streaming client, used as the router uses it: shared listeners, state on the stream.
    const conn = new RawH2Connection(net.connect({ host: "127.0.0.1", port, noDelay: true }), { authority: `127.0.0.1:${port}` });
    const headers: http2.OutgoingHttpHeaders = get
      ? { ":method": "GET", ":path": "/hello" }
      : { ":method": "POST", ":path": "/echo.Echo/Echo", "content-type": "application/grpc", te: "trailers" };
    type Tracked = RawH2Stream & { bytes: number; ok: boolean };
    function onResponse(this: Tracked, h: http2.IncomingHttpHeaders): void {
      this.ok = Number(h[":status"]) === 200 && get;
    }
    function onData(this: Tracked, chunk: Buffer): void {
      this.bytes += chunk.length;
    }
    function onTrailers(this: Tracked, t: http2.IncomingHttpHeaders): void {
      this.ok = t["grpc-status"] === "0";
    }
    function onClose(this: Tracked): void {
      if (this.ok && this.bytes > 0 && this.rstCode === 0) reqs++;
      else errors++;
      issue();
    }
    issue = () => {
      const s = conn.request(headers, get) as Tracked;
      s.bytes = 0;
      s.ok = false;
      s.on("response", onResponse);
      s.on("data", onData);
      if (!get) s.on("trailers", onTrailers);
      s.on("close", onClose);
      if (!get) {
        s.write(GRPC_MSG);
        s.end();
      }
    };
    // Requests go out once the transport is up (as the pool does it).
    conn.once("connect", () => {
      for (let i = 0; i < IN_FLIGHT; i++) issue();
    });
  }

  if (impl === "node") for (let i = 0; i < IN_FLIGHT; i++) issue();
  setTimeout(() => {
    const r0 = reqs;
    const e0 = errors;
    const c0 = process.cpuUsage();
    const p0 = cpuTicks(process.pid);
    const t0 = process.hrtime.bigint();
    setTimeout(() => {
      const cpu = process.cpuUsage(c0);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const res: Result = { impl, shape, reqs: reqs - r0, errors: errors - e0, seconds, cpuUs: cpu.user + cpu.system, procCpuUs: (cpuTicks(process.pid) - p0) * 10_000 };
      console.log(JSON.stringify(res));
      process.exit(0);
    }, SECONDS * 1000);
  }, WARMUP_MS);
}

// ---------------------------------------------------------------- parent

function cpuTicks(pid: number): number {
  // utime + stime are fields 14 and 15; the command name (field 2) may contain spaces, so count from ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

function child(cpu: number, args: string[]): ChildProcess {
  return spawn("taskset", ["-c", String(cpu), process.execPath, "--import", "tsx", SELF, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
}

function firstLine(p: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    p.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    p.on("exit", (code) => reject(new Error(`child exited with ${code} before output`)));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function runParent(): Promise<void> {
  const server = child(1, ["server"]);
  const port = Number(await firstLine(server));
  const hz = 100; // USER_HZ on Linux
  const variants: [Impl, Shape][] = [
    ["node", "get"],
    ["raw", "get"],
    ["node", "grpc"],
    ["raw", "grpc"],
  ];
  const rows = new Map<string, { rps: number[]; usPerReq: number[]; perCore: number[]; cpuPct: number[]; srvPct: number[]; errors: number }>();
  console.error(`Node ${process.version}; ${ROUNDS} rounds x ${variants.length} variants x (${WARMUP_MS / 1000} s warm-up + ${SECONDS} s); ${IN_FLIGHT} streams in flight`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [impl, shape] of variants) {
      const c = child(0, ["client", impl, shape, String(port)]);
      // Server CPU over the client's whole life (warm-up included) is only a saturation hint.
      const s0 = cpuTicks(server.pid!);
      const w0 = process.hrtime.bigint();
      const r = JSON.parse(await firstLine(c)) as Result;
      const srvPct = ((cpuTicks(server.pid!) - s0) / hz / (Number(process.hrtime.bigint() - w0) / 1e9)) * 100;
      const key = `${impl} ${shape}`;
      const row = rows.get(key) ?? { rps: [], usPerReq: [], perCore: [], cpuPct: [], srvPct: [], errors: 0 };
      const rps = r.reqs / r.seconds;
      const cpuFrac = r.cpuUs / 1e6 / r.seconds;
      row.rps.push(rps);
      row.usPerReq.push(r.cpuUs / r.reqs);
      row.perCore.push(rps / cpuFrac);
      row.cpuPct.push(cpuFrac * 100);
      row.srvPct.push(srvPct);
      row.errors += r.errors;
      rows.set(key, row);
      console.error(`round ${round} ${key}: ${rps.toFixed(0)} req/s, client CPU ${(cpuFrac * 100).toFixed(0)} %, ${(r.cpuUs / r.reqs).toFixed(1)} µs/req (/proc: ${(r.procCpuUs / r.reqs).toFixed(1)}), server CPU ~${srvPct.toFixed(0)} %, errors ${r.errors}`);
    }
  }
  server.kill();

  console.log(`\n| client | shape | req/s | client CPU % | µs CPU / req | req/s per client core | server CPU % (approx.) | errors | per-round req/s per core |`);
  console.log(`|---|---|---|---|---|---|---|---|---|`);
  for (const [key, row] of rows) {
    const [impl, shape] = key.split(" ");
    console.log(
      `| ${impl === "node" ? "node:http2" : "raw-h2"} | ${shape === "get" ? "GET 100 B" : "gRPC unary"} | ${median(row.rps).toFixed(0)} | ${median(row.cpuPct).toFixed(0)} | ${median(row.usPerReq).toFixed(1)} | ${median(row.perCore).toFixed(0)} | ${median(row.srvPct).toFixed(0)} | ${row.errors} | ${row.perCore.map((x) => x.toFixed(0)).join(" / ")} |`,
    );
  }
  for (const shape of ["get", "grpc"]) {
    const n = rows.get(`node ${shape}`)!;
    const r = rows.get(`raw ${shape}`)!;
    // Ratio of medians of per-round ratios, so a slow round affects both sides of each ratio alike.
    const ratios = n.perCore.map((x, i) => r.perCore[i] / x);
    console.log(`\n${shape}: raw ÷ node:http2, req/s per client core: median ${median(ratios).toFixed(2)}x (rounds ${ratios.map((x) => x.toFixed(2)).join(", ")})`);
  }
}

const [role, a, b, c] = process.argv.slice(2);
if (role === "server") runServer();
else if (role === "client") runClient(a as Impl, b as Shape, Number(c));
else await runParent();
