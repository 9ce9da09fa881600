/**
 * The sidecar re-executes itself with its V8 flags (src/cli/node-flags.ts): the process that serves
 * runs with them, PILOTFISH_NODE_FLAGS replaces them, and an empty value runs with node's defaults.
 * Read from /proc/<pid>/cmdline of the running sidecar (execve keeps the pid).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { DEFAULT_SIDECAR_NODE_FLAGS, STARTUP_NODE_FLAGS } from "../../src/cli/node-flags.js";
import { parseStats } from "../helpers/admin.js";
import { echoBootstrap } from "../helpers/bootstrap.js";
import { startSidecar } from "../helpers/sidecar.js";
import { http1Request } from "../helpers/util.js";

async function argvOfSidecar(env: NodeJS.ProcessEnv): Promise<string[]> {
  const sc = await startSidecar(echoBootstrap([1]), { env });
  try {
    return readFileSync(`/proc/${sc.proc.pid}/cmdline`, "latin1").split("\0");
  } finally {
    await sc.stop();
  }
}

void describe("sidecar V8 flags", { timeout: 60_000 }, () => {
  void it("runs with the default flags (a 4 MiB young generation, gc exposed for paced scavenges, 3x old-generation headroom) and the start-only ones, all replaced by PILOTFISH_NODE_FLAGS", async () => {
    assert.deepEqual(DEFAULT_SIDECAR_NODE_FLAGS, ["--max-semi-space-size=4", "--expose-gc", "--heap-growing-percent=200"]);
    const def = await argvOfSidecar({});
    for (const f of [...DEFAULT_SIDECAR_NODE_FLAGS, ...STARTUP_NODE_FLAGS]) assert.ok(def.includes(f), `${f} missing from ${def.join(" ")}`);
    const custom = await argvOfSidecar({ PILOTFISH_NODE_FLAGS: "--max-semi-space-size=8 --heap-growing-percent=50" });
    assert.ok(custom.includes("--max-semi-space-size=8"), custom.join(" "));
    assert.ok(custom.includes("--heap-growing-percent=50"), custom.join(" "));
    assert.ok(!custom.includes("--max-semi-space-size=4"), custom.join(" "));
    for (const f of STARTUP_NODE_FLAGS) assert.ok(!custom.includes(f), `${f} present with PILOTFISH_NODE_FLAGS set`);
    const none = await argvOfSidecar({ PILOTFISH_NODE_FLAGS: "" });
    for (const f of DEFAULT_SIDECAR_NODE_FLAGS) assert.ok(!none.includes(f), `${f} present with PILOTFISH_NODE_FLAGS=""`);
  });

  void it("once ready, the sidecar gives its startup garbage back (server.heap_shrinks, with gc exposed) and starts the optimizing compilers it started without", async () => {
    const serverStats = async (env: NodeJS.ProcessEnv): Promise<{ shrinks?: number; compilers?: number }> => {
      const sc = await startSidecar(echoBootstrap([1]), { env });
      try {
        assert.ok(sc.adminPort !== null, sc.tail());
        const res = await http1Request({ port: sc.adminPort, path: "/stats" });
        const stats = parseStats(res.body);
        return { shrinks: stats.get("server.heap_shrinks"), compilers: stats.get("server.optimizing_compilers_started") };
      } finally {
        await sc.stop();
      }
    };
    assert.deepEqual(await serverStats({}), { shrinks: 1, compilers: 1 });
    assert.deepEqual(await serverStats({ PILOTFISH_NODE_FLAGS: "--max-semi-space-size=4" }), { shrinks: 0, compilers: 0 }, "no --expose-gc: nothing to call; no start-only flags: nothing to lift");
  });
});
