/**
 * What a conformance case is and what it may use: the scripted peer's connection, the pool's view of
 * the request (recorded the way router-call.ts consumes an upstream stream), and the verdicts every
 * case shares. Each verdict checks both sides: the client's reaction on the wire and what the pool's
 * consumer saw, which must always end in 'close'.
 */
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http2";
import type { PoolFailure, PoolWaiter, UpstreamStream } from "../../src/upstream/upstream-pool.js";
import { deferred, withTimeout } from "../helpers/util.js";
import type { PeerConn, ScriptedPeer } from "./peer.js";
import { WAIT_MS } from "./peer.js";

/** How a case's request is made. */
export interface CallOptions {
  /** false: the request body is sent later through RecordedCall.sendBody (default true: no body). */
  readonly endStream?: boolean;
  /** Pause the response body as soon as the stream is ready (a consumer that does not read). */
  readonly paused?: boolean;
}

/** One request through the pool, with every event its stream emitted. */
export class RecordedCall implements PoolWaiter {
  stream: UpstreamStream | undefined;
  failure: PoolFailure | undefined;
  /** Header sets of 'response' events (a final response; 1xx must not appear). */
  readonly responses: IncomingHttpHeaders[] = [];
  readonly chunks: Buffer[] = [];
  trailers: IncomingHttpHeaders | undefined;
  ended = false;
  errored = false;
  /** rstCode when 'close' came; undefined while open. */
  rstCode: number | undefined;
  isClosed = false;
  private readonly done = deferred<void>();
  private readonly readyD = deferred<UpstreamStream>();

  constructor(private readonly opts: CallOptions = {}) {}

  onPoolReady(stream: UpstreamStream): void {
    this.stream = stream;
    stream.on("response", (h: IncomingHttpHeaders) => this.responses.push(h));
    stream.on("data", (c: Buffer) => this.chunks.push(c));
    stream.on("trailers", (t: IncomingHttpHeaders) => (this.trailers = t));
    stream.on("end", () => (this.ended = true));
    stream.on("error", () => (this.errored = true));
    stream.on("close", () => {
      this.isClosed = true;
      this.rstCode = stream.rstCode;
      this.done.resolve();
    });
    if (this.opts.paused === true) stream.pause();
    this.readyD.resolve(stream);
  }

  onPoolFailure(reason: PoolFailure): void {
    this.failure = reason;
    this.readyD.reject(new Error(`pool failure: ${reason}`));
    this.done.resolve();
  }

  /** The stream, once the pool opened it. */
  ready(ms = WAIT_MS): Promise<UpstreamStream> {
    return withTimeout(this.readyD.promise, ms, "pool stream");
  }

  /** Writes the request body and ends the request. */
  async sendBody(body: Buffer): Promise<void> {
    const s = await this.ready();
    s.write(body);
    s.end();
  }

  /** Resolves once the stream emitted 'close' (or the pool failed the request). */
  closed(ms = WAIT_MS): Promise<void> {
    return withTimeout(this.done.promise, ms, "the pool's stream to emit 'close'");
  }

  get body(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }

  /** A complete response: 'end' and a close with NO_ERROR. */
  get clean(): boolean {
    return this.ended && this.rstCode === 0;
  }

  describe(): string {
    return JSON.stringify({
      failure: this.failure,
      responses: this.responses.map((h) => h[":status"]),
      fields: this.responses.length > 0 ? Object.keys(this.responses[this.responses.length - 1]) : [],
      bodyBytes: this.chunks.reduce((n, c) => n + c.length, 0),
      trailers: this.trailers !== undefined,
      ended: this.ended,
      errored: this.errored,
      rstCode: this.rstCode,
    });
  }
}

/** What a case's script gets. */
export interface CaseContext {
  readonly peer: ScriptedPeer;
  /** The connection the first request came on. */
  readonly conn: PeerConn;
  /** Stream id of the first request (its HEADERS arrived). */
  readonly stream: number;
  /** The pool's view of the first request. */
  readonly call: RecordedCall;
  /** Opens another request through the same pool. */
  open(opts?: CallOptions): RecordedCall;
}

/** One conformance case: what the peer does once the first request arrived, and the verdict. */
export interface ConformanceCase {
  /** Stable id (RFC section + slug); deviations are keyed by it. */
  readonly id: string;
  /** Test name: the RFC section and what the client must do. */
  readonly name: string;
  /** The peer's SETTINGS in its connection preface. */
  readonly settings?: ReadonlyArray<readonly [number, number]>;
  /** How the first request is made. */
  readonly request?: CallOptions;
  run(ctx: CaseContext): Promise<void>;
}

// ------------------------------------------------------------------------------------------ verdicts

/** The pool's stream closed without a complete response: a reset (non-zero rstCode), no clean 'end'. */
export async function expectReset(call: RecordedCall, code?: number): Promise<void> {
  await call.closed();
  assert.ok(call.failure === undefined, `the request was opened, then failed (${call.describe()})`);
  assert.ok(call.rstCode !== undefined && call.rstCode !== 0, `stream closed with a non-zero rstCode (${call.describe()})`);
  assert.ok(!call.clean, `no clean end (${call.describe()})`);
  if (code !== undefined) assert.equal(call.rstCode, code, `rstCode (${call.describe()})`);
}

/** The pool's stream delivered a complete response. */
export async function expectClean(call: RecordedCall, status = 200, body = "ok"): Promise<void> {
  await call.closed();
  assert.equal(call.responses.length, 1, `one final response (${call.describe()})`);
  assert.equal(call.responses[0][":status"], status, "status");
  assert.equal(call.body, body, "body");
  assert.ok(call.clean, `'end' and rstCode 0 (${call.describe()})`);
}

/** Runs a peer wait; a timeout also reports what the pool's consumer saw meanwhile. */
async function awaitPeer<T>(p: Promise<T>, call: RecordedCall): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; the pool's stream saw ${call.describe()}`, { cause: err });
  }
}

/** §5.4.1: a connection error: GOAWAY with `code`, then the client closes the TCP connection. */
export async function expectConnectionError(ctx: CaseContext, code: number): Promise<void> {
  const { conn } = ctx;
  const goaway = await awaitPeer(
    conn.until(() => conn.goaway ?? (conn.closed ? null : undefined), `GOAWAY(${code})`),
    ctx.call,
  );
  assert.ok(goaway !== null, `GOAWAY before closing; the client sent ${conn.describe()}`);
  assert.equal(goaway.code, code, `GOAWAY error code; the client sent ${conn.describe()}`);
  await conn.waitClosed();
  await expectReset(ctx.call);
}

/**
 * §5.4.2: a stream error: RST_STREAM(`code`) on `streamId`; a GOAWAY with the same code is accepted too
 * (§5.4.1 lets an endpoint treat any stream error as a connection error).
 */
export async function expectStreamError(ctx: CaseContext, code: number, streamId = ctx.stream, call = ctx.call): Promise<void> {
  await expectStreamErrorOnWire(ctx, code, streamId, call);
  await expectReset(call);
}

/**
 * The wire half of a stream error: RST_STREAM(`code`) or GOAWAY(`code`), and the pool's stream
 * closes. For faults that follow a complete response (END_STREAM already received), the RFC requires
 * the error on the wire but says nothing about the response delivered before it: the consumer may see
 * it complete or reset, depending on whether the pool read both in one go.
 */
export async function expectStreamErrorOnWire(ctx: CaseContext, code: number, streamId = ctx.stream, call = ctx.call): Promise<void> {
  const { conn } = ctx;
  const r = await awaitPeer(
    conn.until(() => {
      const rst = conn.rsts.get(streamId);
      if (rst !== undefined) return { kind: "rst", code: rst };
      if (conn.goaway !== undefined) return { kind: "goaway", code: conn.goaway.code };
      return conn.closed ? { kind: "closed", code: -1 } : undefined;
    }, `RST_STREAM(${code}) on stream ${streamId} or GOAWAY(${code})`),
    call,
  );
  assert.notEqual(r.kind, "closed", `RST_STREAM or GOAWAY, not a bare close; the client sent ${conn.describe()}`);
  assert.equal(r.code, code, `${r.kind} error code; the client sent ${conn.describe()}`);
  if (r.kind === "goaway") await conn.waitClosed();
  await call.closed();
}

/** The client processed everything sent so far without GOAWAY, RST_STREAM or close. */
export async function expectNoReaction(conn: PeerConn): Promise<void> {
  await conn.barrier();
  assert.equal(conn.goaway, undefined, `no GOAWAY; the client sent ${conn.describe()}`);
  assert.equal(conn.rsts.size, 0, `no RST_STREAM; the client sent ${conn.describe()}`);
  assert.ok(!conn.closed, "connection open");
}

/** A tolerated fault: no reaction, then a normal response reaches the consumer complete. */
export async function expectTolerated(ctx: CaseContext): Promise<void> {
  await expectNoReaction(ctx.conn);
  ctx.conn.respond(ctx.stream);
  await expectClean(ctx.call);
}
