/**
 * The HTTP/2 client conformance suite (RFC 9113 §3-8, RFC 7541) for an upstream pool. h2spec only
 * tests servers, so this is the client-side counterpart: a scripted peer (peer.ts) plays a faulty or
 * demanding server against a pool built by `makePool`, and each case checks both the client's frames
 * and what the pool's consumer saw. Run it for a pool with one call in a *.test.ts file.
 */
import assert from "node:assert/strict";
import type { OutgoingHttpHeaders } from "node:http2";
import { describe, test } from "node:test";
import { decodeCluster } from "../../src/config/decode/cluster.js";
import { Errors } from "../../src/config/decode/field-errors.js";
import type { ClusterConfig } from "../../src/config/model.js";
import { Cluster as PbCluster } from "../../src/gen/envoy/config/cluster/v3/cluster.js";
import { StatsStore } from "../../src/stats/stats-store.js";
import { type ClusterStats, clusterStats } from "../../src/upstream/cluster-stats.js";
import { Host } from "../../src/upstream/host.js";
import type { UpstreamPool } from "../../src/upstream/upstream-pool.js";
import { withTimeout } from "../helpers/util.js";
import { type CallOptions, type ConformanceCase, RecordedCall } from "./case-kit.js";
import { FLOW_CASES } from "./cases-flow.js";
import { FRAME_CASES } from "./cases-frames.js";
import { HEADER_BLOCK_CASES } from "./cases-header-block.js";
import { HPACK_CASES } from "./cases-hpack.js";
import { MESSAGE_CASES } from "./cases-messages.js";
import { SETTINGS_CASES } from "./cases-settings.js";
import { STREAM_CASES } from "./cases-streams.js";
import { ScriptedPeer } from "./peer.js";

/** Builds the pool under test, exactly as Cluster does (`new XPool(host, cluster, stats, tls?)`). */
export type MakePool = (host: Host, cluster: ClusterConfig, stats: ClusterStats) => UpstreamPool;

export interface SuiteOptions {
  /**
   * Known deviations of this pool's HTTP/2 stack, by case id, each "<stack>: <what it does>". Those
   * cases still run but are reported as TODO, so their assertions stay as strict as for any pool.
   */
  readonly deviations?: Readonly<Record<string, string>>;
}

/** Every case, in RFC order. */
export const CASES: readonly ConformanceCase[] = [
  ...SETTINGS_CASES,
  ...FRAME_CASES,
  ...HEADER_BLOCK_CASES,
  ...STREAM_CASES,
  ...FLOW_CASES,
  ...HPACK_CASES,
  ...MESSAGE_CASES,
];

const CASE_MS = 8000;

/**
 * The cluster every case's pool gets: HTTP/2, 64 KiB stream receive window (so flow-control cases
 * need little data), the default 2 MiB connection window, no keepalive PINGs to muddle the wire.
 */
function conformanceCluster(): ClusterConfig {
  const errors = new Errors();
  const config = decodeCluster(
    PbCluster.fromPartial({
      name: "conformance",
      loadAssignment: {
        clusterName: "conformance",
        endpoints: [
          {
            lbEndpoints: [
              {
                endpoint: {
                  address: { address: { $case: "socketAddress", value: { address: "127.0.0.1", portSpecifier: { $case: "portValue", value: 1 } } } },
                },
              },
            ],
          },
        ],
      },
      http2ProtocolOptions: { initialStreamWindowSize: 65_535 },
    }),
    "conformance",
    errors,
  );
  assert.deepEqual(errors.list, []);
  assert.equal(config.protocol, "http2");
  return config;
}

function requestHeaders(n: number, endStream: boolean): OutgoingHttpHeaders {
  return { ":method": endStream ? "GET" : "POST", ":scheme": "http", ":authority": "conformance.test", ":path": `/case/${n}` };
}

async function runCase(c: ConformanceCase, makePool: MakePool, cluster: ClusterConfig): Promise<void> {
  const peer = await ScriptedPeer.start(c.settings ?? []);
  const host = new Host({ address: "127.0.0.1", port: peer.port }, 1, undefined, "HEALTHY");
  const pool = makePool(host, cluster, clusterStats(new StatsStore(), "conformance"));
  host.pool = pool;
  let n = 0;
  const open = (o: CallOptions = {}): RecordedCall => {
    const call = new RecordedCall(o);
    const endStream = o.endStream ?? true;
    pool.request(requestHeaders(++n, endStream), endStream, call);
    return call;
  };
  try {
    const call = open(c.request);
    const conn = await peer.nextConn();
    assert.ok(conn.prefaceOk, "the client's first bytes are the connection preface (RFC 9113 §3.4)");
    const stream = await conn.nextRequest();
    await withTimeout(c.run({ peer, conn, stream, call, open }), CASE_MS, `case ${c.id}`);
  } finally {
    pool.destroy();
    await peer.close();
  }
}

/** Registers the suite for one pool under node:test. */
export function conformanceSuite(name: string, makePool: MakePool, opts: SuiteOptions = {}): void {
  const deviations = opts.deviations ?? {};
  const cluster = conformanceCluster();
  void describe(`HTTP/2 client conformance: ${name}`, () => {
    void test("every deviation names a case", () => {
      const ids = new Set(CASES.map((c) => c.id));
      assert.equal(ids.size, CASES.length, "case ids are unique");
      assert.deepEqual(Object.keys(deviations).filter((id) => !ids.has(id)), []);
    });
    for (const c of CASES) {
      const todo = deviations[c.id];
      void test(`${c.name} [${c.id}]`, { timeout: CASE_MS + 4000, ...(todo === undefined ? {} : { todo }) }, () => runCase(c, makePool, cluster));
    }
  });
}
