/**
 * The CLI: exit codes (0 ok, 1 runtime failure / validate found errors, 2 bad usage or bad config), help,
 * and config errors named by field path (`static_resources.clusters[0].connect_timeout`).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { echoBootstrap } from "../helpers/bootstrap.js";
import { runCli, tempFile } from "../helpers/sidecar.js";

/** A bootstrap with four independent errors; each path must be named. */
const BAD_BOOTSTRAP = `node: { id: test, cluster: test }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:
  - name: outbound
    bogus_listener_field: 1
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - { match: { prefix: "/" }, route: { cluster: echo } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: echo
    type: STATIC
    connect_timeout: banana
    lb_policy: NOT_A_POLICY
    typo_field: x
    load_assignment:
      cluster_name: echo
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18001 } } } } ] } ]
`;

const BAD_PATHS = [
  "static_resources.listeners[0].bogus_listener_field",
  "static_resources.clusters[0].connect_timeout",
  "static_resources.clusters[0].lb_policy",
  "static_resources.clusters[0].typo_field",
];

void describe("pilotfish CLI", { timeout: 120_000 }, () => {
  let bad: { path: string; cleanup: () => Promise<void> };
  let good: { path: string; cleanup: () => Promise<void> };

  before(async () => {
    bad = await tempFile("bad.yaml", BAD_BOOTSTRAP);
    good = await tempFile("good.yaml", echoBootstrap([18001]));
  });
  after(async () => {
    await bad?.cleanup();
    await good?.cleanup();
  });

  void it("pilotfish --help exits 0 and names the subcommands", { timeout: 30_000 }, async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0, r.stderr);
    for (const sub of ["sidecar", "validate"]) assert.match(r.stdout, new RegExp(sub), `--help does not mention ${sub}`);
  });

  void it("pilotfish sidecar --help exits 0 and documents -c", { timeout: 30_000 }, async () => {
    const r = await runCli(["sidecar", "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /-c\b/);
  });

  void it("pilotfish sidecar without -c is a usage error: exit 2", { timeout: 30_000 }, async () => {
    const r = await runCli(["sidecar"]);
    assert.equal(r.code, 2, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  });

  void it("pilotfish sidecar -c bad.yaml exits 2 and stderr names every bad field path", { timeout: 30_000 }, async () => {
    const r = await runCli(["sidecar", "-c", bad.path]);
    assert.equal(r.code, 2, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const missing = BAD_PATHS.filter((p) => !r.stderr.includes(p));
    assert.deepEqual(missing, [], `stderr does not name these paths:\n${r.stderr}`);
  });

  void it("pilotfish validate good.yaml exits 0", { timeout: 30_000 }, async () => {
    const r = await runCli(["validate", good.path]);
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  });

  void it("pilotfish validate bad.yaml exits 1 and prints every bad field path", { timeout: 30_000 }, async () => {
    const r = await runCli(["validate", bad.path]);
    assert.equal(r.code, 1, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const all = r.stdout + r.stderr;
    const missing = BAD_PATHS.filter((p) => !all.includes(p));
    assert.deepEqual(missing, [], `output does not name these paths:\n${all}`);
  });
});
