/**
 * `pilotfish control-plane` as a process: ready line with both ports, pushes on a good mesh.yaml edit,
 * keeps the last good mesh on a bad one (error on /config), exit 0 on SIGTERM, exit 2 on a bad mesh.
 */
import { echoMeshYaml } from "../helpers/control-plane.js";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint.js";
import { TypeUrl } from "../../src/xds/type-urls.js";
import { CLI_MAIN, NODE_BIN } from "../helpers/sidecar.js";
import { REPO_ROOT } from "../helpers/util.js";
import { SotwClient, testNode } from "../unit/control-plane/ads-harness.js";


function mesh(ports: number[], extra?: string): string {
  return echoMeshYaml({ ports, upstream: extra === undefined ? [] : [extra] });
}

/** Replaces the file by rename, as editors do. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

function ports(cla: ClusterLoadAssignment): number[] {
  return cla.endpoints.flatMap((l) =>
    l.lbEndpoints.map((e) => {
      const a = e.endpoint?.address?.address;
      return a?.$case === "socketAddress" && a.value.portSpecifier?.$case === "portValue" ? a.value.portSpecifier.value : -1;
    }),
  );
}

interface Running {
  proc: ChildProcess;
  xds: number;
  admin: number;
  output(): string;
  exit: Promise<number | null>;
}

function run(args: string[]): Running & { ready: Promise<void> } {
  const proc = spawn(NODE_BIN, ["--import", "tsx", CLI_MAIN, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const r = {
    proc,
    xds: 0,
    admin: 0,
    output: () => out,
    exit: new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c))),
    ready: Promise.resolve(),
  };
  r.ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready:\n${out}`)), 20_000);
    const onData = (b: Buffer): void => {
      out += b.toString();
      const line = out.split("\n").find((l) => l.includes('"msg":"control plane ready"'));
      if (line !== undefined) {
        const j = JSON.parse(line) as { xds_port: number; admin_port: number };
        r.xds = j.xds_port;
        r.admin = j.admin_port;
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", (b: Buffer) => (out += b.toString()));
    void r.exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`exited before ready:\n${out}`));
    });
  });
  return r;
}

void describe("pilotfish control-plane", () => {
  let dir: string;
  let meshFile: string;
  let cp: Running;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pilotfish-cp-it-"));
    meshFile = join(dir, "mesh.yaml");
    await writeFile(meshFile, mesh([50051, 50052]));
    const r = run(["control-plane", "-c", meshFile, "--port", "0", "--admin-port", "0", "--address", "127.0.0.1"]);
    await r.ready;
    cp = r;
  });
  after(() => {
    if (cp.proc.exitCode === null) cp.proc.kill("SIGKILL");
  });

  void it("serves, pushes a good edit, keeps the last good mesh on a bad one, and stops on SIGTERM", async () => {
    assert.equal((await fetch(`http://127.0.0.1:${cp.admin}/ready`)).status, 200);
    const c = new SotwClient(cp.xds);
    try {
      c.send({ node: testNode("cp-it"), typeUrl: TypeUrl.ENDPOINT, resourceNames: ["*"] });
      const first = await c.responses.next(5000);
      assert.deepEqual(ports(ClusterLoadAssignment.decode(first.resources[0].value)).sort(), [50051, 50052]);
      c.send({ typeUrl: TypeUrl.ENDPOINT, resourceNames: ["*"], versionInfo: first.versionInfo, responseNonce: first.nonce });

      // A good edit: pushed.
      await writeAtomically(meshFile, mesh([50052, 50053]));
      const pushed = await c.responses.next(5000);
      assert.notEqual(pushed.versionInfo, first.versionInfo);
      assert.deepEqual(ports(ClusterLoadAssignment.decode(pushed.resources[0].value)).sort(), [50052, 50053]);
      c.send({ typeUrl: TypeUrl.ENDPOINT, resourceNames: ["*"], versionInfo: pushed.versionInfo, responseNonce: pushed.nonce });

      // A bad edit: nothing pushed, error shown on /config, still ready.
      await writeAtomically(meshFile, mesh([50054], "    bogusKey: 1"));
      let config: { last_error: { time: string; errors: { path: string; message: string }[] } | null; mesh: unknown } = { last_error: null, mesh: null };
      for (let i = 0; i < 50 && config.last_error === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
        config = (await (await fetch(`http://127.0.0.1:${cp.admin}/config`)).json()) as typeof config;
      }
      assert.ok(config.last_error !== null, "the bad edit is reported on /config");
      assert.ok(config.last_error.errors.some((e) => e.path.includes("bogusKey")), JSON.stringify(config.last_error));
      assert.equal(await c.responses.maybe(300), undefined, "a bad edit pushes nothing");
      assert.equal((await fetch(`http://127.0.0.1:${cp.admin}/ready`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${cp.admin}/metrics`)).text(), /pilotfish_mesh_reloads_total\{result="invalid"\} 1/);

      // Fixed: pushed, error cleared.
      await writeAtomically(meshFile, mesh([50055]));
      const fixed = await c.responses.next(5000);
      assert.deepEqual(ports(ClusterLoadAssignment.decode(fixed.resources[0].value)), [50055]);
      config = (await (await fetch(`http://127.0.0.1:${cp.admin}/config`)).json()) as typeof config;
      assert.equal(config.last_error, null);

      const nodes = (await (await fetch(`http://127.0.0.1:${cp.admin}/nodes`)).json()) as { nodes: { id: string; cluster: string }[] };
      assert.deepEqual(nodes.nodes.map((n) => [n.id, n.cluster]), [["cp-it", "frontend"]]);
    } finally {
      c.close();
    }
    cp.proc.kill("SIGTERM");
    assert.equal(await cp.exit, 0, cp.output());
    assert.match(cp.output(), /control plane stopped/);
  });

  void it("exits 2 on an invalid mesh and on bad usage", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, mesh([50051], "    bogusKey: 1"));
    const r1 = run(["control-plane", "-c", bad, "--port", "0", "--admin-port", "0"]);
    r1.ready.catch(() => undefined);
    assert.equal(await r1.exit, 2, r1.output());
    assert.match(r1.output(), /bogusKey/);
    const r2 = run(["control-plane", "-c", meshFile, "--port", "99999"]);
    r2.ready.catch(() => undefined);
    assert.equal(await r2.exit, 2, r2.output());
  });
});
