/**
 * `/config_dump`: the bootstrap, and per xDS type the accepted resources with their version and last
 * update time, plus the last rejection (Envoy's dynamic_active_* sections, simplified), and what DNS
 * clusters resolved to.
 */
import { TYPE_SHORT } from "../xds/type-urls.js";
import type { Sidecar } from "./sidecar.js";

/**
 * What STRICT_DNS / LOGICAL_DNS clusters resolved to (Envoy lists these under static endpoint configs):
 * per cluster its hosts' current addresses and the last resolution error per name, if any.
 */
function dnsClusters(sidecar: Sidecar): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of sidecar.clusters.all()) {
    if (c.dns === undefined) continue;
    out[c.name] = {
      type: c.config.type,
      hosts: c.hosts.map((h) => ({ key: h.key, address: h.address.address, port: h.address.port, hostname: h.hostname })),
      last_errors: Object.fromEntries(c.dns.lastErrors),
    };
  }
  return out;
}

export function configDump(sidecar: Sidecar): unknown {
  const dynamic: Record<string, unknown> = {};
  for (const [typeUrl, st] of sidecar.ads?.state ?? []) {
    dynamic[TYPE_SHORT[typeUrl]] = {
      type_url: typeUrl,
      version_info: st.version,
      subscribed: st.names === undefined ? "*" : [...st.names],
      last_rejection: st.lastError && {
        version_info: st.lastError.version,
        error: st.lastError.message,
        at: st.lastError.at.toISOString(),
      },
      resources: [...st.resources.entries()].map(([name, r]) => ({
        name,
        version_info: r.version,
        last_updated: r.updatedAt.toISOString(),
        config: r.value,
      })),
    };
  }
  return {
    bootstrap: sidecar.bootstrap,
    listeners: Object.fromEntries(sidecar.ports),
    dynamic_resources: dynamic,
    dns_clusters: dnsClusters(sidecar),
  };
}
