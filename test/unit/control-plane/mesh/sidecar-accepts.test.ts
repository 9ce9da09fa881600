/**
 * The Pilotfish sidecar's own xDS decoders accept what the translator emits: a mesh.yaml that
 * validates must never produce a resource our sidecar NACKs.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeCluster } from "../../../../src/config/decode/cluster.js";
import { decodeClusterLoadAssignment } from "../../../../src/config/decode/endpoint.js";
import { Errors } from "../../../../src/config/decode/field-errors.js";
import { decodeListener } from "../../../../src/config/decode/listener.js";
import { decodeRouteConfiguration } from "../../../../src/config/decode/route.js";
import { Cluster } from "../../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../../../../src/gen/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../../../src/gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../../../src/gen/envoy/config/route/v3/route.js";
import { loadMeshFile } from "../../../../src/control-plane/mesh/mesh-source.js";
import { translateMesh } from "../../../../src/control-plane/mesh/translator.js";
import { FIXTURES } from "./helpers.js";

function list(errors: Errors): string {
  return errors.list.map((e) => `${e.path}: ${e.message}`).join("\n");
}

void describe("the sidecar accepts translated resources", () => {
  for (const fixture of ["example.yaml", "full.yaml"]) {
    void test(fixture, () => {
      const r = translateMesh(loadMeshFile(`${FIXTURES}/${fixture}`), { id: "n", cluster: "frontend", proxyless: false });
      const errors = new Errors();
      for (const c of r.clusters) decodeCluster(Cluster.decode(Cluster.encode(c).finish()), c.name, errors);
      for (const e of r.endpoints) {
        decodeClusterLoadAssignment(ClusterLoadAssignment.decode(ClusterLoadAssignment.encode(e).finish()), e.clusterName, errors);
      }
      for (const l of r.listeners) decodeListener(Listener.decode(Listener.encode(l).finish()), l.name, errors);
      for (const rc of r.routes) decodeRouteConfiguration(RouteConfiguration.decode(RouteConfiguration.encode(rc).finish()), rc.name, errors);
      assert.deepEqual(errors.list, [], list(errors));
    });
  }
});
