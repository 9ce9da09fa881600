/**
 * Cluster.load_balancing_policy: an ordered list of typed policies; as in gRPC's xDS clients, the first
 * one we implement wins and the rest are fallbacks for other clients (our discovery server lists
 * least_request first and round_robin after it, for proxyless gRPC clients that lack least_request).
 */
import type { LoadBalancingPolicy } from "../../gen/envoy/config/cluster/v3/cluster.js";
import { LeastRequest } from "../../gen/envoy/extensions/load_balancing_policies/least_request/v3/least_request.js";
import type { SlowStartConfig as PbSlowStartConfig } from "../../gen/envoy/extensions/load_balancing_policies/common/v3/common.js";
import type { LbPolicy, LeastRequestConfig, SlowStartConfig } from "../model.js";
import { durationMs } from "./common.js";
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
    const ss = lr?.slowStartConfig;
    const ssPath = at(idx(at(path, "policies"), i), "typed_extension_config.typed_config.slow_start_config");
    const slowStart = ss === undefined ? undefined : decodeSlowStart(ss, ssPath, errors);
    return {
      policy,
      leastRequest: {
        choiceCount: Math.max(2, choiceCount),
        activeRequestBias: lr?.activeRequestBias?.defaultValue ?? 1.0,
        ...(slowStart === undefined ? {} : { slowStart }),
      },
    };
  }
  const urls = p.policies.map((x) => x.typedExtensionConfig?.typedConfig?.typeUrl ?? "(none)");
  errors.add(at(path, "policies"), `no supported policy among ${show(urls)}; supported: ${Object.keys(KNOWN).join(", ")}`);
  return undefined;
}

/** SlowStartConfig with Envoy's defaults (aggression 1.0, min_weight_percent 10); a window is required. */
function decodeSlowStart(ss: PbSlowStartConfig, path: string, errors: Errors): SlowStartConfig {
  const windowMs = durationMs(ss.slowStartWindow, 0);
  if (!(windowMs > 0)) errors.add(at(path, "slow_start_window"), "required and greater than 0");
  const aggression = ss.aggression?.defaultValue ?? 1.0;
  if (!(aggression > 0)) errors.add(at(path, "aggression.default_value"), `${show(aggression)} must be > 0`);
  const minWeightPercent = ss.minWeightPercent?.value ?? 10;
  if (!(minWeightPercent >= 0 && minWeightPercent <= 100)) errors.add(at(path, "min_weight_percent.value"), `percent ${show(minWeightPercent)} is outside 0..100`);
  return { windowMs, aggression, minWeightPercent };
}
