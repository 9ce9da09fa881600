/** What the discovery server's /ui/api/* endpoints answer (see src/control-plane/ui-server.ts). */

export interface NackRecord {
  readonly version: string;
  readonly error: string;
  readonly time: string;
}

export interface TypeStatus {
  readonly version_sent: string;
  readonly version_acked: string;
  readonly last_nack: NackRecord | null;
}

export interface NodeView {
  readonly id: string;
  readonly cluster: string;
  readonly user_agent_name: string;
  readonly user_agent_version: string;
  readonly proxyless: boolean;
  readonly stream: "sotw" | "delta";
  readonly stream_id: number;
  readonly connected_at: string;
  readonly types: Readonly<Record<string, TypeStatus>>;
  /** The sidecar's admin `host:port`, from node.metadata "pilotfish.admin", or null. */
  readonly admin: string | null;
}

export interface HostStatus {
  readonly address: { readonly socket_address: { readonly address: string; readonly port_value: number } };
  readonly hostname?: string;
  readonly weight: number;
  /** flags: "healthy" or e.g. "/failed_outlier_check/failed_active_hc" (Envoy's /clusters text). */
  readonly health_status: { readonly flags: string; readonly eds_health_status: string };
  readonly active_requests: number;
  readonly connections: number;
  readonly stats: {
    readonly rq_total: number;
    readonly rq_success: number;
    readonly rq_error: number;
    readonly rq_timeout: number;
    readonly cx_total: number;
    readonly cx_connect_fail: number;
  };
}

export interface ClusterStatus {
  readonly name: string;
  readonly host_statuses: readonly HostStatus[];
}

export interface ClustersView {
  readonly admin: string;
  readonly fetched_at: string;
  readonly clusters: { readonly cluster_statuses: readonly ClusterStatus[] };
}

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface ConfigView {
  readonly mesh_file: string;
  readonly loaded_at: string | null;
  /** The mesh.yaml text in force (or, if the file changed since, the validated mesh as YAML). */
  readonly mesh_yaml: string | null;
  readonly mesh_yaml_source: "file" | "validated model" | null;
  readonly last_error: { readonly time: string; readonly errors: readonly FieldError[] } | null;
  readonly snapshot_failure: unknown;
}

/** GET a dashboard endpoint (relative to /ui/); throws with the server's error text. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(`api/${path}`, { signal, cache: "no-store" });
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const err = body !== null && typeof body === "object" && "error" in body ? String((body as { error: unknown }).error) : `HTTP ${res.status}`;
    throw new Error(err);
  }
  return body as T;
}

export function hostAddress(h: HostStatus): string {
  const a = h.address.socket_address;
  return a.address.includes(":") ? `[${a.address}]:${a.port_value}` : `${a.address}:${a.port_value}`;
}
