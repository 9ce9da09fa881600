/**
 * The mesh dashboard on the discovery server's admin port: GET /ui serves the bundle that `npm run
 * build` writes to dist/ui (Vite, from ui/), and /ui/api/* the JSON it polls:
 *
 * - /ui/api/nodes: the open ADS streams (as /nodes) with each sidecar's admin address, from the
 *   `pilotfish.admin` key of its node.metadata.
 * - /ui/api/nodes/<id>/clusters: that sidecar's `/clusters?format=json`, fetched server-side, so the
 *   browser needs to reach only this port (sidecar admin ports are bound to loopback or a pod).
 * - /ui/api/config: /config plus the text of the mesh.yaml in force.
 *
 * The proxy only ever sends `GET /clusters?format=json` to an address a connected node announced,
 * with a short timeout and a size cap: no method, path or host comes from the browser.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { http } from "../common/node-http.js";
import type { IncomingMessage as HttpIncomingMessage, OutgoingHttpHeaders as HttpOutgoingHttpHeaders, ServerResponse as HttpServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { validateMeshText } from "./mesh/mesh-source.js";
import type { NodeRegistry, StreamRecord } from "./node-registry.js";

/** What the dashboard reads. */
export interface UiTarget {
  readonly registry: NodeRegistry;
  /** The /config document. */
  configView(): unknown;
}

/** The node.metadata key a sidecar puts its admin `host:port` in. */
export const ADMIN_METADATA_KEY = "pilotfish.admin";

/** dist/ui at the repository root, whether this module runs from src/ (tsx) or dist/ (built). */
export const UI_BUNDLE_DIR = fileURLToPath(new URL("../../dist/ui/", import.meta.url));

/** How long the proxy waits for a sidecar's /clusters. */
const SIDECAR_TIMEOUT_MS = 1500;
/** Largest /clusters answer relayed (a cluster of thousands of hosts is still far below). */
const SIDECAR_MAX_BYTES = 8 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".map": "application/json",
};

function send(res: HttpServerResponse, code: number, type: string, body: string | Buffer, extra: HttpOutgoingHttpHeaders = {}): void {
  res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(body), ...extra });
  res.end(body);
}

function sendJson(res: HttpServerResponse, code: number, body: unknown): void {
  send(res, code, "application/json", JSON.stringify(body) + "\n", { "cache-control": "no-store" });
}

/** A `host:port` (IPv4, name, or [IPv6]) or undefined when the value is anything else. */
export function parseAdminAddress(value: unknown): { host: string; port: number } | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  let host = m[1];
  // A wildcard bind is reachable on loopback from the same host; elsewhere the bootstrap should put a
  // reachable address in node.metadata itself.
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "[::]") host = "[::1]";
  return { host, port };
}

function adminOf(s: StreamRecord): string | null {
  const v = s.metadata[ADMIN_METADATA_KEY];
  return parseAdminAddress(v) !== undefined ? (v as string) : null;
}

function nodesView(registry: NodeRegistry): unknown {
  const json = registry.toJSON() as { nodes: Array<Record<string, unknown>> };
  const streams = registry.list();
  return {
    nodes: json.nodes.map((n, i) => ({ ...n, admin: streams[i] !== undefined ? adminOf(streams[i]) : null })),
  };
}

/** GET http://host:port/clusters?format=json, bounded in time and size. */
function fetchClusters(addr: { host: string; port: number }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: addr.host.replace(/^\[|\]$/g, ""), port: addr.port, path: "/clusters?format=json", timeout: SIDECAR_TIMEOUT_MS, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > SIDECAR_MAX_BYTES) {
            req.destroy(new Error(`answer larger than ${SIDECAR_MAX_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer in ${SIDECAR_TIMEOUT_MS} ms`)));
    req.on("error", reject);
  });
}

async function proxyClusters(registry: NodeRegistry, nodeId: string, res: HttpServerResponse): Promise<void> {
  // The newest stream of that node id that announced an admin address (a restart may overlap the old one).
  const stream = registry
    .list()
    .filter((s) => s.node.id === nodeId && adminOf(s) !== null)
    .at(-1);
  if (stream === undefined) {
    const known = registry.list().some((s) => s.node.id === nodeId);
    sendJson(res, 404, { error: known ? `node ${nodeId} announced no admin address (node.metadata "${ADMIN_METADATA_KEY}")` : `no connected node ${nodeId}` });
    return;
  }
  const admin = adminOf(stream)!;
  try {
    const out = await fetchClusters(parseAdminAddress(admin)!);
    if (out.status !== 200) {
      sendJson(res, 502, { error: `${admin}/clusters answered ${out.status}`, admin });
      return;
    }
    const parsed: unknown = JSON.parse(out.body);
    sendJson(res, 200, { admin, fetched_at: new Date().toISOString(), clusters: parsed });
  } catch (err) {
    sendJson(res, 502, { error: `${admin}/clusters: ${(err as Error).message}`, admin });
  }
}

/** Per discovery server, the text of mesh.yaml that produced the mesh in force (see meshText). */
const meshTextCache = new WeakMap<UiTarget, { loadedAt: unknown; text: string }>();

/**
 * The mesh.yaml text in force: the file, when it still validates to exactly the mesh in force (it
 * may already hold a rejected edit), read once per load; otherwise the validated mesh as YAML.
 */
async function meshText(target: UiTarget, view: Record<string, unknown>): Promise<{ text: string; source: "file" | "validated model" } | null> {
  const mesh = view.mesh;
  if (mesh === null || mesh === undefined) return null;
  const cached = meshTextCache.get(target);
  if (cached !== undefined && cached.loadedAt === view.loaded_at) return { text: cached.text, source: "file" };
  const file = view.mesh_file;
  if (typeof file === "string") {
    try {
      const text = await readFile(file, "utf8");
      const v = validateMeshText(text, file);
      if (v.ok && JSON.stringify(v.mesh) === JSON.stringify(mesh)) {
        meshTextCache.set(target, { loadedAt: view.loaded_at, text });
        return { text, source: "file" };
      }
    } catch {
      // unreadable now: fall back to the model
    }
  }
  return { text: stringify(mesh), source: "validated model" };
}

async function configWithYaml(target: UiTarget): Promise<unknown> {
  const view = target.configView() as Record<string, unknown>;
  const text = await meshText(target, view);
  return { ...view, mesh_yaml: text?.text ?? null, mesh_yaml_source: text?.source ?? null };
}

async function serveStatic(path: string, res: HttpServerResponse, head: boolean): Promise<void> {
  const index = join(UI_BUNDLE_DIR, "index.html");
  if (!existsSync(index)) {
    send(res, 503, "text/plain; charset=utf-8", `dashboard not built: ${index} is missing (run npm run build)\n`);
    return;
  }
  const rel = path.replace(/^\/ui\/?/, "");
  let file = rel === "" ? index : normalize(join(UI_BUNDLE_DIR, decodeURIComponent(rel)));
  if (!file.startsWith(UI_BUNDLE_DIR.endsWith(sep) ? UI_BUNDLE_DIR : UI_BUNDLE_DIR + sep)) {
    send(res, 404, "text/plain; charset=utf-8", "not found\n");
    return;
  }
  // Unknown paths without an extension get the page (client-side paths); missing assets are 404.
  if (!existsSync(file)) {
    if (extname(file) !== "") {
      send(res, 404, "text/plain; charset=utf-8", "not found\n");
      return;
    }
    file = index;
  }
  const body = await readFile(file);
  const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
  // Vite names assets by content hash: they can be cached for good; the page itself cannot.
  const cache = file.includes(`${sep}assets${sep}`) ? "public, max-age=31536000, immutable" : "no-cache";
  res.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": cache });
  res.end(head ? undefined : body);
}

/** True when `path` belongs to the dashboard (/ui, /ui/...). */
export function isUiPath(path: string): boolean {
  return path === "/ui" || path.startsWith("/ui/");
}

/** Answers a GET/HEAD under /ui. */
export async function handleUi(target: UiTarget, req: HttpIncomingMessage, res: HttpServerResponse, path: string): Promise<void> {
  if (path === "/ui") {
    // Relative asset URLs in the page resolve against /ui/.
    res.writeHead(308, { location: "/ui/", "content-length": 0 });
    res.end();
    return;
  }
  if (path === "/ui/api/nodes") return sendJson(res, 200, nodesView(target.registry));
  if (path === "/ui/api/config") return sendJson(res, 200, await configWithYaml(target));
  const m = /^\/ui\/api\/nodes\/([^/]+)\/clusters$/.exec(path);
  if (m !== null) {
    let id: string;
    try {
      id = decodeURIComponent(m[1]);
    } catch {
      return sendJson(res, 400, { error: "bad node id" });
    }
    return proxyClusters(target.registry, id, res);
  }
  if (path.startsWith("/ui/api/")) return sendJson(res, 404, { error: `no dashboard endpoint ${path}` });
  return serveStatic(path, res, req.method === "HEAD");
}
