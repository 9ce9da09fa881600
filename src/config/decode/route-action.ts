/** RouteAction and DirectResponseAction decoding. */
import { RoutingPriority } from "../../gen/envoy/config/core/v3/base.js";
import type {
  DirectResponseAction as PbDirectResponse,
  RouteAction as PbRouteAction,
} from "../../gen/envoy/config/route/v3/route_components.js";
import type { DirectResponseAction, HostRewrite, RouteAction, WeightedClusterConfig } from "../model.js";
import { dataSourceInline, durationMs, optionalDurationMs } from "./common.js";
import { at, type Errors, idx, notSupported, show, unsupportedValue } from "./field-errors.js";
import { decodeRetryPolicy } from "./retry-policy.js";

/**
 * Where each cluster reference was written, keyed by the decoded object: the bootstrap's cross-resource
 * check names `route.cluster` or `weighted_clusters.clusters[i].name` exactly as the user wrote it.
 */
export const clusterRefPaths = new WeakMap<WeightedClusterConfig, string>();

export function decodeRouteAction(
  a: PbRouteAction,
  path: string,
  errors: Errors,
  pathMatchKind: "prefix" | "path" | "regex",
): RouteAction {
  if (a.priority !== RoutingPriority.DEFAULT) {
    errors.add(at(path, "priority"), unsupportedValue(RoutingPriority[a.priority] ?? a.priority, ["DEFAULT"]));
  }
  return {
    kind: "route",
    clusters: decodeClusterSpecifier(a, path, errors),
    prefixRewrite: decodePrefixRewrite(a, path, errors, pathMatchKind),
    hostRewrite: decodeHostRewrite(a, path, errors),
    // Unset stays undefined: the router applies its own default (15 s for HTTP, none for gRPC).
    timeoutMs: optionalDurationMs(a.timeout),
    idleTimeoutMs: optionalDurationMs(a.idleTimeout),
    retryPolicy: a.retryPolicy && decodeRetryPolicy(a.retryPolicy, at(path, "retry_policy"), errors),
    maxStreamDuration: {
      maxStreamDurationMs: optionalDurationMs(a.maxStreamDuration?.maxStreamDuration),
      grpcTimeoutHeaderMaxMs: optionalDurationMs(a.maxStreamDuration?.grpcTimeoutHeaderMax),
      grpcTimeoutHeaderOffsetMs: durationMs(a.maxStreamDuration?.grpcTimeoutHeaderOffset, 0),
    },
  };
}

function decodeClusterSpecifier(a: PbRouteAction, path: string, errors: Errors): WeightedClusterConfig[] {
  const spec = a.clusterSpecifier;
  switch (spec?.$case) {
    case undefined:
      errors.add(at(path, "cluster"), "one of cluster, weighted_clusters is required");
      return [];
    case "clusterHeader":
      errors.add(at(path, "cluster_header"), notSupported());
      return [];
    case "cluster": {
      if (spec.value === "") errors.add(at(path, "cluster"), "must not be empty");
      const ref = { name: spec.value, weight: 1 };
      clusterRefPaths.set(ref, at(path, "cluster"));
      return [ref];
    }
    case "weightedClusters": {
      const p = at(path, "weighted_clusters");
      const wc = spec.value;
      if (wc.clusters.length === 0) errors.add(at(p, "clusters"), "at least one cluster is required");
      const out = wc.clusters.map((c, i) => {
        const namePath = at(idx(at(p, "clusters"), i), "name");
        if (c.name === "") errors.add(namePath, "required");
        const ref = { name: c.name, weight: c.weight ?? 0 };
        clusterRefPaths.set(ref, namePath);
        return ref;
      });
      const sum = out.reduce((s, c) => s + c.weight, 0);
      if (wc.clusters.length > 0 && sum === 0) errors.add(at(p, "clusters"), "the weights sum to 0");
      if (wc.totalWeight !== undefined && wc.totalWeight !== sum) {
        errors.add(at(p, "total_weight"), `total_weight ${wc.totalWeight} does not equal the sum of the weights (${sum})`);
      }
      return out;
    }
  }
}

function decodePrefixRewrite(
  a: PbRouteAction,
  path: string,
  errors: Errors,
  pathMatchKind: "prefix" | "path" | "regex",
): string | undefined {
  if (a.prefixRewrite === "") return undefined;
  // Envoy rejects this combination: there is no literal prefix to replace.
  if (pathMatchKind === "regex") errors.add(at(path, "prefix_rewrite"), "cannot be used with a safe_regex match");
  return a.prefixRewrite;
}

function decodeHostRewrite(a: PbRouteAction, path: string, errors: Errors): HostRewrite {
  const spec = a.hostRewriteSpecifier;
  if (spec?.$case === "hostRewriteLiteral") {
    if (spec.value === "") errors.add(at(path, "host_rewrite_literal"), "must not be empty");
    return { kind: "literal", value: spec.value };
  }
  if (spec?.$case === "autoHostRewrite" && spec.value) return { kind: "endpoint" };
  return { kind: "pass" };
}

export function decodeDirectResponse(d: PbDirectResponse, path: string, errors: Errors): DirectResponseAction {
  if (d.status < 200 || d.status > 599) errors.add(at(path, "status"), `status ${show(d.status)} is outside 200..599`);
  return { kind: "direct", status: d.status, body: dataSourceInline(d.body, at(path, "body"), errors) };
}
