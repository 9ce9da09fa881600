/**
 * Re-runs integration test files as child test processes under a switch's fallback setting, so the
 * path the rest of the suite no longer takes keeps its coverage (PILOTFISH_UPSTREAM_H2,
 * PILOTFISH_DOWNSTREAM_H2). Each file is one test here; a failure shows the tail of the child's output.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { describe, it } from "node:test";
import { NODE_BIN } from "./sidecar.js";
import { REPO_ROOT } from "./util.js";

/** What to re-run and under which setting. */
export interface Rerun {
  /** The describe title the re-runs are grouped under. */
  readonly title: string;
  /** Base names of files in test/integration, without `.test.ts`. */
  readonly files: readonly string[];
  /** Variables added to this process's environment for each child. */
  readonly env: Readonly<Record<string, string>>;
  /** What the children run on, for the failure message ("the node:http2 server"). */
  readonly using: string;
}

/** Declares one describe with a test per file; each passes when its child run exits 0 having passed tests. */
export function describeReruns(rerun: Rerun): void {
  void describe(rerun.title, () => {
    for (const name of rerun.files) {
      void it(`test/integration/${name}.test.ts passes`, { timeout: 300_000 }, async () => {
        const out = await runTestFile(name, rerun.env, rerun.using);
        // Guard against a run that selected nothing (e.g. a test-name filter leaking into the child).
        assert.match(out, /ℹ pass [1-9]/, `${name} ran no test:\n${out.slice(-2000)}`);
      });
    }
  });
}

/** Runs one integration file in a child test process; returns its output, asserting it exited 0. */
async function runTestFile(name: string, extra: Readonly<Record<string, string>>, using: string): Promise<string> {
  const file = join(REPO_ROOT, "test", "integration", `${name}.test.ts`);
  // A fresh test run, not a subtest of ours: without NODE_TEST_CONTEXT the child really runs its file.
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(NODE_BIN, ["--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", file], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0, `${name} failed with ${using}:\n${out.slice(-6000)}`);
  return out;
}
