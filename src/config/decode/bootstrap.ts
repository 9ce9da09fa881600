/**
 * Bootstrap message → domain model: node, admin, static resources, ADS, plus the checks that span
 * resources (unique names, routes naming defined clusters) which single-resource decoders cannot do.
 */
import type { Bootstrap as PbBootstrap, Bootstrap_Admin } from "../../gen/envoy/config/bootstrap/v3/bootstrap.js";
import type { Node } from "../../gen/envoy/config/core/v3/base.js";
import type { AdminConfig, Bootstrap, ListenerConfig, NodeInfo } from "../model.js";
import { decodeCluster } from "./cluster.js";
import { decodeAddress, decodeLocality } from "./common.js";
import { decodeDynamicResources } from "./dynamic-resources.js";
import { at, type Errors, idx, notSupported, show } from "./field-errors.js";
import { decodeListener } from "./listener.js";
import { clusterRefPaths } from "./route-action.js";

export function decodeBootstrapMessage(b: PbBootstrap, errors: Errors): Bootstrap {
  const listeners = (b.staticResources?.listeners ?? []).map((l, i) =>
    decodeListener(l, idx("static_resources.listeners", i), errors),
  );
  const clusters = (b.staticResources?.clusters ?? []).map((c, i) =>
    decodeCluster(c, idx("static_resources.clusters", i), errors),
  );
  checkUnique(listeners, "static_resources.listeners", "listener", errors);
  checkUnique(clusters, "static_resources.clusters", "cluster", errors);
  const dynamicResources = b.dynamicResources && decodeDynamicResources(b.dynamicResources, "dynamic_resources", errors);
  const clusterNames = new Set(clusters.map((c) => c.name));
  if (dynamicResources && dynamicResources.adsClusterName !== "" && !clusterNames.has(dynamicResources.adsClusterName)) {
    errors.add(
      "dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name",
      `cluster ${show(dynamicResources.adsClusterName)} is not defined in static_resources.clusters`,
    );
  }
  // EDS clusters and RDS listeners need the ADS stream to get their endpoints and routes.
  if (!dynamicResources) {
    clusters.forEach((c, i) => {
      if (c.type === "EDS") errors.add(at(idx("static_resources.clusters", i), "type"), "EDS needs dynamic_resources.ads_config");
    });
    listeners.forEach((l, i) => {
      if (l.hcm.rdsName !== undefined) {
        errors.add(at(idx("static_resources.listeners", i), "filter_chains[0].filters[0].typed_config.rds"), "rds needs dynamic_resources.ads_config");
      }
    });
  }
  // With CDS, routes may name clusters that only arrive later.
  if (!dynamicResources?.cds) checkRouteClusters(listeners, clusterNames, errors);
  const node = decodeNode(b.node, "node", errors);
  if (dynamicResources && (node.id === "" || node.cluster === "")) {
    errors.add("node", "id and cluster are required with dynamic_resources (the discovery server keys on them)");
  }
  const bootstrap: Bootstrap = {
    node,
    admin: b.admin && decodeAdmin(b.admin, "admin", errors),
    listeners,
    clusters,
  };
  return dynamicResources ? { ...bootstrap, dynamicResources } : bootstrap;
}

function decodeNode(n: Node | undefined, path: string, errors: Errors): NodeInfo {
  for (const [field, set] of [
    ["user_agent_name", n?.userAgentName],
    ["user_agent_version", n?.userAgentVersion],
    ["client_features", n?.clientFeatures.length],
  ] as const) {
    if (set) errors.add(at(path, field), "is set by pilotfish itself and cannot be configured");
  }
  return {
    id: n?.id ?? "",
    cluster: n?.cluster ?? "",
    metadata: n?.metadata ?? {},
    locality: decodeLocality(n?.locality),
  };
}

function decodeAdmin(a: Bootstrap_Admin, path: string, errors: Errors): AdminConfig {
  // Old Envoy examples write access_log_path: /dev/null; that is what we do anyway.
  if (a.accessLogPath !== "" && a.accessLogPath !== "/dev/null") {
    errors.add(at(path, "access_log_path"), notSupported("an admin access log"));
  }
  if (a.profilePath !== "") errors.add(at(path, "profile_path"), notSupported());
  return { address: decodeAddress(a.address, at(path, "address"), errors, { allowPortZero: true }) };
}

function checkUnique(items: readonly { name: string }[], path: string, what: string, errors: Errors): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    if (item.name === "") return;
    const prev = first.get(item.name);
    if (prev === undefined) first.set(item.name, i);
    else errors.add(at(idx(path, i), "name"), `duplicate ${what} name ${show(item.name)} (also ${idx(path, prev)})`);
  });
}

function checkRouteClusters(listeners: readonly ListenerConfig[], defined: ReadonlySet<string>, errors: Errors): void {
  for (const l of listeners) {
    for (const vh of l.hcm.routeConfig.virtualHosts) {
      for (const r of vh.routes) {
        if (r.action.kind !== "route") continue;
        for (const c of r.action.clusters) {
          if (c.name === "" || defined.has(c.name)) continue;
          errors.add(clusterRefPaths.get(c) ?? "static_resources.listeners", `cluster ${show(c.name)} is not defined in static_resources.clusters`);
        }
      }
    }
  }
}
