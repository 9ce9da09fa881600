/**
 * Cluster.load_balancing_policy: an ordered list of typed policies; as in gRPC's xDS clients, the first
 * one we implement wins and the rest are fallbacks for other clients (our discovery server lists
 * least_request first and round_robin after it, for proxyless gRPC clients that lack least_request).
 */
import type { LoadBalancingPolicy } from "../../gen/envoy/config/cluster/v3/cluster.js";
import { LeastRequest } from "../../gen/envoy/extensions/load_balancing_policies/least_request/v3/least_request.js";
import type { LbPolicy, LeastRequestConfig } from "../model.js";
import { at, type Errors, idx, show } from "./field-errors.js";
import { unpack } from "./typed-config.js";

const PREFIX = "type.googleapis.com/envoy.extensions.load_balancing_policies.";
const KNOWN: Readonly<Record<string, LbPolicy>> = {
  [`${PREFIX}least_request.v3.LeastRequest`]: "LEAST_REQUEST",
  [`${PREFIX}round_robin.v3.RoundRobin`]: "ROUND_ROBIN",
  [`${PREFIX}random.v3.Random`]: "RANDOM",
};

/** The chosen policy and, for least request, its settings; undefined when the field is unset. */
export function decodeLoadBalancingPolicy(
  p: LoadBalancingPolicy | undefined,
  path: string,
  errors: Errors,
): { policy: LbPolicy; leastRequest: LeastRequestConfig | undefined } | undefined {
  if (p === undefined) return undefined;
  for (let i = 0; i < p.policies.length; i++) {
    const ext = p.policies[i].typedExtensionConfig?.typedConfig;
    const policy = ext && KNOWN[ext.typeUrl];
    if (ext === undefined || policy === undefined) continue;
    if (policy !== "LEAST_REQUEST") return { policy, leastRequest: undefined };
    const lr = unpack(LeastRequest, ext.value, at(idx(at(path, "policies"), i), "typed_extension_config.typed_config"), errors);
    const choiceCount = lr?.choiceCount ?? 2;
    if (choiceCount < 2) errors.add(at(idx(at(path, "policies"), i), "choice_count"), `${show(choiceCount)} must be >= 2`);
    return {
      policy,
      leastRequest: { choiceCount: Math.max(2, choiceCount), activeRequestBias: lr?.activeRequestBias?.defaultValue ?? 1.0 },
    };
  }
  const urls = p.policies.map((x) => x.typedExtensionConfig?.typedConfig?.typeUrl ?? "(none)");
  errors.add(at(path, "policies"), `no supported policy among ${show(urls)}; supported: ${Object.keys(KNOWN).join(", ")}`);
  return undefined;
}
