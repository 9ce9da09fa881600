/** mesh.yaml validation: every bad input is rejected with its path and the offending value, all at once. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, PilotfishError } from "../../../../src/common/errors.js";
import { loadMeshFile, validateMesh, validateMeshText } from "../../../../src/control-plane/mesh/mesh-source.js";
import { baseMesh, type Doc, FIXTURES, parts } from "./helpers.js";

interface Case {
  name: string;
  mutate: (doc: Doc, p: ReturnType<typeof parts>) => void;
  path: string;
  /** Substrings the message must contain (the value, and the gist). */
  message: string[];
}

const U = "upstreams[0]";
const R = "routes[0]";
const RULE = "routes[0].rules[0]";
const L = "listeners[0]";

const cases: Case[] = [
  { name: "address without port", mutate: (_d, p) => (p.node0.address = "127.0.0.1"), path: `${U}.nodes[0].address`, message: ['"127.0.0.1"', "is not host:port"] },
  { name: "port out of range", mutate: (_d, p) => (p.node0.address = "127.0.0.1:70000"), path: `${U}.nodes[0].address`, message: ['"127.0.0.1:70000"', "70000"] },
  { name: "node port 0", mutate: (_d, p) => (p.node0.address = "10.0.0.1:0"), path: `${U}.nodes[0].address`, message: ["port 0", "1..65535"] },
  { name: "bad IPv4", mutate: (_d, p) => (p.node0.address = "300.1.1.1:80"), path: `${U}.nodes[0].address`, message: ['"300.1.1.1"', "not a valid IPv4"] },
  { name: "bare IPv6", mutate: (_d, p) => (p.node0.address = "::1:80"), path: `${U}.nodes[0].address`, message: ['"::1:80"', "[addr]:port"] },
  { name: "hostname node", mutate: (_d, p) => (p.node0.address = "localhost:50051"), path: `${U}.nodes[0].address`, message: ['"localhost"', "is a hostname", "127.0.0.1"] },
  { name: "hostname listener", mutate: (_d, p) => (p.listener.address = "gateway.local:80"), path: `${L}.address`, message: ['"gateway.local"', "need an IP address"] },
  { name: "strict mTLS without the pod's files", mutate: (d) => (d.mtls = { mode: "strict", certFile: "/c.pem" }), path: "mtls.caFile", message: ['required with mode "strict"'] },
  { name: "mTLS mode permissive", mutate: (d) => (d.mtls = { mode: "permissive" }), path: "mtls.mode", message: ['"permissive"', '"strict"'] },
  { name: "identity that is not a SPIFFE ID", mutate: (_d, p) => (p.upstream.identity = "sa/a"), path: `${U}.identity`, message: ["spiffe://"] },
  { name: "identity on an https upstream", mutate: (_d, p) => Object.assign(p.upstream, { protocol: "https", identity: "spiffe://cluster.local/ns/x/sa/y" }), path: `${U}.identity`, message: ["tls.subjectAltNames"] },
  { name: "empty subjectAltNames", mutate: (_d, p) => Object.assign(p.upstream, { protocol: "https", tls: { subjectAltNames: [] } }), path: `${U}.tls.subjectAltNames`, message: ["at least 1"] },
  { name: "bad hostname", mutate: (_d, p) => (p.node0.address = "my_host!:80"), path: `${U}.nodes[0].address`, message: ['"my_host!"', "neither an IP address nor a hostname"] },
  { name: "misspelt key with suggestion", mutate: (_d, p) => (p.upstream.conectTimeout = "1s"), path: `${U}.conectTimeout`, message: ['unknown key "conectTimeout"', 'did you mean "connectTimeout"'] },
  { name: "unknown top-level key", mutate: (d) => (d.clusters = []), path: "clusters", message: ['unknown key "clusters"', "upstreams, routes, listeners"] },
  { name: "duration without unit", mutate: (_d, p) => (p.upstream.timeout = 5), path: `${U}.timeout`, message: ["5 has no unit", '"5s"'] },
  { name: "malformed duration", mutate: (_d, p) => (p.upstream.connectTimeout = "1 sec"), path: `${U}.connectTimeout`, message: ['"1 sec"', "not a duration"] },
  { name: "zero interval", mutate: (_d, p) => (p.upstream.outlierDetection = { interval: "0s" }), path: `${U}.outlierDetection.interval`, message: ["longer than 0"] },
  { name: "unknown balance", mutate: (_d, p) => (p.upstream.balance = "ip-hash"), path: `${U}.balance`, message: ['"ip-hash"', '"least_request"'] },
  { name: "unknown protocol", mutate: (_d, p) => (p.upstream.protocol = "http1"), path: `${U}.protocol`, message: ['"http1"', '"grpc"'] },
  { name: "weight zero", mutate: (_d, p) => (p.node0.weight = 0), path: `${U}.nodes[0].weight`, message: ["0", "less than 1"] },
  { name: "weight not an integer", mutate: (_d, p) => (p.node0.weight = 1.5), path: `${U}.nodes[0].weight`, message: ["1.5", "not an integer"] },
  { name: "no nodes", mutate: (_d, p) => (p.upstream.nodes = []), path: `${U}.nodes`, message: ["at least 1 item"] },
  { name: "percent over 100", mutate: (_d, p) => (p.upstream.outlierDetection = { maxEjectionPercent: 150 }), path: `${U}.outlierDetection.maxEjectionPercent`, message: ["150", "more than 100"] },
  { name: "duplicate node address", mutate: (_d, p) => ((p.upstream.nodes as Doc[])[1].address = "127.0.0.1:50051"), path: `${U}.nodes[1].address`, message: ['"127.0.0.1:50051"', "already nodes[0]"] },
  { name: "duplicate upstream name", mutate: (d) => (d.upstreams as Doc[]).push({ name: "echo", nodes: [{ address: "10.0.0.1:1" }] }), path: "upstreams[1].name", message: ['"echo"', "already the name of upstreams[0]"] },
  { name: "rule to a missing upstream", mutate: (_d, p) => (p.rule.upstream = "ecoh"), path: `${RULE}.upstream`, message: ['no upstream named "ecoh"', 'did you mean "echo"'] },
  { name: "listener to a missing route", mutate: (_d, p) => (p.listener.route = "nope"), path: `${L}.route`, message: ['no route named "nope"'] },
  { name: "two path matches", mutate: (_d, p) => (p.rule.match = { prefix: "/", path: "/x" }), path: `${RULE}.match`, message: ["prefix and path", "choose one"] },
  { name: "grpcMethod without grpcService", mutate: (_d, p) => (p.rule.match = { grpcMethod: "Get" }), path: `${RULE}.match.grpcMethod`, message: ["needs grpcService"] },
  { name: "prefix without slash", mutate: (_d, p) => (p.rule.match = { prefix: "api" }), path: `${RULE}.match.prefix`, message: ['"api"', 'start with "/"'] },
  { name: "invalid regex", mutate: (_d, p) => (p.rule.match = { regex: "(" }), path: `${RULE}.match.regex`, message: ['"("', "not a valid regular expression"] },
  { name: "header without condition", mutate: (_d, p) => (p.rule.match = { headers: [{ name: "x-a" }] }), path: `${RULE}.match.headers[0]`, message: ["needs one of", "exact"] },
  { name: "wildcard in the middle of a host", mutate: (_d, p) => (p.route.hosts = ["a.*.b"]), path: `${R}.hosts[0]`, message: ['"a.*.b"', "start or its end"] },
  { name: "health check without checker", mutate: (_d, p) => (p.upstream.healthCheck = { interval: "1s" }), path: `${U}.healthCheck`, message: ["needs one of grpc"] },
  { name: "health check with both checkers", mutate: (_d, p) => (p.upstream.healthCheck = { grpc: {}, http: { path: "/h" } }), path: `${U}.healthCheck`, message: ["both grpc and http"] },
  { name: "tls on a grpc upstream", mutate: (_d, p) => (p.upstream.tls = { sni: "x" }), path: `${U}.tls`, message: ['"https"', '"grpc"'] },
  { name: "maxEjectionTime below base", mutate: (_d, p) => (p.upstream.outlierDetection = { baseEjectionTime: "10s", maxEjectionTime: "5s" }), path: `${U}.outlierDetection.maxEjectionTime`, message: ['"5s"', "shorter than baseEjectionTime"] },
  { name: "choiceCount below 2", mutate: (_d, p) => (p.upstream.leastRequest = { choiceCount: 1 }), path: `${U}.leastRequest.choiceCount`, message: ["1", "less than 2"] },
  { name: "unknown retryOn condition", mutate: (_d, p) => (p.upstream.retryOn = ["5xx", "sometimes"]), path: `${U}.retryOn[1]`, message: ['"sometimes"', '"connect-failure"'] },
  { name: "listener selector of wrong type", mutate: (_d, p) => (p.listener.nodes = { cluster: 3 }), path: `${L}.nodes.cluster`, message: ["a string or a list", "3"] },
  { name: "name with a space", mutate: (_d, p) => (p.listener.name = "my listener"), path: `${L}.name`, message: ['"my listener"', "not a valid name"] },
  { name: "listener address missing", mutate: (_d, p) => delete p.listener.address, path: `${L}.address`, message: ["required"] },
  { name: "rules not a list", mutate: (_d, p) => (p.route.rules = { upstream: "echo" }), path: `${R}.rules`, message: ["expected a list", '{"upstream":"echo"}'] },
];

void describe("validateMesh rejects", () => {
  void test("the base mesh is valid", () => {
    const r = validateMesh(baseMesh());
    assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.errors));
  });

  for (const c of cases) {
    void test(c.name, () => {
      const doc = baseMesh();
      c.mutate(doc, parts(doc));
      const r = validateMesh(doc);
      assert.equal(r.ok, false, "expected a validation failure");
      if (r.ok) return;
      const hit = r.errors.find((e) => e.path === c.path);
      assert.ok(hit, `no error at ${c.path}; got:\n${r.errors.map((e) => `${e.path}: ${e.message}`).join("\n")}`);
      for (const s of c.message) assert.ok(hit.message.includes(s), `message ${JSON.stringify(hit.message)} lacks ${JSON.stringify(s)}`);
    });
  }
});

void describe("validateMesh reporting", () => {
  void test("reports every error of a document at once, structural and cross-reference", () => {
    const doc = baseMesh();
    const p = parts(doc);
    p.node0.address = "127.0.0.1";
    p.upstream.retries = -1;
    p.rule.upstream = "missing";
    p.listener.route = "missing";
    const r = validateMesh(doc);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.errors.map((e) => e.path),
      [`${L}.route`, `${RULE}.upstream`, `${U}.nodes[0].address`, `${U}.retries`],
    );
  });

  void test("an empty document is refused (a truncated save must not wipe the mesh)", () => {
    const r = validateMeshText("", "mesh.yaml");
    assert.equal(r.ok, false);
    assert.equal(validateMeshText("{}", "mesh.yaml").ok, true);
  });

  void test("YAML syntax errors carry file, line and column", () => {
    const r = validateMeshText("upstreams:\n  - name: [unclosed\n", "mesh.yaml");
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.match(r.errors[0].path, /^mesh\.yaml:\d+:\d+$/);
  });

  void test("duplicate YAML keys are errors", () => {
    assert.equal(validateMeshText("upstreams: []\nupstreams: []\n", "mesh.yaml").ok, false);
  });
});

void describe("loadMeshFile", () => {
  void test("loads the issue's example as written", () => {
    const mesh = loadMeshFile(`${FIXTURES}/example.yaml`);
    assert.equal(mesh.upstreams[0].name, "echo");
    assert.ok(Object.isFrozen(mesh) && Object.isFrozen(mesh.upstreams[0].nodes[0].address));
  });

  void test("throws CONFIG_INVALID with every detail", () => {
    assert.throws(
      () => loadMeshFile(`${FIXTURES}/invalid.yaml`),
      (err: unknown) => {
        assert.ok(PilotfishError.is(err, ErrorCode.CONFIG_INVALID));
        assert.deepEqual(
          err.details.map((d) => d.path),
          ["routes[0].rules[0].upstream", "upstreams[0].conectTimeout", "upstreams[0].nodes[0].address"],
        );
        assert.equal(err.details[2].message, '"127.0.0.1" is not host:port');
        return true;
      },
    );
  });

  void test("throws CONFIG_UNREADABLE for a missing file", () => {
    assert.throws(() => loadMeshFile(`${FIXTURES}/does-not-exist.yaml`), (err: unknown) => PilotfishError.is(err, ErrorCode.CONFIG_UNREADABLE));
  });

  void test("x- keys hold anchors shared through merge keys", () => {
    const mesh = loadMeshFile(`${FIXTURES}/anchors.yaml`);
    assert.deepEqual(
      mesh.upstreams.map((u) => [u.name, u.balance, u.timeoutMs]),
      [
        ["a", "round_robin", 3000],
        ["b", "round_robin", 3000],
      ],
    );
  });

  void test("the full fixture is valid and keeps every value", () => {
    const mesh = loadMeshFile(`${FIXTURES}/full.yaml`);
    const users = mesh.upstreams[0];
    assert.equal(users.connectTimeoutMs, 250);
    assert.equal(users.outlierDetection?.intervalMs, 500);
    assert.equal(users.outlierDetection?.alwaysEjectOneHost, false);
    assert.deepEqual(users.nodes[2].address, { host: "fd00::3", port: 8080, isIp: true });
    assert.equal(mesh.upstreams[1].balance, "round_robin");
    assert.equal(mesh.upstreams[1].outlierDetection, undefined);
    assert.deepEqual(mesh.listeners[1].nodeClusters, ["frontend", "edge"]);
  });
});

void describe("defaults", () => {
  void test("mesh.yaml's defaults where they differ from Envoy's", () => {
    const r = validateMesh(baseMesh());
    assert.ok(r.ok);
    const u = r.mesh.upstreams[0];
    assert.equal(u.protocol, "grpc");
    assert.equal(u.balance, "least_request");
    assert.equal(u.connectTimeoutMs, 1000);
    assert.equal(u.timeoutMs, 0, "gRPC upstreams: no route timeout (deadlines)");
    assert.equal(u.outlierDetection?.alwaysEjectOneHost, true);
    assert.equal(u.outlierDetection?.consecutive5xx, 5);
    assert.equal(u.retry.retries, 0);
    assert.deepEqual(r.mesh.routes[0].rules[0].path, { kind: "prefix", value: "/" });
    assert.equal(r.mesh.listeners[0].nodeClusters, undefined);
  });

  void test("http2 upstreams keep Envoy's 15 s route timeout", () => {
    const doc = baseMesh();
    parts(doc).upstream.protocol = "http2";
    const r = validateMesh(doc);
    assert.ok(r.ok);
    assert.equal(r.mesh.upstreams[0].timeoutMs, 15_000);
  });
});
