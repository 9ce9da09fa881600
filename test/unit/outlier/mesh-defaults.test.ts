/**
 * mesh.yaml's friendlier defaults reach the sidecar's model: outlier detection on with
 * always_eject_one_host, health checks and slow start as written.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeCluster } from "../../../src/config/decode/cluster.js";
import { Errors } from "../../../src/config/decode/field-errors.js";
import { loadMeshFile } from "../../../src/control-plane/mesh/mesh-source.js";
import { translateMesh } from "../../../src/control-plane/mesh/translator.js";
import { Cluster } from "../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { FIXTURES } from "../control-plane/mesh/helpers.js";

function decoded(fixture: string) {
  const r = translateMesh(loadMeshFile(`${FIXTURES}/${fixture}`), { id: "n", cluster: "frontend", proxyless: false });
  return r.clusters.map((c) => {
    const errors = new Errors();
    const cfg = decodeCluster(Cluster.decode(Cluster.encode(c).finish()), c.name, errors);
    assert.deepEqual(errors.list, []);
    return cfg;
  });
}

void describe("mesh.yaml defaults as the sidecar decodes them", () => {
  void test("example.yaml: outlier detection on, always_eject_one_host true, health check", () => {
    const clusters = decoded("example.yaml");
    assert.ok(clusters.length > 0);
    for (const c of clusters) {
      assert.equal(c.outlierDetection?.alwaysEjectOneHost, true, c.name);
      assert.ok(c.outlierDetection.maxEjectionTimeMs >= c.outlierDetection.baseEjectionTimeMs);
    }
    assert.ok(clusters.some((c) => c.healthChecks?.[0]?.checker.kind === "grpc"));
  });

  void test("full.yaml: explicit values win; slow start and disabled detection come through", () => {
    const clusters = decoded("full.yaml");
    const users = clusters.find((c) => c.name === "users")!;
    assert.equal(users.outlierDetection?.alwaysEjectOneHost, false);
    assert.equal(users.outlierDetection?.maxEjectionPercent, 34);
    assert.deepEqual(users.leastRequest.slowStart, { windowMs: 30_000, aggression: 2, minWeightPercent: 20 });
    assert.ok(clusters.some((c) => c.outlierDetection === undefined), "outlierDetection: {enabled: false}");
  });
});
