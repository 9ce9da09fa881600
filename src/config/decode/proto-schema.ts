/**
 * Runtime reflection over proto/: the bootstrap validator walks user JSON against these types, so the
 * file is checked against exactly the definitions ts-proto generated code from (no second schema).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** Entry files; their imports pull in the rest of proto/. Every message reachable as an Any is listed. */
const ENTRY_FILES = [
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto",
  "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto",
  "envoy/extensions/load_balancing_policies/random/v3/random.proto",
  "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto",
  "envoy/extensions/access_loggers/file/v3/file.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/filters/http/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto",
  "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto",
];

export const TYPE_URL_PREFIX = "type.googleapis.com/";

let cached: protobuf.Root | undefined;

/** Finds proto/ by walking up from this module: works from src/ (tsx) and from dist/ (built). */
function findProtoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "proto");
    if (existsSync(path.join(candidate, ENTRY_FILES[0]))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("pilotfish: cannot find the proto/ directory");
    dir = parent;
  }
}

/** The reflected schema, loaded once. Field names are kept as in the .proto files (snake_case). */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const protoDir = findProtoDir();
  const root = new protobuf.Root();
  // google/protobuf/* resolve to the well-known types protobufjs bundles; everything else to proto/.
  root.resolvePath = (_origin, target) =>
    target.startsWith("google/protobuf/") || path.isAbsolute(target) ? target : path.join(protoDir, target);
  root.loadSync(
    ENTRY_FILES.map((f) => path.join(protoDir, f)),
    { keepCase: true },
  );
  root.resolveAll();
  cached = root;
  return root;
}

/** Looks up a message type by full name (no leading dot) or type URL; undefined when we do not know it. */
export function lookupMessage(nameOrUrl: string): protobuf.Type | undefined {
  const name = nameOrUrl.startsWith(TYPE_URL_PREFIX) ? nameOrUrl.slice(TYPE_URL_PREFIX.length) : nameOrUrl;
  if (name.length === 0 || name.includes("/")) return undefined;
  const found = protoRoot().lookup(name);
  return found instanceof protobuf.Type ? found : undefined;
}

/** proto3 JSON name of a field: lowerCamelCase of the proto name. */
export function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}
