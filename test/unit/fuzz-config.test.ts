/**
 * Property-based fuzzing (fast-check, fixed seed, bounded runs) of every config boundary: the sidecar
 * bootstrap, mesh.yaml, and xDS resources as they arrive on the wire. Inputs are valid fixtures
 * mutated at random places with hostile values. Properties: nothing throws (a bad input is a
 * validation result, never an exception), and every error names a non-empty field path rooted in the
 * input (a top-level key the document has, or the document itself) and says what is wrong.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parse } from "yaml";
import type { FieldError } from "../../src/common/errors.js";
import { decodeBootstrap } from "../../src/config/load-bootstrap.js";
import { validateMesh } from "../../src/control-plane/mesh/mesh-source.js";
import { translateMesh } from "../../src/control-plane/mesh/translator.js";
import { Cluster } from "../../src/gen/envoy/config/cluster/v3/cluster.js";
import { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint.js";
import { Listener } from "../../src/gen/envoy/config/listener/v3/listener.js";
import { RouteConfiguration } from "../../src/gen/envoy/config/route/v3/route.js";
import { decodeResource } from "../../src/xds/resource-types.js";
import { TypeUrl } from "../../src/xds/type-urls.js";
import { FUZZ_PARAMS, mutate, mutationArb, rootSegment } from "./fuzz-mutate.js";

const fixture = (p: string): unknown => parse(readFileSync(new URL(`../fixtures/${p}`, import.meta.url), "utf8"));

/** Asserts the shape every reported error must have. */
function checkErrors(errors: readonly FieldError[], doc: unknown, roots: readonly string[], label: string): void {
  assert.ok(errors.length > 0, `${label}: a failed decode must report at least one error`);
  const keys = doc !== null && typeof doc === "object" && !Array.isArray(doc) ? Object.keys(doc) : [];
  for (const e of errors) {
    assert.equal(typeof e.path, "string", `${label}: path not a string: ${JSON.stringify(e)}`);
    assert.ok(e.path.length > 0, `${label}: empty path: ${JSON.stringify(e)}`);
    assert.ok(typeof e.message === "string" && e.message.length > 0, `${label}: empty message: ${JSON.stringify(e)}`);
    const root = rootSegment(e.path);
    assert.ok(keys.includes(root) || roots.some((r) => e.path.startsWith(r)), `${label}: path "${e.path}" is not rooted in the input (keys ${keys.join(", ")})`);
  }
}

void describe("config fuzzing", () => {
  for (const file of ["bootstrap/example.yaml", "bootstrap/envoy-realistic.yaml"]) {
    void test(`bootstrap ${file}: mutated documents decode or report field errors, never throw`, () => {
      const base = fixture(file);
      assert.equal(decodeBootstrap(base).ok, true, "the fixture itself is valid");
      let rejected = 0;
      fc.assert(
        fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (ms) => {
          const doc = mutate(base, ms);
          const r = decodeBootstrap(doc);
          if (!r.ok) {
            rejected++;
            checkErrors(r.errors, doc, ["(document)"], "bootstrap");
          }
        }),
        FUZZ_PARAMS,
      );
      // The mutations must mostly hit something the decoder checks, or the property proves little.
      assert.ok(rejected > FUZZ_PARAMS.numRuns / 3, `only ${rejected} of ${FUZZ_PARAMS.numRuns} mutated bootstraps were rejected`);
    });
  }

  for (const file of ["mesh/full.yaml", "mesh/example.yaml"]) {
    void test(`mesh ${file}: mutated documents validate or report field errors; valid ones translate`, () => {
      const base = fixture(file);
      assert.equal(validateMesh(base).ok, true, "the fixture itself is valid");
      let rejected = 0;
      fc.assert(
        fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.constantFrom("frontend", "backend", ""), (ms, cluster) => {
          const doc = mutate(base, ms);
          const r = validateMesh(doc);
          if (!r.ok) {
            rejected++;
            checkErrors(r.errors, doc, ["(root)"], "mesh");
            return;
          }
          // What validation lets through the translator must handle.
          translateMesh(r.mesh, { id: "n", cluster, proxyless: false });
        }),
        FUZZ_PARAMS,
      );
      assert.ok(rejected > FUZZ_PARAMS.numRuns / 3, `only ${rejected} of ${FUZZ_PARAMS.numRuns} mutated meshes were rejected`);
    });
  }

  void test("xDS resources: mutated wire bytes decode or NACK with field errors, never throw", () => {
    const m = validateMesh(fixture("mesh/full.yaml"));
    assert.ok(m.ok);
    const res = translateMesh(m.mesh, { id: "n", cluster: "frontend", proxyless: false });
    const samples: Array<{ type: TypeUrl; bytes: Uint8Array }> = [
      ...res.clusters.map((c) => ({ type: TypeUrl.CLUSTER, bytes: Cluster.encode(c).finish() })),
      ...res.endpoints.map((c) => ({ type: TypeUrl.ENDPOINT, bytes: ClusterLoadAssignment.encode(c).finish() })),
      ...res.listeners.map((c) => ({ type: TypeUrl.LISTENER, bytes: Listener.encode(c).finish() })),
      ...res.routes.map((c) => ({ type: TypeUrl.ROUTE, bytes: RouteConfiguration.encode(c).finish() })),
    ];
    assert.ok(samples.length >= 4, "the fixture yields every resource type");
    for (const s of samples) assert.equal(decodeResource(s.type, s.bytes, 0).ok, true, `fixture ${s.type} decodes`);
    const byteMutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
    );
    const XDS_RUNS = 1000;
    let nacked = 0;
    fc.assert(
      fc.property(fc.nat(), fc.array(byteMutation, { minLength: 1, maxLength: 4 }), (which, ms) => {
        const s = samples[which % samples.length];
        let b = Buffer.from(s.bytes);
        for (const m of ms) {
          const at = b.length === 0 ? 0 : m.at % b.length;
          if (m.kind === "flip" && b.length > 0) b[at] = b[at] ^ (1 << m.bit);
          else if (m.kind === "set" && b.length > 0) b[at] = m.value;
          else if (m.kind === "truncate") b = b.subarray(0, at);
          else if (m.kind === "insert") b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        }
        const r = decodeResource(s.type, b, 0);
        if (!r.ok) {
          nacked++;
          assert.ok(r.name.length > 0, "a NACKed resource is named");
          assert.ok(r.errors.length > 0, "a NACK carries errors");
          for (const e of r.errors) assert.ok(e.path.length > 0 && e.message.length > 0, `bad error ${JSON.stringify(e)}`);
        }
      }),
      { ...FUZZ_PARAMS, numRuns: XDS_RUNS },
    );
    assert.ok(nacked > XDS_RUNS / 10, `only ${nacked} of ${XDS_RUNS} mutated resources were NACKed`);
    console.log(`xDS fuzz: ${nacked} of ${XDS_RUNS} mutated resources NACKed`);
  });
});
