/**
 * The HTTP/2 server conformance suite (RFC 9113 §3-8, RFC 7541) for the sidecar's downstream listener,
 * modelled on h2spec's server cases: a scripted client (client-conn.ts) plays a faulty or demanding
 * client against a real sidecar process whose routes all lead to a counting upstream. Each case checks
 * the server's frames and, for every malformed request, that nothing reached the upstream.
 *
 * One sidecar per test file, with two listeners: "main" with the defaults (what production gets) and
 * "tight" with SETTINGS_MAX_CONCURRENT_STREAMS 2 and 64 KiB windows, for the cases that need a limit
 * within reach. Every case opens its own connections; the runner closes them.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { bootstrapObject } from "../../helpers/bootstrap.js";
import { type Sidecar, startSidecar } from "../../helpers/sidecar.js";
import { withTimeout } from "../../helpers/util.js";
import { ClientConn } from "./client-conn.js";
import { CountingUpstream } from "./counting-upstream.js";
import { type ListenerName, type OpenOptions, PROBE_PREFIX, requestFields, type ServerCase, type ServerCaseContext, TIGHT } from "./server-kit.js";
import { CONNECTION_CASES } from "./cases-connection.js";
import { FRAME_CASES } from "./cases-frames.js";
import { STREAM_CASES } from "./cases-streams.js";
import { FLOW_CASES } from "./cases-flow.js";
import { HPACK_CASES } from "./cases-hpack.js";
import { HTTP_CASES } from "./cases-http.js";

export interface ServerSuiteOptions {
  /**
   * Known deviations of this server stack, by case id, each "<stack>: <what it does>". Those cases
   * still run, as strict as for any stack, but are reported as TODO.
   */
  readonly deviations?: Readonly<Record<string, string>>;
}

/** Every case, in RFC order. */
export const SERVER_CASES: readonly ServerCase[] = [...CONNECTION_CASES, ...FRAME_CASES, ...STREAM_CASES, ...FLOW_CASES, ...HPACK_CASES, ...HTTP_CASES];

const CASE_MS = 5000;

/** Both listeners route everything to cluster "up"; "tight" has limits a case can reach. */
function bootstrap(upstreamPort: number): string {
  const routes = [{ prefix: "/", cluster: "up" }];
  const doc = bootstrapObject({
    listeners: [
      { name: "main", routes },
      { name: "tight", routes },
    ],
    clusters: [{ name: "up", endpoints: [upstreamPort] }],
    adminPort: null,
  });
  const listeners = (doc.static_resources as { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: Record<string, unknown> }> }> }> }).listeners;
  listeners[1].filter_chains[0].filters[0].typed_config.http2_protocol_options = {
    max_concurrent_streams: TIGHT.maxConcurrentStreams,
    initial_stream_window_size: TIGHT.streamWindow,
    initial_connection_window_size: TIGHT.connectionWindow,
  };
  return stringify(doc);
}

/** Registers the suite under node:test for the sidecar started with `env`. */
export function serverConformanceSuite(name: string, env: NodeJS.ProcessEnv, opts: ServerSuiteOptions = {}): void {
  const deviations = opts.deviations ?? {};
  void describe(`HTTP/2 server conformance: ${name}`, () => {
    let upstream: CountingUpstream;
    let sidecar: Sidecar;
    let ports: Record<ListenerName, number>;
    let caseNo = 0;

    before(async () => {
      upstream = await CountingUpstream.start();
      sidecar = await startSidecar(bootstrap(upstream.port), { env });
      ports = { main: sidecar.port("main"), tight: sidecar.port("tight") };
    });
    after(async () => {
      await sidecar?.stop();
      await upstream?.close();
    });

    void test("every deviation names a case", () => {
      const ids = new Set(SERVER_CASES.map((c) => c.id));
      assert.equal(ids.size, SERVER_CASES.length, "case ids are unique");
      assert.deepEqual(Object.keys(deviations).filter((id) => !ids.has(id)), []);
    });

    for (const c of SERVER_CASES) {
      const todo = deviations[c.id];
      void test(`${c.name} [${c.id}]`, { timeout: CASE_MS + 3000, ...(todo === undefined ? {} : { todo }) }, async () => {
        const n = ++caseNo;
        const conns: ClientConn[] = [];
        const prefix = `/conf/${n}/`;
        const path = (suffix = "req"): string => prefix + suffix;
        const mark = upstream.streams.length;
        const notOurs = (p: string): boolean => p.startsWith(PROBE_PREFIX) || (p.startsWith("/conf/") && !p.startsWith(prefix));
        const ctx: ServerCaseContext = {
          ports,
          upstream,
          mark,
          forwarded: () => upstream.since(mark, notOurs),
          async connect(o: OpenOptions = {}) {
            const conn = await ClientConn.connect(ports[o.listener ?? "main"], o);
            conns.push(conn);
            if ((o.handshake ?? true) && (o.preface ?? true)) await conn.handshake();
            return conn;
          },
          path,
          get: (suffix, extra) => requestFields("GET", path(suffix), extra),
          post: (suffix, extra) => requestFields("POST", path(suffix), extra),
        };
        try {
          await withTimeout(c.run(ctx), CASE_MS, `case ${c.id}`);
          for (const conn of conns) {
            assert.deepEqual(conn.violations, [], `the server kept within our windows and frame size; it sent ${conn.describe()}`);
            assert.deepEqual(conn.hpackErrors, [], "the server's header blocks decode");
          }
        } finally {
          for (const conn of conns) conn.destroy();
          // Let the sidecar reset what the case left open upstream, so no stream outlives its case.
          await upstream.until(() => ctx.forwarded().every((s) => s.closed), "the case's streams to close", 2000).catch(() => undefined);
        }
      });
    }
  });
}
