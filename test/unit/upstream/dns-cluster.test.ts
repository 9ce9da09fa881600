/**
 * DNS host discovery with a fake resolver and a manual clock: refresh timing (rate, TTL, failure
 * backoff), host sets following answers while staying hosts keep their identity, LOGICAL_DNS moving
 * its one host, and stop() leaving no timer behind.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeCluster } from "../../../src/config/decode/cluster.js";
import { Errors } from "../../../src/config/decode/field-errors.js";
import { Cluster as PbCluster, Cluster_DiscoveryType as T } from "../../../src/gen/envoy/config/cluster/v3/cluster.js";
import { StatsStore } from "../../../src/stats/stats-store.js";
import { Cluster } from "../../../src/upstream/cluster.js";
import type { DnsAnswer, DnsResolver } from "../../../src/upstream/dns-resolver.js";
import { HealthFlag } from "../../../src/upstream/host.js";
import { fixedRandom, ManualClock } from "../outlier/manual-clock.js";

/** Answers per name, changed by the test; an Error answer rejects. Records when each name was asked. */
class FakeResolver implements DnsResolver {
  readonly answers = new Map<string, DnsAnswer | Error>();
  readonly asked: { name: string; at: number }[] = [];
  cancelled = false;
  constructor(private readonly clock: ManualClock) {}
  resolve(name: string): Promise<DnsAnswer> {
    this.asked.push({ name, at: this.clock.now() });
    const a = this.answers.get(name) ?? new Error("ESERVFAIL");
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  }
  cancel(): void {
    this.cancelled = true;
  }
  times(name: string): number[] {
    return this.asked.filter((q) => q.name === name).map((q) => q.at);
  }
}

const ep = (host: string, port: number) => ({
  endpoint: { address: { address: { $case: "socketAddress" as const, value: { address: host, portSpecifier: { $case: "portValue" as const, value: port } } } } },
});

/** A cluster over a fake resolver; `initial` answers the queries its constructor starts. */
function setup(initial: Record<string, DnsAnswer | Error>, opts: { type?: T; names?: string[]; pb?: Partial<PbCluster> } = {}) {
  const errors = new Errors();
  const config = decodeCluster(
    PbCluster.fromPartial({
      name: "d",
      type: opts.type ?? T.STRICT_DNS,
      loadAssignment: { clusterName: "d", endpoints: [{ lbEndpoints: (opts.names ?? ["svc.test"]).map((n) => ep(n, 8080)) }] },
      ...opts.pb,
    }),
    "d",
    errors,
  );
  assert.deepEqual(errors.list, []);
  const clock = new ManualClock();
  const resolver = new FakeResolver(clock);
  for (const [name, a] of Object.entries(initial)) resolver.answers.set(name, a);
  const store = new StatsStore();
  const c = new Cluster(config, store, fixedRandom([], 1), clock, () => resolver);
  const counter = (n: string) => store.counter(`cluster.d.${n}`).value;
  return { c, clock, resolver, counter };
}

/** Lets resolved promises deliver their answers. */
const settle = () => new Promise<void>((r) => setImmediate(r));
const keys = (c: Cluster) => c.hosts.map((h) => h.key).sort();
const answer = (addresses: string[], ttlSeconds = 0): DnsAnswer => ({ addresses, ttlSeconds });

void describe("STRICT_DNS discovery", () => {
  void test("each address is a host with the endpoint's port; the set follows answers; staying hosts keep identity", async () => {
    const { c, clock, resolver, counter } = setup({ "svc.test": answer(["10.0.0.1", "10.0.0.2"]) });
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.1:8080", "10.0.0.2:8080"]);
    assert.equal(c.hosts[0].hostname, "svc.test");
    const stay = c.hosts.find((h) => h.key === "10.0.0.2:8080")!;
    stay.stats.rqTotal = 7;

    resolver.answers.set("svc.test", answer(["10.0.0.2", "10.0.0.3"]));
    clock.advance(4999);
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.1:8080", "10.0.0.2:8080"], "no refresh before dns_refresh_rate");
    clock.advance(1);
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.2:8080", "10.0.0.3:8080"]);
    assert.equal(c.hosts.find((h) => h.key === "10.0.0.2:8080"), stay, "the staying host is the same object");
    assert.equal(stay.stats.rqTotal, 7);
    assert.deepEqual(resolver.times("svc.test"), [0, 5000]);

    clock.advance(5000);
    await settle();
    assert.equal(counter("update_attempt"), 3);
    assert.equal(counter("update_success"), 3);
    assert.equal(counter("update_no_rebuild"), 1, "an unchanged answer does not rebuild");
    c.close();
  });

  void test("a staying host keeps its health flags (an outlier ejection survives a new answer)", async () => {
    const { c, clock, resolver } = setup({ "svc.test": answer(["10.0.0.1", "10.0.0.2"]) }, { pb: { outlierDetection: { splitExternalLocalOriginErrors: false } } });
    await settle();
    const ejected = c.hosts.find((h) => h.key === "10.0.0.1:8080")!;
    ejected.healthFlags |= HealthFlag.FAILED_OUTLIER_CHECK;
    c.rebuildPicker();
    resolver.answers.set("svc.test", answer(["10.0.0.1", "10.0.0.3"]));
    clock.advance(5000);
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.1:8080", "10.0.0.3:8080"]);
    assert.equal(c.hosts.find((h) => h.key === "10.0.0.1:8080"), ejected);
    assert.equal(ejected.available, false, "still ejected");
    for (let i = 0; i < 10; i++) assert.equal(c.pick(undefined)?.key, "10.0.0.3:8080");
    c.close();
  });

  void test("initialized once every name was resolved once, answered or failed", async () => {
    const { c } = setup({ "a.test": answer(["10.0.0.1"]), "b.test": new Error("ETIMEOUT") }, { names: ["a.test", "b.test"] });
    assert.equal(c.dns?.initialized, false);
    await settle();
    assert.equal(c.dns?.initialized, true);
    c.close();
  });

  void test("respect_dns_ttl refreshes after the smallest TTL; a TTL of 0 falls back to the refresh rate", async () => {
    const { c, clock, resolver } = setup({ "svc.test": answer(["10.0.0.1"], 30) }, { pb: { respectDnsTtl: true } });
    await settle();
    clock.advance(29_999);
    await settle();
    assert.deepEqual(resolver.times("svc.test"), [0]);
    resolver.answers.set("svc.test", answer(["10.0.0.1"], 0));
    clock.advance(1);
    await settle();
    clock.advance(5000);
    await settle();
    assert.deepEqual(resolver.times("svc.test"), [0, 30_000, 35_000]);
    c.close();
  });

  void test("without respect_dns_ttl the TTL is ignored", async () => {
    const { c, clock, resolver } = setup({ "svc.test": answer(["10.0.0.1"], 300) });
    await settle();
    clock.advance(5000);
    await settle();
    assert.deepEqual(resolver.times("svc.test"), [0, 5000]);
    c.close();
  });

  void test("a failure keeps the last answer and retries at the refresh rate by default", async () => {
    const { c, clock, resolver, counter } = setup({ "svc.test": answer(["10.0.0.1"]) });
    await settle();
    resolver.answers.set("svc.test", new Error("ETIMEOUT"));
    clock.advance(5000);
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.1:8080"]);
    assert.equal(counter("update_failure"), 1);
    assert.equal(c.dns?.lastErrors.get("svc.test"), "ETIMEOUT");
    clock.advance(5000);
    await settle();
    assert.deepEqual(resolver.times("svc.test"), [0, 5000, 10_000]);
    c.close();
  });

  void test("dns_failure_refresh_rate backs off exponentially up to max_interval and resets on success", async () => {
    // random 1 → each delay is its ceiling: base·2^n capped at max.
    const { c, clock, resolver } = setup(
      { "svc.test": new Error("ETIMEOUT") },
      { pb: { dnsFailureRefreshRate: { baseInterval: { seconds: 1n, nanos: 0 }, maxInterval: { seconds: 4n, nanos: 0 } } } },
    );
    for (const ms of [1000, 2000, 4000, 4000]) {
      await settle();
      clock.advance(ms);
    }
    await settle();
    assert.deepEqual(resolver.times("svc.test"), [0, 1000, 3000, 7000, 11_000]);
    resolver.answers.set("svc.test", answer(["10.0.0.1"]));
    clock.advance(4000);
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.1:8080"]);
    resolver.answers.set("svc.test", new Error("ECONNREFUSED"));
    clock.advance(5000);
    await settle();
    clock.advance(1000);
    await settle();
    assert.deepEqual(resolver.times("svc.test").slice(5), [15_000, 20_000, 21_000], "after a success the backoff starts over");
    assert.deepEqual(keys(c), ["10.0.0.1:8080"], "failures keep the hosts");
    c.close();
  });

  void test("an empty answer (NXDOMAIN) removes the target's hosts; each target refreshes on its own", async () => {
    const { c, clock, resolver } = setup(
      { "a.test": answer(["10.0.0.1", "10.0.0.9"]), "b.test": answer(["10.0.0.2", "10.0.0.9"]) },
      { names: ["a.test", "b.test"] },
    );
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.9:8080"], "a shared address is one host");
    resolver.answers.set("a.test", answer([]));
    clock.advance(5000);
    await settle();
    assert.deepEqual(keys(c), ["10.0.0.2:8080", "10.0.0.9:8080"]);
    c.close();
  });

  void test("close() stops every timer and cancels queries", async () => {
    const { c, clock, resolver } = setup({ "a.test": answer(["10.0.0.1"]) }, { names: ["a.test", "b.test"] });
    await settle();
    assert.equal(clock.pending, 2);
    c.close();
    assert.equal(clock.pending, 0);
    assert.equal(resolver.cancelled, true);
    clock.advance(60_000);
    await settle();
    assert.equal(resolver.asked.length, 2);
  });
});

void describe("LOGICAL_DNS discovery", () => {
  void test("one host keyed by name; its address follows the first IP of each answer; empty answers keep it", async () => {
    const { c, clock, resolver } = setup({ "api.test": answer(["10.0.0.1", "10.0.0.2"]) }, { type: T.LOGICAL_DNS, names: ["api.test"] });
    assert.equal(c.hosts.length, 0, "no host before the first answer");
    await settle();
    assert.deepEqual(keys(c), ["api.test:8080"]);
    const host = c.hosts[0];
    assert.deepEqual(host.address, { address: "10.0.0.1", port: 8080 });
    resolver.answers.set("api.test", answer(["10.0.0.3"]));
    clock.advance(5000);
    await settle();
    assert.equal(c.hosts[0], host);
    assert.deepEqual(host.address, { address: "10.0.0.3", port: 8080 });
    resolver.answers.set("api.test", answer([]));
    clock.advance(5000);
    await settle();
    assert.equal(c.hosts[0], host);
    assert.deepEqual(host.address, { address: "10.0.0.3", port: 8080 });
    c.close();
  });
});
