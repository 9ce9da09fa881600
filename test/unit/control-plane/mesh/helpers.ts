/** Shared fixtures for the mesh tests: a minimal valid mesh to mutate, and fixture paths. */
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A parsed mesh document (plain JSON values), as YAML would give it. */
export type Doc = Record<string, unknown>;

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../fixtures/mesh");

/** A small valid mesh: one upstream with two nodes, one route, one listener. Fresh on every call. */
export function baseMesh(): Doc {
  return {
    upstreams: [
      {
        name: "echo",
        nodes: [{ address: "127.0.0.1:50051" }, { address: "127.0.0.1:50052" }],
      },
    ],
    routes: [{ name: "echo-route", hosts: ["echo"], rules: [{ match: { prefix: "/" }, upstream: "echo" }] }],
    listeners: [{ name: "echo", address: "127.0.0.1:15001", route: "echo-route" }],
  };
}

/** Typed accessors into baseMesh() documents for mutation. */
export function parts(doc: Doc): { upstream: Doc; node0: Doc; route: Doc; rule: Doc; listener: Doc } {
  const upstream = (doc.upstreams as Doc[])[0];
  const route = (doc.routes as Doc[])[0];
  return {
    upstream,
    node0: (upstream.nodes as Doc[])[0],
    route,
    rule: (route.rules as Doc[])[0],
    listener: (doc.listeners as Doc[])[0],
  };
}
