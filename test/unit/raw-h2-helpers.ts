/** Helpers for the raw HTTP/2 client's unit tests: connect, and collect one exchange's events. */
import { once } from "node:events";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import net from "node:net";
import { RawH2Connection } from "../../src/upstream/raw-h2/raw-h2-connection.js";
import type { RawH2Stream } from "../../src/upstream/raw-h2/raw-h2-stream.js";

/** Everything one stream reported, in order. */
export interface Reply {
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
  rstCode: number | undefined;
  /** Event names in the order they fired ('data' once, however many chunks). */
  events: string[];
}

/** A connection to 127.0.0.1:`port` whose peer SETTINGS have arrived. */
export async function connectRaw(port: number, opts: { streamWindow?: number } = {}): Promise<RawH2Connection> {
  const c = new RawH2Connection(net.connect({ port, host: "127.0.0.1", noDelay: true }), { authority: `127.0.0.1:${port}`, ...opts });
  await once(c, "remoteSettings");
  return c;
}

/**
 * Sends a request (or collects `existing`) and resolves on 'close' with what arrived. Never rejects: a
 * reset shows as rstCode.
 */
export function call(c: RawH2Connection | null, headers: OutgoingHttpHeaders, body: Buffer | null = null, existing?: RawH2Stream): Promise<Reply> {
  const s = existing ?? c!.request(headers, body === null);
  if (existing === undefined && body !== null) {
    s.write(body);
    s.end();
  }
  const r: Reply = { headers: {}, body: Buffer.alloc(0), trailers: undefined, rstCode: undefined, events: [] };
  const parts: Buffer[] = [];
  const note = (e: string): void => {
    if (r.events.at(-1) !== e) r.events.push(e);
  };
  s.on("response", (h: IncomingHttpHeaders) => {
    note("response");
    r.headers = h;
  });
  s.on("data", (chunk: Buffer) => {
    note("data");
    parts.push(chunk);
  });
  s.on("trailers", (t: IncomingHttpHeaders) => {
    note("trailers");
    r.trailers = t;
  });
  s.on("end", () => note("end"));
  return new Promise((resolve) => {
    s.once("close", () => {
      note("close");
      r.body = Buffer.concat(parts);
      r.rstCode = s.rstCode;
      resolve(r);
    });
  });
}
