/**
 * The sidecar starts without V8's optimizing compilers and turns them on once ready
 * (src/sidecar/optimizing-compilers.ts). Checked in a child node with the start-only flags, on the
 * node we ship: a hot function stays unoptimized while they are off, and is optimized after the switch.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { DEFERRED_COMPILERS_ENV, STARTUP_NODE_FLAGS } from "../../src/cli/node-flags.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

// V8's %GetOptimizationStatus bits for optimized code (runtime-test.cc: kOptimized, kMaglevved, kTurboFanned).
const OPTIMIZED = 16 | 32 | 64;

/**
 * Runs the probe in a child node with `flags` and `env`: up to 300 ms of hot calls, the switch, then up to
 * `afterMs` more (it stops as soon as the function is optimized). Returns what it printed, parsed.
 */
function probe(flags: string[], env: NodeJS.ProcessEnv, afterMs: number): { before: boolean; after: boolean; started: number } {
  const script = `
const { startOptimizingCompilers } = await import('./src/sidecar/optimizing-compilers.ts');
const { Counter } = await import('./src/stats/stats-store.ts');
function hot(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) ^ (s >>> 3); return s; }
const optimized = () => (%GetOptimizationStatus(hot) & ${OPTIMIZED}) !== 0;
// Hot enough for both tiers many times over; concurrent jobs get event-loop turns to install their code.
async function run(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end && !optimized()) { for (let k = 0; k < 200; k++) hot(1000); await new Promise((r) => setImmediate(r)); }
  return optimized();
}
const before = await run(300);
const started = new Counter('server.optimizing_compilers_started');
startOptimizingCompilers(started);
const after = await run(${afterMs});
process.stdout.write(JSON.stringify({ before, after, started: started.value }));
`;
  const out = execFileSync(process.execPath, [...flags, "--allow-natives-syntax", "--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, [DEFERRED_COMPILERS_ENV]: undefined, ...env },
  });
  return JSON.parse(out) as { before: boolean; after: boolean; started: number };
}

void test("started with the start-only flags, a hot function is optimized only after startOptimizingCompilers", () => {
  assert.deepEqual(STARTUP_NODE_FLAGS, ["--no-maglev", "--no-turbofan"]);
  assert.deepEqual(probe(STARTUP_NODE_FLAGS, { [DEFERRED_COMPILERS_ENV]: "1" }, 10_000), { before: false, after: true, started: 1 });
});

void test("without the CLI's marker (flags chosen by the user) the compilers stay as they were", () => {
  assert.deepEqual(probe(STARTUP_NODE_FLAGS, {}, 1_500), { before: false, after: false, started: 0 });
});
