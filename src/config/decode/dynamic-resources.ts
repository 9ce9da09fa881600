/**
 * Bootstrap dynamic_resources restricted to ADS: `ads_config` is one gRPC stream to a static cluster and
 * `lds_config` / `cds_config` may only say `{ads: {}}`.
 */
import type { Bootstrap_DynamicResources } from "../../gen/envoy/config/bootstrap/v3/bootstrap.js";
import {
  type ApiConfigSource,
  ApiConfigSource_ApiType as ApiType,
  ApiVersion,
  type ConfigSource,
} from "../../gen/envoy/config/core/v3/config_source.js";
import type { DynamicResourcesConfig } from "../model.js";
import { durationMs, snake } from "./common.js";

/** Envoy's default initial_fetch_timeout. */
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;
import { at, type Errors, idx, notSupported, unsupportedValue } from "./field-errors.js";

export function decodeDynamicResources(d: Bootstrap_DynamicResources, path: string, errors: Errors): DynamicResourcesConfig {
  const ads = d.adsConfig;
  let adsClusterName = "";
  let delta = false;
  if (ads === undefined) errors.add(at(path, "ads_config"), "required (pilotfish only supports ADS)");
  else ({ adsClusterName, delta } = decodeAdsConfig(ads, at(path, "ads_config"), errors));
  const timeouts = [d.ldsConfig?.initialFetchTimeout, d.cdsConfig?.initialFetchTimeout]
    .filter((t) => t !== undefined)
    .map((t) => durationMs(t, DEFAULT_INITIAL_FETCH_TIMEOUT_MS));
  return {
    adsClusterName,
    delta,
    lds: checkAdsSource(d.ldsConfig, at(path, "lds_config"), errors),
    cds: checkAdsSource(d.cdsConfig, at(path, "cds_config"), errors),
    // One initialisation covers both types; the longer of the two timeouts wins (0 = wait forever).
    initialFetchTimeoutMs: timeouts.length === 0 ? DEFAULT_INITIAL_FETCH_TIMEOUT_MS : timeouts.includes(0) ? 0 : Math.max(...timeouts),
  };
}

function checkApiVersion(v: ApiVersion, path: string, errors: Errors): void {
  if (v !== ApiVersion.V3 && v !== ApiVersion.AUTO) errors.add(path, unsupportedValue(ApiVersion[v] ?? v, ["V3"]));
}

function decodeAdsConfig(a: ApiConfigSource, path: string, errors: Errors): { adsClusterName: string; delta: boolean } {
  if (a.apiType !== ApiType.GRPC && a.apiType !== ApiType.DELTA_GRPC) {
    errors.add(at(path, "api_type"), unsupportedValue(ApiType[a.apiType] ?? a.apiType, ["GRPC", "DELTA_GRPC"]));
  }
  checkApiVersion(a.transportApiVersion, at(path, "transport_api_version"), errors);
  if (a.clusterNames.length > 0) errors.add(at(path, "cluster_names"), notSupported("cluster_names (use grpc_services)"));
  if (a.refreshDelay !== undefined) errors.add(at(path, "refresh_delay"), notSupported());
  if (a.requestTimeout !== undefined) errors.add(at(path, "request_timeout"), notSupported());
  if (a.setNodeOnFirstMessageOnly) errors.add(at(path, "set_node_on_first_message_only"), notSupported());
  if (a.grpcServices.length !== 1) {
    errors.add(at(path, "grpc_services"), `exactly one gRPC service is required, got ${a.grpcServices.length}`);
  }
  const svc = a.grpcServices[0];
  const sp = idx(at(path, "grpc_services"), 0);
  if (svc?.timeout !== undefined) errors.add(at(sp, "timeout"), notSupported());
  if (svc?.envoyGrpc?.authority) errors.add(at(sp, "envoy_grpc.authority"), notSupported());
  const adsClusterName = svc?.envoyGrpc?.clusterName ?? "";
  if (svc && adsClusterName === "") errors.add(at(sp, "envoy_grpc.cluster_name"), "required");
  return { adsClusterName, delta: a.apiType === ApiType.DELTA_GRPC };
}

/** Returns whether the resource type comes over ADS. */
function checkAdsSource(cs: ConfigSource | undefined, path: string, errors: Errors): boolean {
  if (cs === undefined) return false;
  const spec = cs.configSourceSpecifier;
  if (spec?.$case !== "ads") {
    errors.add(spec === undefined ? at(path, "ads") : at(path, snake(spec.$case)), notSupported("a config source other than {ads: {}}"));
  }
  checkApiVersion(cs.resourceApiVersion, at(path, "resource_api_version"), errors);
  return true;
}
