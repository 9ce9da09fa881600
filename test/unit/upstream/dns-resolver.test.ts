/** dns_lookup_family on top of per-family queries (Envoy's AUTO / V4_PREFERRED fallbacks, ALL's union). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DnsLookupFamily } from "../../../src/config/model.js";
import { type DnsAnswer, parseResolvConf, resolveFamily, searchCandidates } from "../../../src/upstream/dns-resolver.js";

const V4: DnsAnswer = { addresses: ["10.0.0.1"], ttlSeconds: 30 };
const V6: DnsAnswer = { addresses: ["fd00::1"], ttlSeconds: 10 };
const NONE: DnsAnswer = { addresses: [], ttlSeconds: 0 };
const FAIL = new Error("ETIMEOUT");

/** Resolves with `family` when v4 / v6 queries answer as given. */
function run(family: DnsLookupFamily, v4: DnsAnswer | Error, v6: DnsAnswer | Error, name = "svc.test") {
  const asked: string[] = [];
  const p = resolveFamily(name, family, (_n, isV6) => {
    asked.push(isV6 ? "v6" : "v4");
    const a = isV6 ? v6 : v4;
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  });
  return { p, asked };
}

void describe("resolveFamily", () => {
  void test("V4_ONLY and V6_ONLY ask one family", async () => {
    const a = run("V4_ONLY", V4, V6);
    assert.deepEqual(await a.p, V4);
    assert.deepEqual(a.asked, ["v4"]);
    const b = run("V6_ONLY", V4, V6);
    assert.deepEqual(await b.p, V6);
    assert.deepEqual(b.asked, ["v6"]);
  });

  void test("AUTO prefers IPv6 and falls back to IPv4 when IPv6 is empty or fails", async () => {
    assert.deepEqual(await run("AUTO", V4, V6).p, V6);
    assert.deepEqual(await run("AUTO", V4, NONE).p, V4);
    assert.deepEqual(await run("AUTO", V4, FAIL).p, V4);
    assert.deepEqual(await run("AUTO", NONE, NONE).p, NONE);
  });

  void test("V4_PREFERRED is AUTO the other way round", async () => {
    const r = run("V4_PREFERRED", V4, V6);
    assert.deepEqual(await r.p, V4);
    assert.deepEqual(r.asked, ["v4"]);
    assert.deepEqual(await run("V4_PREFERRED", NONE, V6).p, V6);
  });

  void test("a failure with an empty fallback is a failure (the last answer stays), not an empty host set", async () => {
    await assert.rejects(run("AUTO", NONE, FAIL).p, /ETIMEOUT/);
    await assert.rejects(run("AUTO", FAIL, FAIL).p, /ETIMEOUT/);
  });

  void test("ALL takes both families with the smaller TTL, and succeeds when one family does", async () => {
    assert.deepEqual(await run("ALL", V4, V6).p, { addresses: ["10.0.0.1", "fd00::1"], ttlSeconds: 10 });
    assert.deepEqual(await run("ALL", FAIL, V6).p, V6);
    await assert.rejects(run("ALL", FAIL, FAIL).p, /ETIMEOUT/);
  });

  void test("an IP literal resolves to itself without a query", async () => {
    const r = run("AUTO", FAIL, FAIL, "127.0.0.2");
    assert.deepEqual(await r.p, { addresses: ["127.0.0.2"], ttlSeconds: 0 });
    assert.deepEqual(r.asked, []);
  });
});

void describe("search domains (resolv.conf)", () => {
  void test("parses search/domain and ndots; the last search line wins", () => {
    const conf = "nameserver 10.96.0.10\nsearch a.svc.cluster.local svc.cluster.local cluster.local # k8s\noptions ndots:5 timeout:2\n";
    assert.deepEqual(parseResolvConf(conf), { domains: ["a.svc.cluster.local", "svc.cluster.local", "cluster.local"], ndots: 5 });
    assert.deepEqual(parseResolvConf("domain x.test\nsearch y.test\n"), { domains: ["y.test"], ndots: 1 });
    assert.deepEqual(parseResolvConf("search .\n"), { domains: [], ndots: 1 });
  });

  void test("names with fewer than ndots dots try the search domains first; absolute names never", () => {
    const k8s = { domains: ["ns.svc.cluster.local", "svc.cluster.local"], ndots: 5 };
    assert.deepEqual(searchCandidates("payments", k8s), ["payments.ns.svc.cluster.local", "payments.svc.cluster.local", "payments"]);
    assert.deepEqual(searchCandidates("payments.ns.svc.cluster.local.", k8s), ["payments.ns.svc.cluster.local"]);
    assert.deepEqual(searchCandidates("a.b", { domains: ["x"], ndots: 1 }), ["a.b", "a.b.x"]);
  });
});
