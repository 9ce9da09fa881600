/**
 * `discovery: {kubernetes}` end to end: the real discovery server (a process, given --kubeconfig) lists
 * and watches EndpointSlices and the Service from a Kubernetes API stand-in, and a real sidecar sends
 * real grpc-js calls to real backends as pods come, terminate and go.
 *
 * No real Kubernetes API server can run on this machine (no kind, k3s or envtest; no network), so
 * test/helpers/kubernetes-api.ts is a node:http server speaking the real list and watch protocol with
 * real EndpointSlice and Service JSON, resourceVersions, newline-delimited watch events and 410 Gone.
 * Every "pod" is an echo server on 127.0.0.1 with its own port, so each gets its own EndpointSlice (as
 * Kubernetes does when pods' ports differ).
 */
import assert from "node:assert/strict";
import { writeFile, mkdtemp } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { adsSidecarBootstrap, type ControlPlane, startControlPlane } from "../helpers/control-plane.js";
import { createEchoClient, type EchoClient } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { mdString, unary, type CallOutcome } from "../helpers/grpc-client.js";
import { endpointSlice, KubernetesApiStandIn, service, type SliceEndpoint } from "../helpers/kubernetes-api.js";
import { startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { until } from "../helpers/util.js";

const NS = "shop";
const SVC = "echo";
const PORT_NAME = "grpc";

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** mesh.yaml: upstream "echo" from Service shop/echo, by the Service's port number (8080 → "grpc"). */
function meshYaml(listenerPort: number): string {
  return [
    "upstreams:",
    "  - name: echo",
    "    protocol: grpc",
    `    discovery: { kubernetes: { service: ${SVC}, namespace: ${NS}, port: 8080 } }`,
    "    connectTimeout: 1s",
    "routes:",
    "  - name: echo-route",
    "    rules: [ { match: { prefix: / }, upstream: echo } ]",
    "listeners:",
    "  - name: echo",
    `    address: 127.0.0.1:${listenerPort}`,
    "    route: echo-route",
    "",
  ].join("\n");
}

/** Unary calls on `lanes` lanes until stopped; every outcome kept. */
function steadyTraffic(client: EchoClient, lanes = 2): { stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loops = Array.from({ length: lanes }, async () => {
    while (running) {
      const out = await unary(client, { message: "steady" }, { deadlineMs: 5000 });
      if (out.status.code === grpc.status.OK) ok++;
      else failed.push(`${out.status.code}: ${out.status.details}`);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

interface HostView {
  port: number;
  eds: string;
  active: number;
}

void describe("Kubernetes EndpointSlice discovery: discovery server + sidecar + API stand-in", { timeout: 120_000 }, () => {
  const pods = new Map<string, EchoServer>();
  let api: KubernetesApiStandIn;
  let cp: ControlPlane | undefined;
  let sc: Sidecar | undefined;
  let client: EchoClient;
  let listenerPort: number;

  const slice = (name: string, e: Partial<SliceEndpoint> = {}): void => {
    const pod = pods.get(name)!;
    api.apply("endpointslices", endpointSlice(NS, SVC, `${SVC}-${name}`, { name: PORT_NAME, port: pod.port }, [{ ip: "127.0.0.1", pod: `${SVC}-${name}`, zone: "zone-a", ...e }]));
  };
  const terminating = (name: string): void => slice(name, { ready: false, serving: true, terminating: true });

  const hosts = async (): Promise<HostView[]> => {
    const res = await fetch(`http://127.0.0.1:${sc!.adminPort}/clusters?format=json`);
    const j = (await res.json()) as {
      cluster_statuses: {
        name: string;
        host_statuses: { address: { socket_address: { port_value: number } }; health_status: { eds_health_status: string }; active_requests: number }[];
      }[];
    };
    const c = j.cluster_statuses.find((s) => s.name === "echo");
    return (c?.host_statuses ?? []).map((h) => ({ port: h.address.socket_address.port_value, eds: h.health_status.eds_health_status, active: h.active_requests }));
  };
  const hostOf = async (name: string): Promise<HostView | undefined> => (await hosts()).find((h) => h.port === pods.get(name)!.port);
  const calls = (name: string): number => pods.get(name)!.calls.length;

  before(async () => {
    for (const name of ["a", "b", "c", "d"]) pods.set(name, await startEchoServer({ name }));
    api = await KubernetesApiStandIn.start();
    api.apply("services", service(NS, SVC, [{ name: "metrics", port: 9090 }, { name: PORT_NAME, port: 8080 }]));
    slice("a");
    slice("b");
    // An unrelated Service's slice in the same namespace: the label selector must keep it out.
    api.apply("endpointslices", endpointSlice(NS, "other", "other-x", { name: PORT_NAME, port: 1 }, [{ ip: "127.0.0.1" }]));
    const dir = await mkdtemp(join(tmpdir(), "pilotfish-k8s-"));
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, api.kubeconfig());
    listenerPort = await freePort();
    cp = await startControlPlane(meshYaml(listenerPort), { args: ["--kubeconfig", kubeconfig], env: { KUBERNETES_SERVICE_HOST: "", KUBECONFIG: "/nonexistent" } });
    sc = await startSidecar(adsSidecarBootstrap(cp.xdsPort));
    client = createEchoClient(listenerPort);
  });

  after(async () => {
    client?.close();
    await sc?.stop();
    await cp?.kill();
    await api?.close();
    await Promise.all([...pods.values()].map((p) => p.close()));
  });

  void test("lists the Service and its slices, then watches from the list's resourceVersion; both pods serve", async () => {
    await until("calls to reach pods a and b", 15_000, async () => {
      await unary(client, { message: "warm" }, { deadlineMs: 2000 });
      return calls("a") > 0 && calls("b") > 0;
    });
    const ports = (await hosts()).map((h) => h.port).sort();
    assert.deepEqual(ports, [pods.get("a")!.port, pods.get("b")!.port].sort(), "the other Service's slice must not be used");
    const lists = api.requests.filter((r) => !r.watch);
    assert.deepEqual(lists.map((r) => r.kind).sort(), ["endpointslices", "services"]);
    assert.equal(lists.find((r) => r.kind === "endpointslices")!.query.get("labelSelector"), `kubernetes.io/service-name=${SVC}`);
    assert.equal(lists.find((r) => r.kind === "services")!.query.get("fieldSelector"), `metadata.name=${SVC}`);
    const watch = api.requests.find((r) => r.watch && r.kind === "endpointslices")!;
    assert.ok(Number(watch.resourceVersion) > 1000, `watch from the list's version, got ${watch.resourceVersion}`);
    assert.equal(watch.query.get("allowWatchBookmarks"), "true");
  });

  void test("scaling up and down moves traffic within a second, with no failed call", async () => {
    const traffic = steadyTraffic(client);
    try {
      // Up: pod c appears.
      const c0 = calls("c");
      let t = performance.now();
      slice("c");
      await until("pod c to get calls", 5000, () => calls("c") > c0 + 2);
      const upMs = performance.now() - t;
      assert.ok(upMs < 1000, `scale-up took ${upMs.toFixed(0)} ms`);

      // Down: pod a terminates (serving, not ready), then leaves the slice.
      t = performance.now();
      terminating("a");
      await until("a to drain in the sidecar", 5000, async () => (await hostOf("a"))?.eds === "DRAINING");
      const drainMs = performance.now() - t;
      assert.ok(drainMs < 1000, `drain took ${drainMs.toFixed(0)} ms`);
      // Calls picked just before the update may still be on their way to a: let them land first.
      await until("a's in-flight calls to finish", 5000, async () => (await hostOf("a"))?.active === 0);
      const aAfterDrain = calls("a");
      const others = calls("b") + calls("c");
      await until("30 more calls elsewhere", 5000, () => calls("b") + calls("c") > others + 30);
      assert.equal(calls("a"), aAfterDrain, "a draining pod got new calls");

      t = performance.now();
      api.delete("endpointslices", NS, `${SVC}-a`);
      await until("a to leave the sidecar's hosts", 5000, async () => (await hostOf("a")) === undefined);
      assert.ok(performance.now() - t < 1000, "removal took over a second");
    } finally {
      const { ok, failed } = await traffic.stop();
      assert.deepEqual(failed, [], `failed calls while scaling (${ok} ok)`);
      assert.ok(ok >= 30, `only ${ok} calls`);
    }
  });

  void test("a terminating pod finishes its in-flight calls and gets no new ones", async () => {
    // b and c serve. Slow calls spread over both (least request), so some are in flight on b.
    const b0 = calls("b");
    const slow: Promise<CallOutcome>[] = Array.from({ length: 6 }, () =>
      unary(client, { message: "slow", initialDelayMs: 2500 }, { deadlineMs: 10_000 }),
    );
    const slowSeen = (): number => ["b", "c"].reduce((n, p) => n + pods.get(p)!.calls.filter((r) => r.requests[0]?.message === "slow").length, 0);
    await until("every slow call to reach a pod", 5000, () => slowSeen() === slow.length);
    assert.ok(pods.get("b")!.calls.slice(b0).some((r) => r.requests[0]?.message === "slow"), "no slow call in flight on b");
    terminating("b");
    await until("b to drain in the sidecar", 5000, async () => (await hostOf("b"))?.eds === "DRAINING");
    const bDraining = calls("b");
    for (let i = 0; i < 20; i++) {
      const out = await unary(client, { message: "after" }, { deadlineMs: 5000 });
      assert.equal(out.status.code, grpc.status.OK, out.status.details);
      assert.notEqual(mdString(out.headers, "x-echo-server"), "b", "a new call went to the terminating pod");
    }
    assert.equal(calls("b"), bDraining);
    // The pod then leaves the slice while its slow calls are still running.
    api.delete("endpointslices", NS, `${SVC}-b`);
    await until("b to leave the sidecar's hosts", 5000, async () => (await hostOf("b")) === undefined);
    const outcomes = await Promise.all(slow);
    for (const o of outcomes) assert.equal(o.status.code, grpc.status.OK, `slow call: ${o.status.details}`);
    const onB = outcomes.filter((o) => mdString(o.headers, "x-echo-server") === "b").length;
    assert.ok(onB >= 1, "no slow call ran on b");
  });

  void test("a broken watch resumes from its last resourceVersion without relisting", async () => {
    const lastSliceRv = api.resourceVersion; // the last change was b's slice deletion
    const from = api.requests.length;
    assert.ok(api.closeWatches() >= 2, "both watches were open");
    await until("both watches to be re-opened", 5000, () => api.requests.slice(from).filter((r) => r.watch).length >= 2);
    const again = api.requests.slice(from);
    assert.deepEqual(again.filter((r) => !r.watch), [], "a closed watch must not relist");
    assert.equal(again.find((r) => r.kind === "endpointslices")!.resourceVersion, lastSliceRv);
    const svcWatches = api.requests.filter((r) => r.watch && r.kind === "services");
    assert.equal(svcWatches.at(-1)!.resourceVersion, svcWatches[0].resourceVersion, "the Service watch resumes where it was");
    // The resumed watch delivers: pod d scales up.
    const d0 = calls("d");
    slice("d");
    await until("pod d to get calls", 5000, async () => {
      await unary(client, { message: "d?" }, { deadlineMs: 2000 });
      return calls("d") > d0;
    });
  });

  void test("410 Gone relists, and picks up what the expired watch missed", async () => {
    api.bookmark();
    const from = api.requests.length;
    // A change no watch reports (as if lost in compaction): c terminates.
    api.applySilently("endpointslices", endpointSlice(NS, SVC, `${SVC}-c`, { name: PORT_NAME, port: pods.get("c")!.port }, [{ ip: "127.0.0.1", ready: false, serving: true, terminating: true }]));
    const listRv = api.resourceVersion;
    assert.ok(api.expireWatches() >= 2);
    await until("c to drain after the relist", 5000, async () => (await hostOf("c"))?.eds === "DRAINING");
    const again = api.requests.slice(from);
    const list = again.find((r) => r.kind === "endpointslices" && !r.watch);
    assert.ok(list !== undefined, "no relist after 410");
    await until("the watch to resume after the relist", 5000, () => api.requests.slice(from).some((r) => r.kind === "endpointslices" && r.watch));
    const watch = api.requests.slice(from).find((r) => r.kind === "endpointslices" && r.watch)!;
    assert.equal(watch.resourceVersion, listRv, "the watch after a relist starts at the list's version");
  });

  void test("while the API is unreachable the last endpoints stay served", async () => {
    api.failWith = 503;
    api.closeWatches();
    const from = api.requests.length;
    const traffic = steadyTraffic(client);
    await until("the discovery server to retry against the failing API", 5000, () => api.requests.length > from);
    const d0 = calls("d");
    await until("calls to keep reaching d", 5000, () => calls("d") > d0 + 30);
    const { failed } = await traffic.stop();
    assert.deepEqual(failed, []);
    assert.equal((await hostOf("d"))?.eds, "HEALTHY");
    api.failWith = undefined;
    // Back: a new pod is found again.
    slice("a");
    await until("a to come back once the API answers", 15_000, async () => (await hostOf("a"))?.eds === "HEALTHY");
  });

  void test("a mesh.yaml edit that drops the Kubernetes upstream stops its watches; restoring it restarts them", async () => {
    const e = pods.get("a")!;
    await cp!.writeMesh(meshYaml(listenerPort).replace(/ {4}discovery: .*\n/, `    nodes: [ { address: 127.0.0.1:${e.port} } ]\n`));
    await until("the watches to close", 10_000, () => api.openWatches === 0).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; open ${api.openWatches}\n${cp!.output().split("\n").slice(-15).join("\n")}`);
    });
    const a0 = calls("a");
    await until("calls to go to the listed node", 10_000, async () => {
      await unary(client, { message: "static" }, { deadlineMs: 2000 });
      return calls("a") > a0 + 3;
    });
    const from = api.requests.length;
    await cp!.writeMesh(meshYaml(listenerPort));
    await until("the watches to reopen with a fresh list", 10_000, () => api.openWatches === 2);
    assert.ok(api.requests.slice(from).some((r) => !r.watch && r.kind === "endpointslices"));
    const d0 = calls("d");
    await until("calls to reach d again", 10_000, async () => {
      await unary(client, { message: "k8s" }, { deadlineMs: 2000 });
      return calls("d") > d0;
    });
  });
});
