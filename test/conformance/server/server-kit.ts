/**
 * What a server conformance case is and what it may use: connections to the sidecar's listeners, the
 * counting upstream behind them, request builders, and the verdicts every case shares. Each verdict
 * that judges a fault checks both sides: the server's reaction on the wire and what reached the
 * upstream (a malformed request must never be forwarded, RFC 9113 §8.1.1).
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../../helpers/h2-frames.js";
import { type ClientConn, type ConnectOptions, type StreamResponse, WAIT_MS } from "./client-conn.js";
import type { CountingUpstream, UpstreamStream } from "./counting-upstream.js";
import type { Fields } from "./hpack-codec.js";

/** Which listener of the sidecar: "main" has the defaults, "tight" small limits (see server-suite.ts). */
export type ListenerName = "main" | "tight";

/** The tight listener's limits, as configured in its bootstrap. */
export const TIGHT = { maxConcurrentStreams: 2, streamWindow: 65_535, connectionWindow: 65_535 } as const;

/** Path prefix of the probe requests that verdicts send; never counted as a case's request. */
export const PROBE_PREFIX = "/probe/";

export interface OpenOptions extends ConnectOptions {
  /** Listener to connect to (default "main"). */
  readonly listener?: ListenerName;
  /** Wait for the SETTINGS exchange (default true when the preface is sent). */
  readonly handshake?: boolean;
}

/** What a case's script gets. */
export interface ServerCaseContext {
  /** Port of each listener. */
  readonly ports: Readonly<Record<ListenerName, number>>;
  /** The upstream every route leads to. */
  readonly upstream: CountingUpstream;
  /** Index into `upstream.streams` when the case started. */
  readonly mark: number;
  /**
   * The streams of this case that reached the upstream: its own paths, or none at all (a request
   * without :path), never probes nor a late stream of an earlier case.
   */
  forwarded(): UpstreamStream[];
  /** Opens a connection (closed by the runner after the case). */
  connect(opts?: OpenOptions): Promise<ClientConn>;
  /** A path unique to this case: `/conf/<case number>/<suffix>`. */
  path(suffix?: string): string;
  /** A GET's fields on path(suffix), then `extra`. */
  get(suffix?: string, extra?: Fields): Fields;
  /** A POST's fields on path(suffix), then `extra`. */
  post(suffix?: string, extra?: Fields): Fields;
}

/** One case: a script against the server and its verdict. */
export interface ServerCase {
  /** Stable id (RFC section + slug); deviations are keyed by it. */
  readonly id: string;
  /** Test name: the RFC section and what the server must do. */
  readonly name: string;
  run(ctx: ServerCaseContext): Promise<void>;
}

/** Request fields in the usual order: :method, :scheme, :authority, :path, then `extra`. */
export function requestFields(method: string, path: string, extra: Fields = []): Fields {
  return [[":method", method], [":scheme", "http"], [":authority", "conformance.test"], [":path", path], ...extra];
}

// ------------------------------------------------------------------------------------------ verdicts

/** §5.4.1: a connection error: GOAWAY with `code`, then the server closes the TCP connection. */
export async function expectConnectionError(c: ClientConn, code: number): Promise<void> {
  const goaway = await c.until(() => c.goaway ?? (c.closed ? null : undefined), `GOAWAY(${code})`);
  assert.ok(goaway !== null, `GOAWAY before closing; the server sent ${c.describe()}`);
  assert.equal(goaway.code, code, `GOAWAY error code; the server sent ${c.describe()}`);
  await c.waitClosed();
}

/**
 * §5.4.2: a stream error: RST_STREAM with one of `codes` on `streamId`, or a GOAWAY with one of them
 * (§5.4.1 lets an endpoint treat any stream error as a connection error). Returns which it was.
 */
export async function expectStreamError(c: ClientConn, streamId: number, codes: number | readonly number[]): Promise<"rst" | "goaway"> {
  const want = typeof codes === "number" ? [codes] : codes;
  const r = await c.until(() => {
    const rst = c.rsts.get(streamId);
    if (rst !== undefined) return { kind: "rst" as const, code: rst };
    if (c.goaway !== undefined) return { kind: "goaway" as const, code: c.goaway.code };
    return c.closed ? { kind: "closed" as const, code: -1 } : undefined;
  }, `RST_STREAM(${want.join("|")}) on stream ${streamId} or GOAWAY(${want.join("|")})`);
  assert.notEqual(r.kind, "closed", `RST_STREAM or GOAWAY, not a bare close; the server sent ${c.describe()}`);
  assert.ok(want.includes(r.code), `${r.kind} error code ${r.code}, want ${want.join(" or ")}; the server sent ${c.describe()}`);
  if (r.kind === "goaway") await c.waitClosed();
  return r.kind as "rst" | "goaway";
}

/** The server processed everything sent so far without GOAWAY, RST_STREAM or close. */
export async function expectNoReaction(c: ClientConn): Promise<void> {
  await c.barrier();
  assert.equal(c.goaway, undefined, `no GOAWAY; the server sent ${c.describe()}`);
  assert.equal(c.rsts.size, 0, `no RST_STREAM; the server sent ${c.describe()}`);
  assert.ok(!c.closed, "connection open");
}

/** The final response on `streamId`: its status, body and well-formed fields (§8.2, §8.3.2). */
export async function expectResponse(c: ClientConn, streamId: number, status = 200, body: string | Buffer = "ok"): Promise<StreamResponse> {
  const r = await c.response(streamId);
  const final = r.blocks.find((b) => !/^1\d\d$/.test(b.find(([n]) => n === ":status")?.[1] ?? ""));
  assert.ok(final !== undefined, `a final response on stream ${streamId}; the server sent ${c.describe()}`);
  assert.equal(final[0]?.[0], ":status", "the response starts with :status");
  assert.equal(final.filter(([n]) => n.startsWith(":")).length, 1, "one pseudo-header, :status");
  for (const [n] of final) {
    assert.equal(n, n.toLowerCase(), `field names are lowercase (${n})`);
    assert.ok(!["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"].includes(n), `no connection-specific field (${n})`);
  }
  assert.equal(final[0][1], String(status), `status; the server sent ${c.describe()}`);
  const got = Buffer.concat(r.chunks);
  if (typeof body === "string") assert.equal(got.toString("latin1"), body, "response body");
  else assert.ok(got.equals(body), `response body: ${got.length} bytes, want ${body.length}`);
  return r;
}

/** A request on `streamId` still gets a complete 200: the connection survived what came before. */
export async function expectUsable(ctx: ServerCaseContext, c: ClientConn, streamId: number): Promise<void> {
  c.request(streamId, ctx.get(`after-${streamId}`));
  await expectResponse(c, streamId);
}

/**
 * What reached the upstream during the case: exactly `expected` streams (probes excluded), checked
 * after a probe request on a fresh connection came back, so the sidecar had time to forward anything
 * it was going to forward. `complete` bounds how many of those ended cleanly (default: all of them).
 */
export async function expectForwarded(ctx: ServerCaseContext, expected: number, complete = expected): Promise<void> {
  await probe(ctx);
  const seen = ctx.forwarded();
  const show = JSON.stringify(seen.map((s) => ({ path: s.path, complete: s.complete, bytes: s.bytes })));
  assert.equal(seen.length, expected, `streams that reached the upstream: ${show}`);
  assert.equal(seen.filter((s) => s.complete).length, complete, `requests that reached the upstream complete: ${show}`);
}

/** A GET on a fresh connection, answered: the sidecar has forwarded whatever it was going to before. */
async function probe(ctx: ServerCaseContext): Promise<void> {
  const p = await ctx.connect();
  p.request(1, requestFields("GET", `${PROBE_PREFIX}${ctx.mark}`));
  await expectResponse(p, 1);
  p.destroy();
}

/**
 * A malformed request (§8.1.1): stream error PROTOCOL_ERROR on `streamId`; when it was an RST_STREAM,
 * the connection still serves a request on `streamId + 2`; and the malformed request never reached
 * the upstream (only that follow-up did).
 */
export async function expectMalformed(ctx: ServerCaseContext, c: ClientConn, streamId: number): Promise<void> {
  const kind = await expectStreamError(c, streamId, ErrorCode.PROTOCOL_ERROR);
  if (kind === "rst") await expectUsable(ctx, c, streamId + 2);
  await expectForwarded(ctx, kind === "rst" ? 1 : 0);
}

/**
 * A request whose body turned out bad after its headers were forwarded (a streaming proxy cannot see a
 * content-length mismatch or an oversized frame sooner): at most `opened` streams reached the
 * upstream during the case, and none of them completed (each was reset, never ended with END_STREAM).
 */
export async function expectNoneComplete(ctx: ServerCaseContext, opened = 1): Promise<void> {
  await probe(ctx);
  const seen = ctx.forwarded();
  const show = JSON.stringify(seen.map((s) => ({ path: s.path, complete: s.complete, bytes: s.bytes })));
  assert.ok(seen.length <= opened, `at most ${opened} stream(s) reached the upstream: ${show}`);
  assert.ok(seen.every((s) => !s.complete), `the upstream never saw the bad request complete: ${show}`);
}

/** A malformed request body (§8.1.1): stream error PROTOCOL_ERROR, and it never completes upstream. */
export async function expectBodyRejected(ctx: ServerCaseContext, c: ClientConn, streamId: number): Promise<void> {
  const kind = await expectStreamError(c, streamId, ErrorCode.PROTOCOL_ERROR);
  // Before the follow-up, which does complete upstream.
  await expectNoneComplete(ctx);
  if (kind === "rst") await expectUsable(ctx, c, streamId + 2);
}

/**
 * Lets a server that would overrun a window show it: waits until the upstream has closed every stream
 * of the case (the sidecar holds the whole response), then for two PING round trips.
 */
export async function settle(ctx: ServerCaseContext, c: ClientConn): Promise<void> {
  await ctx.upstream.until(() => ctx.forwarded().every((s) => s.closed), "every stream of the case closed", WAIT_MS);
  await c.barrier();
  await c.barrier();
}

/**
 * RFC 9113 §5.1 "closed": an endpoint MAY treat a frame on a closed stream as a connection error
 * STREAM_CLOSED, and otherwise ignores it (RFC 7540 required a stream error STREAM_CLOSED after a
 * RST_STREAM). Either way the late frame never makes a request complete upstream, and if the server
 * did not end the connection, it still serves a request.
 */
export async function expectIgnoredOrStreamClosed(ctx: ServerCaseContext, c: ClientConn, streamId: number): Promise<void> {
  await c.barrier().catch(() => undefined);
  if (c.goaway !== undefined || c.closed) {
    await expectConnectionError(c, ErrorCode.STREAM_CLOSED);
    await expectNoneComplete(ctx);
    return;
  }
  const rst = c.rsts.get(streamId);
  if (rst !== undefined) assert.equal(rst, ErrorCode.STREAM_CLOSED, `RST_STREAM code; the server sent ${c.describe()}`);
  await expectNoneComplete(ctx);
  await expectUsable(ctx, c, streamId + 2);
}
