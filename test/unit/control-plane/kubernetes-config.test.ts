/** Where the discovery server finds the Kubernetes API: --kubeconfig, else in-cluster, else $KUBECONFIG. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode, PilotfishError } from "../../../src/common/errors.js";
import { loadKubeConfig } from "../../../src/control-plane/discovery/kubernetes-config.js";
import { tempFile } from "../../helpers/sidecar.js";

const KUBECONFIG = [
  "apiVersion: v1",
  "kind: Config",
  "clusters: [{name: c, cluster: {server: 'https://10.0.0.1:6443'}}]",
  "users: [{name: u, user: {token: t}}]",
  "contexts: [{name: x, context: {cluster: c, user: u}}]",
  "current-context: x",
  "",
].join("\n");

void test("--kubeconfig wins over $KUBECONFIG and the in-cluster account", async () => {
  const f = await tempFile("kubeconfig", KUBECONFIG);
  try {
    const kc = loadKubeConfig(f.path, { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBECONFIG: "/nonexistent" });
    assert.equal(kc.getCurrentCluster()?.server, "https://10.0.0.1:6443");
  } finally {
    await f.cleanup();
  }
});

void test("a missing kubeconfig file is PF_KUBERNETES_CONFIG naming the file", () => {
  assert.throws(
    () => loadKubeConfig("/nonexistent/kubeconfig", {}),
    (err: unknown) => PilotfishError.is(err, ErrorCode.KUBERNETES_CONFIG) && err.message.includes("/nonexistent/kubeconfig"),
  );
});

void test("in a pod without the mounted service account: PF_KUBERNETES_CONFIG", () => {
  assert.throws(
    () => loadKubeConfig(undefined, { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }),
    (err: unknown) => PilotfishError.is(err, ErrorCode.KUBERNETES_CONFIG) && err.message.includes("in-cluster"),
  );
});
