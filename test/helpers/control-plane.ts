/**
 * Runs the real discovery server as a child process (`pilotfish control-plane -c mesh.yaml --port 0
 * --admin-port 0`) and waits for its "control plane ready" log line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_MAIN, NODE_BIN } from "./sidecar.js";
import { REPO_ROOT } from "./util.js";

export interface ControlPlane {
  readonly xdsPort: number;
  readonly adminPort: number;
  readonly meshFile: string;
  readonly proc: ChildProcess;
  /** Rewrites mesh.yaml (atomically, by rename, as editors do). */
  writeMesh(yaml: string): Promise<void>;
  /** GET on the admin port; parsed JSON. */
  getJson(path: string): Promise<unknown>;
  /** Kills the process (SIGKILL by default) and waits for it. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

/** Starts the discovery server on `meshYaml`; `ports` pins the xDS port (for restarts). */
export async function startControlPlane(
  meshYaml: string,
  opts: { dir?: string; xdsPort?: number; adminPort?: number; env?: NodeJS.ProcessEnv; args?: readonly string[]; readyTimeoutMs?: number } = {},
): Promise<ControlPlane> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "pilotfish-cp-")));
  const meshFile = join(dir, "mesh.yaml");
  if (opts.dir === undefined) await writeFile(meshFile, meshYaml);
  const args = ["--import", "tsx", CLI_MAIN, "control-plane", "-c", meshFile, "--port", String(opts.xdsPort ?? 0), "--admin-port", String(opts.adminPort ?? 0), ...(opts.args ?? [])];
  const proc = spawn(NODE_BIN, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
  let out = "";
  const ready = new Promise<{ xds: number; admin: number }>((resolve, reject) => {
    const readyMs = opts.readyTimeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      // A server that is late must not outlive the test holding its port (and the test runner open).
      proc.kill("SIGKILL");
      reject(new Error(`control plane not ready in ${readyMs} ms:\n${out}`));
    }, readyMs);
    const onData = (b: Buffer): void => {
      out += b.toString();
      for (const line of out.split("\n")) {
        if (!line.includes('"control plane ready"')) continue;
        const j = JSON.parse(line) as { xds_port: number; admin_port: number };
        clearTimeout(timer);
        resolve({ xds: j.xds_port, admin: j.admin_port });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", (b: Buffer) => (out += b.toString()));
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`control plane exited (${code}) before ready:\n${out}`));
    });
  });
  const ports = await ready;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    xdsPort: ports.xds,
    adminPort: ports.admin,
    meshFile,
    proc,
    async writeMesh(yaml: string) {
      const tmp = `${meshFile}.tmp-${process.pid}`;
      await writeFile(tmp, yaml);
      const { rename } = await import("node:fs/promises");
      await rename(tmp, meshFile);
    },
    async getJson(path: string) {
      const res = await fetch(`http://127.0.0.1:${ports.admin}${path}`);
      return res.json();
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    output: () => out,
  };
}

/** Options of a sidecar bootstrap that takes everything from the discovery server over ADS. */
export interface AdsBootstrapOptions {
  /** node.id (default frontend-1). */
  nodeId?: string;
  /** node.cluster (default frontend): selects the mesh listeners the sidecar gets. */
  nodeCluster?: string;
  /** Incremental xDS (DELTA_GRPC) instead of state of the world. */
  delta?: boolean;
  /** lds_config/cds_config initial_fetch_timeout, e.g. "1s" (default: Envoy's 15 s). */
  initialFetchTimeout?: string;
}

/**
 * A sidecar bootstrap whose listeners and clusters all come from the discovery server at `xdsPort`
 * (several ports: replicas, the xDS cluster's endpoints in that order).
 */
export function adsSidecarBootstrap(xdsPort: number | readonly number[], opts: AdsBootstrapOptions = {}): string {
  const ports = typeof xdsPort === "number" ? [xdsPort] : xdsPort;
  const endpoints = ports.map((p) => `{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } } }`).join(", ");
  const fetch = opts.initialFetchTimeout === undefined ? "" : `, initial_fetch_timeout: ${opts.initialFetchTimeout}`;
  return `
node: { id: ${opts.nodeId ?? "frontend-1"}, cluster: ${opts.nodeCluster ?? "frontend"} }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
dynamic_resources:
  ads_config:
    api_type: ${opts.delta === true ? "DELTA_GRPC" : "GRPC"}
    transport_api_version: V3
    grpc_services: [ { envoy_grpc: { cluster_name: xds } } ]
  lds_config: { ads: {}${fetch} }
  cds_config: { ads: {}${fetch} }
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds
      endpoints: [ { lb_endpoints: [ ${endpoints} ] } ]
`;
}

/** The usual test mesh: upstream "echo" (gRPC) on `ports`, route "echo-route" for every host, listener "echo". */
export interface EchoMeshOptions {
  /** Backend ports on 127.0.0.1. */
  readonly ports: readonly number[];
  /** The listener's port (default 15001). */
  readonly listenerPort?: number;
  /** More keys of the upstream, each line indented four spaces (e.g. `    retries: 1`). */
  readonly upstream?: readonly string[];
  /** More rules before the catch-all, each line indented six spaces. */
  readonly rules?: readonly string[];
  /** `nodes: {cluster}` of the listener; absent means every node. */
  readonly listenerNodeCluster?: string;
}

export function echoMeshYaml(o: EchoMeshOptions): string {
  return [
    "upstreams:",
    "  - name: echo",
    "    protocol: grpc",
    "    nodes:",
    ...o.ports.map((p) => `      - address: 127.0.0.1:${p}`),
    ...(o.upstream ?? []),
    "routes:",
    "  - name: echo-route",
    '    hosts: ["*"]',
    "    rules:",
    ...(o.rules ?? []),
    "      - match: { prefix: / }",
    "        upstream: echo",
    "listeners:",
    "  - name: echo",
    `    address: 127.0.0.1:${o.listenerPort ?? 15001}`,
    "    route: echo-route",
    ...(o.listenerNodeCluster === undefined ? [] : [`    nodes: { cluster: ${o.listenerNodeCluster} }`]),
    "",
  ].join("\n");
}
