/**
 * node:http2's server for the listeners (the fallback, PILOTFISH_DOWNSTREAM_H2=node), configured from
 * the connection manager's limits, with StreamAdmission doing Envoy's max_requests_per_io_cycle.
 */
import type * as http2 from "node:http2";
import { nodeHttp2 } from "../common/lazy-require.js";
import type { HttpConnectionManagerConfig } from "../config/model.js";
import { MAX_STREAMS_PER_TURN, StreamAdmission, type StreamStarter } from "./stream-admission.js";

/** A server that routes admitted streams through `route`; `dropped` counts streams reset before their turn. */
export function nodeH2Server(hcm: HttpConnectionManagerConfig, route: StreamStarter, dropped: () => void): http2.Http2Server {
  const server = nodeHttp2().createServer({
    maxSessionMemory: 64,
    maxHeaderListPairs: hcm.maxHeadersCount + 8,
    maxHeaderSize: hcm.maxRequestHeadersKb * 1024,
    settings: {
      maxConcurrentStreams: hcm.http2.maxConcurrentStreams,
      initialWindowSize: hcm.http2.initialStreamWindowSize,
      maxHeaderListSize: hcm.maxRequestHeadersKb * 1024,
      enablePush: false,
    },
    // Node's nghttp2 rapid-reset guard (CVE-2023-44487), at nghttp2's own defaults made explicit;
    // StreamAdmission makes the streams it lets through cheap.
    streamResetBurst: 1000,
    streamResetRate: 33,
  } as http2.ServerOptions);
  const admission = new StreamAdmission(MAX_STREAMS_PER_TURN, route, dropped);
  server.on("stream", (stream, headers, flags) => admission.admit(stream, headers, flags));
  return server;
}
