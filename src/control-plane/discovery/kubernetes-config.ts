/**
 * Where the discovery server finds the Kubernetes API, in this order: `--kubeconfig <file>`; in a pod,
 * the service account (KUBERNETES_SERVICE_HOST and the mounted token); otherwise $KUBECONFIG or
 * ~/.kube/config, as kubectl does. Only read when mesh.yaml has a `discovery: {kubernetes}` upstream.
 */
import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { ErrorCode, PilotfishError } from "../../common/errors.js";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** Loads the client configuration; throws PF_KUBERNETES_CONFIG when none is usable. */
export function loadKubeConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  let from: string;
  try {
    if (file !== undefined) {
      from = file;
      kc.loadFromFile(file);
    } else if (env.KUBERNETES_SERVICE_HOST !== undefined && env.KUBERNETES_SERVICE_HOST !== "") {
      from = "the in-cluster service account";
      // client-node reads the token lazily, at the first request; say now when it is not mounted.
      if (!existsSync(SERVICE_ACCOUNT_TOKEN)) throw new Error(`${SERVICE_ACCOUNT_TOKEN} does not exist (automountServiceAccountToken: false?)`);
      kc.loadFromCluster();
    } else {
      from = env.KUBECONFIG ? `KUBECONFIG (${env.KUBECONFIG})` : "~/.kube/config";
      kc.loadFromDefault();
    }
  } catch (err) {
    throw new PilotfishError(ErrorCode.KUBERNETES_CONFIG, `cannot load the Kubernetes client configuration from ${from!}: ${(err as Error).message}`, [], {
      cause: err,
    });
  }
  if (kc.getCurrentCluster() === null) {
    throw new PilotfishError(
      ErrorCode.KUBERNETES_CONFIG,
      `no Kubernetes cluster configured in ${from} (mesh.yaml uses discovery: {kubernetes}; pass --kubeconfig or run in a pod)`,
    );
  }
  return kc;
}
