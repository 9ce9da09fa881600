/** RBAC evaluation tables: permissions, principals, combinators, ALLOW vs DENY, first match by name. */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import type { HeaderMatcherConfig } from "../../../src/config/model.js";
import type { RbacPermission, RbacPrincipal, RbacRulesConfig } from "../../../src/config/policy-model.js";
import { RbacEngine } from "../../../src/filters/rbac/rbac-engine.js";
import type { FilterRequest } from "../../../src/filters/http-filter.js";

function req(path: string, headers: Record<string, string> = {}, remote = "127.0.0.1", localPort = 15001): FilterRequest {
  return {
    requestHeaders: { ":path": path, ":method": "POST", ...headers },
    isGrpc: true,
    downstreamSocket: { remoteAddress: remote, localAddress: "127.0.0.1", localPort } as Socket,
  };
}

const exact = (name: string, value: string): HeaderMatcherConfig => ({ name, kind: "exact", value, present: true, invert: false });
const ANY_ID: RbacPrincipal = { kind: "any" };
const ANY_PERM: RbacPermission = { kind: "any" };
const method = (m: string): RbacPermission => ({ kind: "url_path", path: { kind: "exact", value: m, ignoreCase: false } });
const cidr = (addressPrefix: string, prefixLen: number): RbacPrincipal => ({
  kind: "remote_ip",
  cidr: { addressPrefix, prefixLen, family: addressPrefix.includes(":") ? "ipv6" : "ipv4" },
});

function allowOne(permission: RbacPermission, principal: RbacPrincipal = ANY_ID): RbacEngine {
  return new RbacEngine({ action: "ALLOW", policies: [{ name: "p", permissions: [permission], principals: [principal] }] });
}

void describe("RBAC permissions", () => {
  const table: [string, RbacPermission, FilterRequest, boolean][] = [
    ["url_path exact = gRPC method", method("/pkg.Svc/Get"), req("/pkg.Svc/Get"), true],
    ["url_path ignores the query", method("/a"), req("/a?x=1"), true],
    ["url_path other method", method("/pkg.Svc/Get"), req("/pkg.Svc/Put"), false],
    ["url_path prefix = gRPC service", { kind: "url_path", path: { kind: "prefix", value: "/pkg.Svc/", ignoreCase: false } }, req("/pkg.Svc/Put"), true],
    ["url_path ignore_case", { kind: "url_path", path: { kind: "exact", value: "/A", ignoreCase: true } }, req("/a"), true],
    ["url_path regex is anchored", { kind: "url_path", path: { kind: "regex", value: "/pkg\\..*/Get", ignoreCase: false } }, req("/pkg.Svc/GetX"), false],
    ["header exact", { kind: "header", header: exact("x-role", "admin") }, req("/", { "x-role": "admin" }), true],
    ["header absent", { kind: "header", header: exact("x-role", "admin") }, req("/"), false],
    ["header :method", { kind: "header", header: exact(":method", "POST") }, req("/"), true],
    ["destination_port", { kind: "destination_port", port: 15001 }, req("/"), true],
    ["destination_port other", { kind: "destination_port", port: 80 }, req("/"), false],
    ["destination_port_range is [start, end)", { kind: "destination_port_range", start: 15000, end: 15001 }, req("/"), false],
    ["and: all", { kind: "and", rules: [method("/a"), { kind: "header", header: exact("x", "1") }] }, req("/a", { x: "1" }), true],
    ["and: one fails", { kind: "and", rules: [method("/a"), { kind: "header", header: exact("x", "1") }] }, req("/a"), false],
    ["or: one", { kind: "or", rules: [method("/a"), method("/b")] }, req("/b"), true],
    ["not", { kind: "not", rule: method("/a") }, req("/a"), false],
    ["not of a miss", { kind: "not", rule: method("/a") }, req("/b"), true],
    ["requested_server_name on cleartext is empty", { kind: "requested_server_name", name: { kind: "exact", value: "", ignoreCase: false } }, req("/"), true],
  ];
  for (const [name, perm, r, want] of table) {
    void test(name, () => assert.equal(allowOne(perm).allows(r), want));
  }
});

void describe("RBAC principals", () => {
  const table: [string, RbacPrincipal, FilterRequest, boolean][] = [
    ["remote_ip in /8", cidr("127.0.0.0", 8), req("/"), true],
    ["remote_ip outside", cidr("10.0.0.0", 8), req("/"), false],
    ["remote_ip /32", cidr("127.0.0.1", 32), req("/"), true],
    ["remote_ip /0 matches every IPv4", cidr("0.0.0.0", 0), req("/", {}, "192.168.1.9"), true],
    ["IPv4 range matches a v4-mapped IPv6 peer", cidr("127.0.0.0", 8), req("/", {}, "::ffff:127.0.0.5"), true],
    ["IPv6 range", cidr("fd00::", 8), req("/", {}, "fd12::1"), true],
    ["IPv6 range vs IPv4 peer", cidr("fd00::", 8), req("/"), false],
    ["authenticated needs TLS", { kind: "authenticated", name: undefined }, req("/"), false],
    ["header", { kind: "header", header: exact("x-user", "bob") }, req("/", { "x-user": "bob" }), true],
    ["and_ids", { kind: "and", ids: [cidr("127.0.0.0", 8), { kind: "header", header: exact("x-user", "bob") }] }, req("/"), false],
    ["or_ids", { kind: "or", ids: [cidr("10.0.0.0", 8), { kind: "header", header: exact("x-user", "bob") }] }, req("/", { "x-user": "bob" }), true],
    ["not_id", { kind: "not", id: cidr("127.0.0.0", 8) }, req("/"), false],
  ];
  for (const [name, principal, r, want] of table) {
    void test(name, () => assert.equal(allowOne(ANY_PERM, principal).allows(r), want));
  }
});

void describe("RBAC actions and policies", () => {
  const rules = (action: "ALLOW" | "DENY", names: string[]): RbacRulesConfig => ({
    action,
    policies: names.map((n) => ({ name: n, permissions: [method(`/${n}`)], principals: [ANY_ID] })),
  });

  void test("ALLOW with no policies denies everything (default deny)", () => {
    assert.equal(new RbacEngine(rules("ALLOW", [])).allows(req("/x")), false);
  });
  void test("DENY with no policies allows everything", () => {
    assert.equal(new RbacEngine(rules("DENY", [])).allows(req("/x")), true);
  });
  void test("ALLOW: any matching policy allows; DENY: any matching policy denies", () => {
    const allow = new RbacEngine(rules("ALLOW", ["a", "b"]));
    const deny = new RbacEngine(rules("DENY", ["a", "b"]));
    assert.deepEqual([allow.allows(req("/a")), allow.allows(req("/b")), allow.allows(req("/c"))], [true, true, false]);
    assert.deepEqual([deny.allows(req("/a")), deny.allows(req("/b")), deny.allows(req("/c"))], [false, false, true]);
  });
  void test("a policy needs a matching permission AND a matching principal", () => {
    const e = new RbacEngine({ action: "ALLOW", policies: [{ name: "p", permissions: [method("/a")], principals: [cidr("10.0.0.0", 8)] }] });
    assert.equal(e.allows(req("/a")), false);
    assert.equal(e.allows(req("/a", {}, "10.1.2.3")), true);
  });
  void test("the first matching policy in name order is reported", () => {
    const e = new RbacEngine({
      action: "ALLOW",
      policies: [
        { name: "a", permissions: [ANY_PERM], principals: [ANY_ID] },
        { name: "b", permissions: [ANY_PERM], principals: [ANY_ID] },
      ],
    });
    assert.equal(e.matchingPolicy(req("/")), "a");
  });
});
