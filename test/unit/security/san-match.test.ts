/** SAN matching as Envoy's default validator: any matcher, any SAN of its type; DNS wildcards one label deep. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SanMatcherConfig } from "../../../src/config/model.js";
import { compileSanCheck, parseSans } from "../../../src/security/san-match.js";

const m = (sanType: SanMatcherConfig["sanType"], kind: SanMatcherConfig["kind"], value: string, ignoreCase = false): SanMatcherConfig => ({
  sanType,
  kind,
  value,
  ignoreCase,
});
const SANS = parseSans("DNS:*.svc.example, URI:spiffe://cluster.local/ns/default/sa/a, IP Address:10.0.0.1, email:ops@example.com");

void describe("SAN matching", () => {
  void it("parses node's subjectaltname by type", () => {
    assert.deepEqual(SANS, {
      dns: ["*.svc.example"],
      uri: ["spiffe://cluster.local/ns/default/sa/a"],
      ip: ["10.0.0.1"],
      email: ["ops@example.com"],
    });
  });
  const cases: Array<[string, SanMatcherConfig[], boolean]> = [
    ["no matchers accept anything", [], true],
    ["URI exact", [m("URI", "exact", "spiffe://cluster.local/ns/default/sa/a")], true],
    ["URI exact other workload", [m("URI", "exact", "spiffe://cluster.local/ns/default/sa/b")], false],
    ["URI value is not tried as DNS", [m("DNS", "exact", "spiffe://cluster.local/ns/default/sa/a")], false],
    ["URI prefix (trust domain)", [m("URI", "prefix", "spiffe://cluster.local/")], true],
    ["URI suffix", [m("URI", "suffix", "/sa/a")], true],
    ["URI contains", [m("URI", "contains", "/ns/default/")], true],
    ["URI regex matches whole", [m("URI", "regex", "spiffe://cluster\\.local/ns/[a-z]+/sa/a")], true],
    ["URI regex is anchored", [m("URI", "regex", "cluster\\.local")], false],
    ["ignore_case", [m("URI", "exact", "SPIFFE://CLUSTER.LOCAL/ns/default/sa/a", true)], true],
    ["case matters by default", [m("URI", "exact", "SPIFFE://CLUSTER.LOCAL/ns/default/sa/a")], false],
    ["DNS exact covered by a wildcard SAN", [m("DNS", "exact", "api.svc.example")], true],
    ["wildcard covers one label only", [m("DNS", "exact", "a.b.svc.example")], false],
    ["IP", [m("IP_ADDRESS", "exact", "10.0.0.1")], true],
    ["email", [m("EMAIL", "suffix", "@example.com")], true],
    ["deprecated untyped matcher tries every type", [m("ANY", "exact", "10.0.0.1")], true],
    ["any one of several", [m("URI", "exact", "spiffe://x"), m("URI", "prefix", "spiffe://cluster.local/")], true],
  ];
  for (const [name, matchers, want] of cases) {
    void it(name, () => assert.equal(compileSanCheck(matchers)(SANS), want));
  }
});
