/**
 * The list+watch loop against the Kubernetes API stand-in (test/helpers/kubernetes-api.ts; no real API
 * server can run here), in process: 410 as an HTTP status relists, an ERROR event that is not 410
 * relists too (as client-go does), and stop() ends a watch whose response never started.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KubeConfig, type V1EndpointSlice } from "@kubernetes/client-node";
import { pino } from "pino";
import { KubernetesListWatch } from "../../../src/control-plane/discovery/kubernetes-list-watch.js";
import { endpointSlice, KubernetesApiStandIn } from "../../helpers/kubernetes-api.js";
import { until } from "../../helpers/util.js";

let api: KubernetesApiStandIn;
let kc: KubeConfig;
const log = pino({ level: "silent" });

before(async () => {
  api = await KubernetesApiStandIn.start();
  api.apply("endpointslices", endpointSlice("ns", "echo", "echo-1", { name: "grpc", port: 1 }, [{ ip: "10.0.0.1" }]));
  kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
});
after(() => api.close());

function listWatch(onChange: () => void = () => undefined): KubernetesListWatch<V1EndpointSlice> {
  const path = "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices";
  const query = { labelSelector: "kubernetes.io/service-name=echo" };
  return new KubernetesListWatch<V1EndpointSlice>(
    kc,
    {
      what: "test",
      path,
      query,
      list: async () => {
        const res = await fetch(`http://127.0.0.1:${api.port}${path}?${new URLSearchParams(query).toString()}`, { headers: { authorization: "Bearer test-token" } });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const j = (await res.json()) as { items: V1EndpointSlice[]; metadata: { resourceVersion: string } };
        return { items: j.items, resourceVersion: j.metadata.resourceVersion };
      },
    },
    onChange,
    log,
    { retryBaseMs: 20, retryMaxMs: 100 },
  );
}

const lists = (): number => api.requests.filter((r) => !r.watch).length;

void test("410 as the watch's HTTP status relists; the store follows the server", async () => {
  const lw = listWatch();
  lw.start();
  await lw.whenSynced();
  await until("the watch to open", 5000, () => api.openWatches === 1);
  const before = lists();
  api.failWatchesWith = 410;
  api.closeWatches();
  await until("a relist", 5000, () => lists() > before);
  api.failWatchesWith = undefined;
  api.apply("endpointslices", endpointSlice("ns", "echo", "echo-2", { name: "grpc", port: 2 }, [{ ip: "10.0.0.2" }]));
  await until("the new slice in the store", 5000, () => lw.store.has("echo-2"));
  await lw.stop();
  api.delete("endpointslices", "ns", "echo-2");
});

void test("a broken connection (HTTP 500 on the watch) retries the watch from the same version, without relisting", async () => {
  const lw = listWatch();
  lw.start();
  await lw.whenSynced();
  await until("the watch to open", 5000, () => api.openWatches === 1);
  const rv = lw.resourceVersion;
  const before = lists();
  const from = api.requests.length;
  api.failWatchesWith = 500;
  api.closeWatches();
  await until("two failed watch attempts", 5000, () => api.requests.slice(from).filter((r) => r.watch).length >= 2);
  api.failWatchesWith = undefined;
  await until("the watch to reopen", 5000, () => api.openWatches === 1);
  assert.equal(lists(), before, "no relist");
  assert.ok(api.requests.slice(from).every((r) => r.resourceVersion === rv), "every retry from the same version");
  await lw.stop();
});

void test("stop() returns while the API has not answered yet", async () => {
  api.holdWatchHeaders = true;
  const from = api.requests.length;
  const lw = listWatch();
  lw.start();
  await lw.whenSynced();
  await until("the watch request", 5000, () => api.requests.slice(from).some((r) => r.watch));
  const t = performance.now();
  await lw.stop();
  assert.ok(performance.now() - t < 1000, "stop() waited for the hanging watch");
  // client-node's Watch hands out its AbortController only once headers arrive: that one request lives
  // on until Watch's own inactivity timeout (its timer does not keep the process alive).
  api.holdWatchHeaders = false;
  api.closeWatches();
});
