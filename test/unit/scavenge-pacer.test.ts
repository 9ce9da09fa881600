import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Runs `body` in a child node (ESM, tsx) with `flags`; returns what it printed, parsed. */
function child(flags: string[], body: string): unknown {
  const script = [
    "import { PerformanceObserver, constants } from 'node:perf_hooks';",
    "const { noteRead, pacing, PACE_BYTES } = await import('./src/h2/scavenge-pacer.ts');",
    "let minor = 0;",
    "new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++; }).observe({ entryTypes: ['gc'] });",
    "const settle = () => new Promise((r) => setTimeout(r, 50));",
    body,
  ].join("\n");
  const out = execFileSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
  return JSON.parse(out);
}

const COUNT_AROUND_THE_THRESHOLD = `
await settle(); const m0 = minor;
noteRead(PACE_BYTES - 1); await settle(); const below = minor - m0;
noteRead(1); await settle(); const at = minor - m0 - below;
for (let i = 0; i < 3 * 1024; i++) noteRead(16 * 1024); await settle(); const three = minor - m0 - below - at;
process.stdout.write(JSON.stringify({ pacing, below, at, three }));
`;

void test("with gc exposed, one scavenge per PACE_BYTES read, none before", () => {
  // The reads allocate nothing here, so every minor GC seen is one the pacer asked for.
  assert.deepEqual(child(["--expose-gc"], COUNT_AROUND_THE_THRESHOLD), { pacing: true, below: 0, at: 1, three: 3 });
});

void test("without --expose-gc nothing is paced", () => {
  assert.deepEqual(child([], COUNT_AROUND_THE_THRESHOLD), { pacing: false, below: 0, at: 0, three: 0 });
});
