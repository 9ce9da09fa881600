/**
 * A real @grpc/grpc-js-xds client (in a child process: it reads its bootstrap once per process and
 * keeps the event loop alive) takes its config from our discovery server and calls real grpc-js
 * backends through `xds:///echo`, unary and bidi, over SotW ADS. Two servers are exercised:
 * - the ADS server fed hand-built resources shaped like the translator's (load_balancing_policy
 *   [least_request, round_robin], a weighted locality, api_listener with RDS over ADS);
 * - the whole ControlPlane with the real mesh translator, from a mesh.yaml.
 * Then /nodes must show the client ACKing all four types with no NACK.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { controlPlaneAdminPort, startControlPlaneAdmin, stopControlPlaneAdmin } from "../../src/control-plane/admin-server.js";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { translateMesh } from "../../src/control-plane/mesh/translator.js";
import { TypeUrl } from "../../src/xds/type-urls.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { NODE_BIN } from "../helpers/sidecar.js";
import { REPO_ROOT } from "../helpers/util.js";
import { startHarness, type Harness } from "../unit/control-plane/ads-harness.js";
import { buildResources } from "../unit/control-plane/fixtures.js";

const CLIENT = join(REPO_ROOT, "test/unit/control-plane/xds-interop-client.ts");

interface ClientResult {
  unary: { code: number; details: string; message?: string; server?: string }[];
  bidi: { code: number; details: string; messages: string[] };
}

/** Runs the grpc-js-xds client against an xDS server on `xdsPort`; resolves with its JSON result. */
async function runXdsClient(xdsPort: number, nodeId: string, target = "echo", calls = 4): Promise<ClientResult> {
  const bootstrap = {
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: "insecure" }], server_features: ["ignore_resource_deletion"] }],
    node: { id: nodeId, cluster: "proxyless", locality: { zone: "z1" } },
  };
  const child = spawn(NODE_BIN, ["--import", "tsx", CLIENT, target, String(calls)], {
    cwd: REPO_ROOT,
    env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap), GRPC_XDS_BOOTSTRAP: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    child.on("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `xDS client failed (exit ${code}):\n${out}\n${err}`);
  const line = out.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as ClientResult;
}

function assertCallsWorked(result: ClientResult, backends: readonly EchoServer[]): void {
  for (const u of result.unary) assert.equal(u.code, 0, `unary failed: ${u.details}`);
  assert.deepEqual(result.unary.map((u) => u.message), result.unary.map((_, i) => `hello-${i}`));
  assert.ok(result.unary.every((u) => backends.some((b) => b.name === u.server)), "answered by our backends");
  assert.equal(result.bidi.code, 0, `bidi failed: ${result.bidi.details}`);
  assert.deepEqual(result.bidi.messages, ["one", "two", "three"]);
}

interface TypeJson {
  version_sent: string;
  version_acked: string;
  last_nack: unknown;
}

interface NodesJson {
  nodes: { id: string; user_agent_name: string; proxyless: boolean; types: Record<string, TypeJson> }[];
}

function assertAllAcked(nodes: NodesJson | undefined, seen: Map<string, Record<string, TypeJson>>, nodeId: string): void {
  const n = nodes?.nodes.find((x) => x.id === nodeId);
  const types = n?.types ?? seen.get(nodeId);
  assert.ok(types !== undefined, `node ${nodeId} never seen in /nodes`);
  for (const t of ["lds", "rds", "cds", "eds"]) {
    const st: TypeJson | undefined = types[t];
    assert.ok(st !== undefined, `${t} not subscribed`);
    assert.equal(st.last_nack, null, `${t} NACKed: ${JSON.stringify(st.last_nack)}`);
    assert.notEqual(st.version_acked, "", `${t} not ACKed`);
    assert.equal(st.version_acked, st.version_sent);
  }
}

void describe("grpc-js-xds interop", () => {
  let backends: EchoServer[];
  before(async () => {
    backends = [await startEchoServer({ name: "b1" }), await startEchoServer({ name: "b2" })];
  });
  after(async () => {
    for (const b of backends) await b.close();
  });

  void it("calls through hand-built resources served by the ADS server (unary + bidi)", async () => {
    const h: Harness = await startHarness(buildResources({ ports: backends.map((b) => b.port) }));
    const admin = await startControlPlaneAdmin("127.0.0.1", 0, { registry: h.registry, metrics: h.metrics, isReady: () => true, configView: () => ({}) });
    // Sample /nodes while the client is connected (it disappears when the child exits).
    const seen = new Map<string, Record<string, TypeJson>>();
    const sampler = setInterval(() => {
      for (const s of h.registry.list()) {
        seen.set(s.node.id, (h.registry.toJSON() as NodesJson).nodes.find((x) => x.id === s.node.id)!.types);
      }
    }, 20);
    try {
      const result = await runXdsClient(h.port, "interop-hand", "echo", 6);
      assertCallsWorked(result, backends);
      const url = `http://127.0.0.1:${controlPlaneAdminPort(admin)}/nodes`;
      const nodes = (await (await fetch(url)).json()) as NodesJson;
      assertAllAcked(nodes, seen, "interop-hand");
      assert.ok(h.registry.list().length === 0 || h.registry.list().every((s) => s.node.proxyless));
    } finally {
      clearInterval(sampler);
      await stopControlPlaneAdmin(admin);
      await h.close();
    }
  });

  void it("calls through the ControlPlane translating a mesh.yaml", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pilotfish-interop-"));
    const meshFile = join(dir, "mesh.yaml");
    await writeFile(
      meshFile,
      [
        "upstreams:",
        "  - name: echo",
        "    protocol: grpc",
        "    balance: least_request",
        "    nodes:",
        ...backends.map((b) => `      - address: 127.0.0.1:${b.port}`),
        "routes:",
        "  - name: echo-route",
        '    hosts: ["*"]',
        "    rules:",
        "      - match: { prefix: / }",
        "        upstream: echo",
        "listeners:",
        "  - name: echo",
        "    address: 127.0.0.1:15001",
        "    route: echo-route",
        "",
      ].join("\n"),
    );
    const cp = new ControlPlane({ meshFile, translate: translateMesh, log: pino({ level: "silent" }), xdsHost: "127.0.0.1", xdsPort: 0, adminHost: "127.0.0.1", adminPort: 0, watch: false });
    const ports = await cp.start();
    const seen = new Map<string, Record<string, TypeJson>>();
    const sampler = setInterval(() => {
      const json = cp.registry.toJSON() as NodesJson;
      for (const n of json.nodes) seen.set(n.id, n.types);
    }, 20);
    try {
      const result = await runXdsClient(ports.xds, "interop-mesh");
      assertCallsWorked(result, backends);
      assertAllAcked(undefined, seen, "interop-mesh");
      const ready = await fetch(`http://127.0.0.1:${ports.admin}/ready`);
      assert.equal(ready.status, 200);
      assert.ok(cp.registry.list().every((s) => s.types.get(TypeUrl.CLUSTER)?.lastNack == null));
    } finally {
      clearInterval(sampler);
      await cp.stop();
    }
  });
});
