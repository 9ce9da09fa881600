/**
 * `pilotfish demo` as a user runs it, with stdout not a TTY (one line per second): periodic lines with
 * rps and success rate, traffic on all three backends, the summary, exit 0, and nothing left behind (no
 * child process, no process naming the demo's temp dir, no listening port, no temp dir). A second run
 * ends by SIGTERM while the flaky backend fails and recovers, and shows those events.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { describe, it } from "node:test";
import { CLI_MAIN, NODE_BIN } from "../helpers/sidecar.js";
import { REPO_ROOT } from "../helpers/util.js";

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Child pids of the demo process seen while it ran. */
  children: Set<number>;
}

/** Direct children of `pid`, from /proc (every thread's children file). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text !== "") out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // the process is gone
  }
  return out;
}

/** Pids of live processes whose command line contains `needle`. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true when something accepts a TCP connection on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/**
 * Runs the demo; `stopWhen` (given stdout so far) may return a signal to send. Kills it (SIGKILL) after
 * `timeoutMs` so a hung demo fails the test instead of hanging it.
 */
function runDemo(args: string[], timeoutMs: number, stopWhen?: (out: string) => NodeJS.Signals | undefined): Promise<DemoRun> {
  const proc = spawn(NODE_BIN, ["--import", "tsx", CLI_MAIN, "demo", ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "" },
  });
  const run: DemoRun = { code: null, signal: null, stdout: "", stderr: "", children: new Set() };
  let signalled = false;
  proc.stdout.on("data", (b: Buffer) => {
    run.stdout += b.toString();
    const sig = signalled ? undefined : stopWhen?.(run.stdout);
    if (sig !== undefined) {
      signalled = true;
      proc.kill(sig);
    }
  });
  proc.stderr.on("data", (b: Buffer) => (run.stderr += b.toString()));
  const watch = setInterval(() => {
    for (const c of childrenOf(proc.pid!)) run.children.add(c);
  }, 200);
  const killer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      clearInterval(watch);
      clearTimeout(killer);
      run.code = code;
      run.signal = signal;
      // Let the pipes drain.
      setTimeout(() => resolve(run), 100);
    });
  });
}

/** Ports and temp dir the banner prints. */
function bannerFacts(out: string): { ports: number[]; dir: string } {
  const ports = [...out.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
  const mesh = /^mesh\.yaml\s+(\S+)\/mesh\.yaml$/m.exec(out);
  assert.ok(mesh, `no mesh.yaml path in the banner:\n${out}`);
  return { ports: [...new Set(ports)], dir: mesh[1] };
}

async function assertNothingLeft(run: DemoRun): Promise<void> {
  const { ports, dir } = bannerFacts(run.stdout);
  // tsx's esbuild service (a child when a file is transformed afresh) exits when its stdin closes: give
  // children a bounded moment to notice the parent is gone.
  const deadline = Date.now() + 5000;
  while ([...run.children].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const c of run.children) assert.equal(alive(c), false, `child process ${c} of the demo is still alive`);
  assert.deepEqual(processesMentioning(dir), [], `a process still names ${dir}`);
  assert.equal(existsSync(dir), false, `${dir} was not removed`);
  assert.ok(ports.length >= 6, `expected the banner to name at least 6 ports, got ${ports.join(", ")}`);
  for (const p of ports) assert.equal(await listening(p), false, `port ${p} still accepts connections after the demo exited`);
}

const PERIODIC = /^\[\d\d:\d\d\] rps=(\d+) success=([\d.]+)% p50=\S+ ms p99=\S+ ms share: /gm;

void describe("pilotfish demo", { timeout: 120_000 }, () => {
  void it("--duration 12: periodic lines, traffic on all three backends, summary, exit 0, nothing left behind", { timeout: 90_000 }, async () => {
    const run = await runDemo(["--duration", "12"], 60_000);
    const context = `exit ${run.code} ${run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    assert.equal(run.code, 0, context);

    const lines = [...run.stdout.matchAll(PERIODIC)];
    assert.ok(lines.length >= 8, `expected at least 8 periodic lines in 12 s, got ${lines.length}\n${context}`);
    assert.ok(lines.some((m) => Number(m[1]) > 0 && Number(m[2]) > 0), `no line shows traffic\n${context}`);

    assert.match(run.stdout, /dashboard\s+http:\/\/127\.0\.0\.1:\d+\/ui/, context);
    assert.match(run.stdout, /OTEL_EXPORTER_OTLP_ENDPOINT/, context);

    const summary = run.stdout.slice(run.stdout.indexOf("Pilotfish demo summary"));
    assert.match(summary, /^Pilotfish demo summary \(--duration 12/, context);
    const totals = /requests (\d+) \(\d+\/s\), ok (\d+), failed (\d+)/.exec(summary);
    assert.ok(totals, `no totals in the summary\n${context}`);
    assert.ok(Number(totals[1]) > 200, `only ${totals[1]} requests in 12 s\n${context}`);
    assert.match(summary, /latency p50 \S+ ms, p99 \S+ ms/, context);
    for (const name of ["healthy", "slow", "flaky"]) {
      const m = new RegExp(`backend ${name}\\s+127\\.0\\.0\\.1:\\d+\\s+received\\s+(\\d+)`).exec(summary);
      assert.ok(m, `no summary line for backend ${name}\n${context}`);
      assert.ok(Number(m[1]) > 0, `backend ${name} received no traffic\n${context}`);
    }
    await assertNothingLeft(run);
  });

  void it("SIGTERM ends it cleanly; the flaky backend's failure and recovery are events", { timeout: 90_000 }, async () => {
    const run = await runDemo(["--fail-after", "2", "--fail-for", "3"], 60_000, (out) =>
      /event: backend flaky .* recovered/.test(out) && [...out.matchAll(PERIODIC)].length >= 6 ? "SIGTERM" : undefined,
    );
    const context = `exit ${run.code} ${run.signal}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    assert.equal(run.code, 0, context);
    assert.match(run.stdout, /event: backend flaky \(127\.0\.0\.1:\d+\) starts failing/, context);
    assert.match(run.stdout, /UNAVAILABLE/, context);
    assert.match(run.stdout, /Pilotfish demo summary \(stopped by SIGTERM/, context);
    assert.match(run.stdout, /backend flaky\s+\S+\s+received\s+\d+ \([\d.]+%\), ok \d+, failed [1-9]\d*/, context);
    await assertNothingLeft(run);
  });
});
