import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ErrorCode, PilotfishError } from "../../../src/common/errors.js";
import { buildSnapshot, checkConsistency, sameContent } from "../../../src/control-plane/snapshot.js";
import { SnapshotCache } from "../../../src/control-plane/snapshot-cache.js";
import type { NodeIdentity } from "../../../src/control-plane/xds-resources.js";
import { TypeUrl } from "../../../src/xds/type-urls.js";
import { buildResources } from "./fixtures.js";

const node: NodeIdentity = { id: "n1", cluster: "frontend", proxyless: false };

void describe("buildSnapshot", () => {
  void it("derives the same versions from the same content (replicas agree)", () => {
    const a = buildSnapshot(buildResources({ ports: [1, 2] }), 0);
    const b = buildSnapshot(buildResources({ ports: [1, 2] }), 5);
    for (const t of Object.values(TypeUrl)) assert.equal(a.types.get(t)!.version, b.types.get(t)!.version);
    assert.ok(sameContent(a, b));
    assert.match(a.types.get(TypeUrl.CLUSTER)!.version, /^[0-9a-f]{16}$/);
  });

  void it("changes only the version of the type whose content changed", () => {
    const a = buildSnapshot(buildResources({ ports: [1, 2] }), 0);
    const b = buildSnapshot(buildResources({ ports: [1, 3] }), 0);
    assert.notEqual(a.types.get(TypeUrl.ENDPOINT)!.version, b.types.get(TypeUrl.ENDPOINT)!.version);
    assert.equal(a.types.get(TypeUrl.CLUSTER)!.version, b.types.get(TypeUrl.CLUSTER)!.version);
    assert.equal(a.types.get(TypeUrl.LISTENER)!.version, b.types.get(TypeUrl.LISTENER)!.version);
    assert.equal(a.types.get(TypeUrl.ROUTE)!.version, b.types.get(TypeUrl.ROUTE)!.version);
    assert.ok(!sameContent(a, b));
  });

  void it("does not depend on the order resources are listed in", () => {
    const one = buildResources({ ports: [1], cluster: "a", listener: "la", route: "ra" });
    const two = buildResources({ ports: [2], cluster: "b", listener: "lb", route: "rb" });
    const merged = (x: typeof one, y: typeof one) => ({
      clusters: [...x.clusters, ...y.clusters],
      endpoints: [...x.endpoints, ...y.endpoints],
      listeners: [...x.listeners, ...y.listeners],
      routes: [...x.routes, ...y.routes],
    });
    assert.ok(sameContent(buildSnapshot(merged(one, two), 0), buildSnapshot(merged(two, one), 0)));
  });

  void it("encodes each resource as an Any of its type URL", () => {
    const s = buildSnapshot(buildResources({ ports: [1] }), 0);
    const e = s.types.get(TypeUrl.LISTENER)!.entries.get("echo")!;
    assert.equal(e.resource.typeUrl, TypeUrl.LISTENER);
    assert.ok(e.resource.value.length > 0);
  });

  void it("refuses a cluster without its ClusterLoadAssignment, naming it", () => {
    assert.throws(
      () => buildSnapshot(buildResources({ ports: [1], omitEndpoints: true }), 0),
      (err: unknown) =>
        PilotfishError.is(err, ErrorCode.SNAPSHOT_INCONSISTENT) &&
        err.details.some((d) => d.path === "clusters[0]" && d.message.includes('ClusterLoadAssignment "echo"')),
    );
  });

  void it("refuses a listener without its RouteConfiguration, naming it", () => {
    const errors = checkConsistency(buildResources({ ports: [1], omitRoute: true }));
    assert.deepEqual(errors.map((e) => e.path), ["listeners[0]"]);
    assert.match(errors[0].message, /RouteConfiguration "echo-route"/);
  });

  void it("refuses a route to a missing cluster and duplicate names", () => {
    const r = buildResources({ ports: [1] });
    const bad = { ...r, clusters: [], endpoints: [], listeners: [...r.listeners, ...r.listeners] };
    const err = (() => {
      try {
        buildSnapshot(bad, 0);
      } catch (e) {
        return e as PilotfishError;
      }
      return undefined;
    })();
    assert.ok(err !== undefined);
    assert.ok(err.details.some((d) => d.message.includes('references cluster "echo"')));
    assert.ok(err.details.some((d) => d.message.includes('duplicate resource name "echo"')));
  });
});

void describe("SnapshotCache", () => {
  void it("computes on watch and notifies only on a content change", () => {
    let ports = [1];
    const cache = new SnapshotCache(() => buildResources({ ports }));
    const seen: string[] = [];
    const w = cache.watch(node, (s) => seen.push(s.types.get(TypeUrl.ENDPOINT)!.version));
    assert.equal(w.snapshot.types.get(TypeUrl.ENDPOINT)!.entries.size, 1);
    assert.deepEqual(cache.refresh(), []);
    assert.equal(seen.length, 0, "same content: no notification");
    ports = [1, 2];
    cache.refresh();
    assert.equal(seen.length, 1);
    w.release();
    assert.equal(cache.groupCount(), 0);
  });

  void it("keeps the previous snapshot when the new one is inconsistent, and records why", () => {
    const cache = new SnapshotCache(() => buildResources({ ports: [1] }));
    let notified = 0;
    const w = cache.watch(node, () => notified++);
    const failures = cache.setGenerator(() => buildResources({ ports: [2], omitEndpoints: true }));
    assert.equal(failures.length, 1);
    assert.equal(notified, 0);
    assert.equal(cache.current(node), w.snapshot);
    assert.match(cache.lastFailure()!.message, /ClusterLoadAssignment "echo"/);
    cache.setGenerator(() => buildResources({ ports: [3] }));
    assert.equal(notified, 1);
    assert.equal(cache.lastFailure(), null);
  });

  void it("keeps the previous snapshot when the generator throws", () => {
    const cache = new SnapshotCache(() => buildResources({ ports: [1] }));
    const w = cache.watch(node, () => assert.fail("no notification expected"));
    cache.setGenerator(() => {
      throw new Error("translator exploded");
    });
    assert.equal(cache.current(node), w.snapshot);
    assert.equal(cache.lastFailure()!.message, "translator exploded");
  });

  void it("shares one computation per group", () => {
    let calls = 0;
    const cache = new SnapshotCache(
      () => {
        calls++;
        return buildResources({ ports: [1] });
      },
      { groupKey: (n) => n.cluster },
    );
    cache.watch({ id: "a", cluster: "c", proxyless: false }, () => undefined);
    cache.watch({ id: "b", cluster: "c", proxyless: false }, () => undefined);
    assert.equal(calls, 1);
    cache.refresh();
    assert.equal(calls, 2);
  });

  void it("serves an empty snapshot before any generator is set", () => {
    const cache = new SnapshotCache();
    const w = cache.watch(node, () => undefined);
    assert.equal(w.snapshot.types.get(TypeUrl.LISTENER)!.entries.size, 0);
  });
});
