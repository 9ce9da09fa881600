/**
 * A real @grpc/grpc-js Echo server on 127.0.0.1:0, steered by each request (see echo.proto), recording
 * every call it sees: metadata, deadline, requests, messages written, backpressure, cancellation.
 */
import * as grpc from "@grpc/grpc-js";
import { createHash, type Hash } from "node:crypto";
import { once } from "node:events";
import {
  echoServiceDefinition,
  type DecodedEchoRequest,
  type EchoResponse,
} from "./echo-proto.js";
import { deferred, patternBytes, withTimeout, type Deferred } from "./util.js";

export type EchoMethod = "Unary" | "ServerStream" | "ClientStream" | "Bidi";

/** What the server saw of one call. */
export interface CallRecord {
  readonly id: number;
  readonly method: EchoMethod;
  /** Request metadata exactly as grpc-js presents it (grpc-js strips grpc-timeout, te, content-type). */
  readonly metadata: grpc.Metadata;
  /** Deadline as ms since epoch (grpc-js derives it from grpc-timeout at arrival); null when none. */
  readonly deadline: number | null;
  /** Date.now() when the handler started. */
  readonly receivedAt: number;
  /** deadline - receivedAt: the timeout the upstream was given (ms), or null. */
  readonly timeoutMs: number | null;
  /** Requests received, in order. */
  readonly requests: DecodedEchoRequest[];
  /** Response messages handed to grpc-js (written, possibly still buffered). */
  messagesWritten: number;
  /** Times `write()` returned false (backpressure from the peer). */
  backpressureEvents: number;
  /** True while the handler waits for 'drain'. */
  waitingForDrain: boolean;
  /** Date.now() when the request stream ended (client half-close, or a reset Node reports as an end). */
  halfClosedAt: number | null;
  /** True once the handler itself ended the call (status sent: OK or error). */
  statusSent: boolean;
  /** True when the call ended without the handler sending a status (peer cancel/reset, or deadline). */
  cancelled: boolean;
  /** Date.now() when cancellation was observed, or null. */
  cancelledAt: number | null;
  /** Resolves when the call is cancelled (see `cancelled`). Never rejects. */
  readonly whenCancelled: Promise<void>;
  /** Resolves when the call is over, either way. */
  readonly whenDone: Promise<void>;
}

export interface EchoServerOptions {
  /**
   * Answer every call trailers-only with this status (e.g. UNAVAILABLE), ignoring the request; after
   * `delayMs` if given (Unary only; the other kinds answer at once).
   */
  failAll?: { code: grpc.status; message?: string; delayMs?: number };
  /** A label for messages (e.g. "healthy", "bad"); echoed in response header `x-echo-server`. */
  name?: string;
  /** Server credentials (default insecure); TLS tests pass grpc.ServerCredentials.createSsl(...). */
  credentials?: grpc.ServerCredentials;
}

export interface EchoServer {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly name: string;
  /** Every call seen, in arrival order. */
  readonly calls: CallRecord[];
  /** Waits for the n-th call (0-based) to arrive; bounded. */
  waitForCall(index?: number, timeoutMs?: number): Promise<CallRecord>;
  /** Closes the server and every connection (forceShutdown). Idempotent. */
  close(): Promise<void>;
  /** Abrupt: destroys every connection and stream at once (forceShutdown). */
  kill(): void;
}

interface Handle {
  record: CallRecord;
  cancelled: Deferred<void>;
  done: Deferred<void>;
}

/** Fills defaults for fields grpc-js decoding leaves out (maps may be undefined in some versions). */
function decode(req: Partial<DecodedEchoRequest>): DecodedEchoRequest {
  return {
    message: req.message ?? "",
    payload: req.payload ?? Buffer.alloc(0),
    responseSize: req.responseSize ?? 0,
    responseCount: req.responseCount ?? 0,
    intervalMs: req.intervalMs ?? 0,
    statusCode: req.statusCode ?? 0,
    statusMessage: req.statusMessage ?? "",
    trailersOnly: req.trailersOnly ?? false,
    echoMetadata: req.echoMetadata ?? false,
    responseHeaders: req.responseHeaders ?? {},
    responseTrailers: req.responseTrailers ?? {},
    hang: req.hang ?? false,
    payloadSeed: req.payloadSeed ?? 0,
    initialDelayMs: req.initialDelayMs ?? 0,
  };
}

function copyEchoed(into: grpc.Metadata, from: grpc.Metadata): void {
  for (const [key, values] of Object.entries(from.getMap())) {
    if (!key.startsWith("x-")) continue;
    for (const v of from.get(key)) into.add(key, v);
    void values;
  }
}

function headerMetadata(req: DecodedEchoRequest, incoming: grpc.Metadata, serverName: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("x-echo-server", serverName);
  if (req.echoMetadata) copyEchoed(md, incoming);
  for (const [k, v] of Object.entries(req.responseHeaders)) md.set(k, v);
  return md;
}

function trailerMetadata(req: DecodedEchoRequest, incoming: grpc.Metadata): grpc.Metadata {
  const md = new grpc.Metadata();
  if (req.echoMetadata) copyEchoed(md, incoming);
  for (const [k, v] of Object.entries(req.responseTrailers)) md.set(k, v);
  return md;
}

function errorFor(req: DecodedEchoRequest, trailers: grpc.Metadata): Partial<grpc.StatusObject> & { code: number } {
  return { code: req.statusCode, details: req.statusMessage, metadata: trailers };
}

/** A cancellable delay: resolves false early if the call is cancelled. */
function pause(ms: number, h: Handle): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!h.record.cancelled);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(!h.record.cancelled), ms);
    void h.cancelled.promise.then(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

class PayloadTracker {
  size = 0;
  count = 0;
  private readonly hash: Hash = createHash("sha256");
  add(req: DecodedEchoRequest): void {
    this.count++;
    this.size += req.payload.length;
    this.hash.update(req.payload);
  }
  digest(): string {
    return this.hash.copy().digest("hex");
  }
}

function response(req: DecodedEchoRequest, index: number, tracker: PayloadTracker, cache: Map<string, Buffer>): EchoResponse {
  const key = `${req.responseSize}:${req.payloadSeed}`;
  let payload = cache.get(key);
  if (!payload) {
    payload = patternBytes(req.responseSize, req.payloadSeed);
    cache.set(key, payload);
  }
  return {
    message: req.message,
    payload,
    index,
    receivedSize: tracker.size,
    receivedSha256: tracker.digest(),
    receivedCount: tracker.count,
  };
}

/** Starts an Echo server on 127.0.0.1:0 with unlimited message sizes. */
export async function startEchoServer(opts: EchoServerOptions = {}): Promise<EchoServer> {
  const name = opts.name ?? "echo";
  const server = new grpc.Server({
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": -1,
  });
  const calls: CallRecord[] = [];
  const arrivals: Deferred<void>[] = [];
  const payloadCache = new Map<string, Buffer>();
  let nextId = 0;

  function begin(
    method: EchoMethod,
    call: { metadata: grpc.Metadata; getDeadline(): grpc.Deadline; on(ev: "cancelled", fn: () => void): unknown },
  ): Handle {
    const receivedAt = Date.now();
    const dl = call.getDeadline();
    const deadlineMs = dl instanceof Date ? dl.getTime() : Number.isFinite(dl) ? dl : null;
    const cancelled = deferred<void>();
    const done = deferred<void>();
    const record: CallRecord = {
      id: nextId++,
      method,
      metadata: call.metadata.clone(),
      deadline: deadlineMs,
      receivedAt,
      timeoutMs: deadlineMs === null ? null : deadlineMs - receivedAt,
      requests: [],
      messagesWritten: 0,
      backpressureEvents: 0,
      waitingForDrain: false,
      halfClosedAt: null,
      statusSent: false,
      cancelled: false,
      cancelledAt: null,
      whenCancelled: cancelled.promise,
      whenDone: done.promise,
    };
    // grpc-js 1.14 emits 'cancelled' at the end of every call, also after a status was sent;
    // only an end the handler did not cause counts as a cancellation.
    call.on("cancelled", () => {
      if (!record.statusSent && !record.cancelled) {
        record.cancelled = true;
        record.cancelledAt = Date.now();
        cancelled.resolve();
      }
      done.resolve();
    });
    calls.push(record);
    arrivals[record.id]?.resolve();
    return { record, cancelled, done };
  }

  function finish(h: Handle): void {
    h.record.statusSent = true;
    h.done.resolve();
  }

  /** Writes one message honouring backpressure; false if the call is cancelled meanwhile. */
  async function writeWithBackpressure(
    call: grpc.ServerWritableStream<unknown, EchoResponse> | grpc.ServerDuplexStream<unknown, EchoResponse>,
    msg: EchoResponse,
    h: Handle,
  ): Promise<boolean> {
    if (h.record.cancelled) return false;
    const ok = call.write(msg);
    h.record.messagesWritten++;
    if (!ok) {
      h.record.backpressureEvents++;
      h.record.waitingForDrain = true;
      await Promise.race([once(call, "drain").catch(() => undefined), h.cancelled.promise]);
      h.record.waitingForDrain = false;
    }
    return !h.record.cancelled;
  }

  const handlers: grpc.UntypedServiceImplementation = {
    Unary(call: grpc.ServerUnaryCall<Partial<DecodedEchoRequest>, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) {
      const h = begin("Unary", call);
      if (opts.failAll) {
        const fail = opts.failAll;
        void pause(fail.delayMs ?? 0, h).then((live) => {
          if (!live) return;
          finish(h);
          cb({ code: fail.code, details: fail.message ?? `${name} fails everything` });
        });
        return;
      }
      const req = decode(call.request);
      h.record.requests.push(req);
      const tracker = new PayloadTracker();
      tracker.add(req);
      if (req.hang) return;
      void (async () => {
        if (req.trailersOnly) {
          finish(h);
          cb(errorFor(req, trailerMetadata(req, call.metadata)));
          return;
        }
        if (!(await pause(req.initialDelayMs, h))) return;
        call.sendMetadata(headerMetadata(req, call.metadata, name));
        const trailers = trailerMetadata(req, call.metadata);
        finish(h);
        if (req.statusCode !== 0) cb(errorFor(req, trailers));
        else cb(null, response(req, 0, tracker, payloadCache), trailers);
      })();
    },

    ServerStream(call: grpc.ServerWritableStream<Partial<DecodedEchoRequest>, EchoResponse>) {
      const h = begin("ServerStream", call);
      if (opts.failAll) {
        finish(h);
        call.emit("error", { code: opts.failAll.code, details: opts.failAll.message ?? `${name} fails everything` });
        return;
      }
      const req = decode(call.request);
      h.record.requests.push(req);
      const tracker = new PayloadTracker();
      tracker.add(req);
      if (req.hang) return;
      void (async () => {
        const trailers = trailerMetadata(req, call.metadata);
        if (req.trailersOnly) {
          finish(h);
          call.emit("error", errorFor(req, trailers));
          return;
        }
        if (!(await pause(req.initialDelayMs, h))) return;
        call.sendMetadata(headerMetadata(req, call.metadata, name));
        for (let i = 0; i < req.responseCount; i++) {
          if (i > 0 && !(await pause(req.intervalMs, h))) return;
          if (!(await writeWithBackpressure(call, response(req, i, tracker, payloadCache), h))) return;
        }
        finish(h);
        if (req.statusCode !== 0) call.emit("error", errorFor(req, trailers));
        else call.end(trailers);
      })();
    },

    ClientStream(call: grpc.ServerReadableStream<Partial<DecodedEchoRequest>, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) {
      const h = begin("ClientStream", call);
      if (opts.failAll) {
        finish(h);
        cb({ code: opts.failAll.code, details: opts.failAll.message ?? `${name} fails everything` });
        return;
      }
      const tracker = new PayloadTracker();
      let first: DecodedEchoRequest | undefined;
      let headersSent = false;
      call.on("data", (raw: Partial<DecodedEchoRequest>) => {
        if (h.record.statusSent) return;
        const req = decode(raw);
        h.record.requests.push(req);
        tracker.add(req);
        if (!first) {
          first = req;
          if (req.trailersOnly) {
            finish(h);
            cb(errorFor(req, trailerMetadata(req, call.metadata)));
            return;
          }
          if (!req.hang) {
            call.sendMetadata(headerMetadata(req, call.metadata, name));
            headersSent = true;
          }
        }
      });
      call.on("error", () => undefined);
      call.on("end", () => {
        h.record.halfClosedAt = Date.now();
        // Node ends the readable side of an HTTP/2 stream also when it is reset: give the reset's
        // 'cancelled' a turn of the event loop to arrive before taking 'end' as a half-close.
        setImmediate(() => onHalfClose());
      });
      const onHalfClose = (): void => {
        if (h.record.statusSent || h.record.cancelled || call.cancelled) return;
        const req = first ?? decode({});
        if (req.hang) return;
        if (!headersSent) call.sendMetadata(headerMetadata(req, call.metadata, name));
        const trailers = trailerMetadata(req, call.metadata);
        finish(h);
        if (req.statusCode !== 0) cb(errorFor(req, trailers));
        else cb(null, response(req, 0, tracker, payloadCache), trailers);
      };
    },

    Bidi(call: grpc.ServerDuplexStream<Partial<DecodedEchoRequest>, EchoResponse>) {
      const h = begin("Bidi", call);
      if (opts.failAll) {
        finish(h);
        call.emit("error", { code: opts.failAll.code, details: opts.failAll.message ?? `${name} fails everything` });
        return;
      }
      const tracker = new PayloadTracker();
      let headersSent = false;
      let hanging = false;
      let index = 0;
      let first: DecodedEchoRequest | undefined;
      // Requests are handled strictly in order.
      let chain: Promise<void> = Promise.resolve();
      call.on("data", (raw: Partial<DecodedEchoRequest>) => {
        const req = decode(raw);
        h.record.requests.push(req);
        tracker.add(req);
        first ??= req;
        chain = chain.then(async () => {
          if (h.record.statusSent || h.record.cancelled || hanging) return;
          if (req.hang) {
            hanging = true;
            return;
          }
          const trailers = trailerMetadata(req, call.metadata);
          if (req.trailersOnly && !headersSent) {
            finish(h);
            call.emit("error", errorFor(req, trailers));
            return;
          }
          if (!(await pause(req.initialDelayMs, h))) return;
          if (!headersSent) {
            call.sendMetadata(headerMetadata(req, call.metadata, name));
            headersSent = true;
          }
          const count = Math.max(1, req.responseCount);
          for (let i = 0; i < count; i++) {
            if (i > 0 && !(await pause(req.intervalMs, h))) return;
            if (!(await writeWithBackpressure(call, response(req, index++, tracker, payloadCache), h))) return;
          }
          if (req.statusCode !== 0) {
            finish(h);
            call.emit("error", errorFor(req, trailers));
          }
        });
      });
      call.on("error", () => undefined);
      call.on("end", () => {
        h.record.halfClosedAt = Date.now();
        // See ClientStream: a reset also ends the readable side; let 'cancelled' arrive first.
        chain = chain.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(() => {
          if (h.record.statusSent || h.record.cancelled || call.cancelled || hanging) return;
          const req = first ?? decode({});
          if (!headersSent) call.sendMetadata(headerMetadata(req, call.metadata, name));
          finish(h);
          call.end(trailerMetadata(req, call.metadata));
        });
      });
    },
  };

  server.addService(echoServiceDefinition, handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });

  let closed = false;
  return {
    port,
    address: `127.0.0.1:${port}`,
    name,
    calls,
    waitForCall(index = 0, timeoutMs = 5000) {
      const existing = calls[index];
      if (existing) return Promise.resolve(existing);
      arrivals[index] ??= deferred<void>();
      return withTimeout(arrivals[index].promise, timeoutMs, `echo server "${name}" waiting for call #${index}`).then(
        () => calls[index],
      );
    },
    async close() {
      // Test servers need no grace: force it, so hanging calls cannot stall cleanup.
      if (closed) return;
      closed = true;
      server.forceShutdown();
    },
    kill() {
      closed = true;
      server.forceShutdown();
    },
  };
}
