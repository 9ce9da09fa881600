import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../..");

// The sidecar's modules must not load undici: importing node:http as an ESM namespace reads its lazy
// WebSocket/MessageEvent getters and pulls in a 750 KB bundle per process (src/common/node-http.ts).
void test("loading the sidecar's modules does not load undici", () => {
  const script = [
    "await import('./src/cli/sidecar-command.ts');",
    "await import('./src/sidecar/sidecar.ts');",
    "const http = (await import('./src/common/node-http.ts')).http;",
    "if (typeof http.createServer !== 'function') throw new Error('node:http not loaded');",
    "process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('undici'))));",
  ].join("\n");
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.deepEqual(JSON.parse(out), []);
});
