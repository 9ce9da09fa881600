/**
 * Promise helpers around the Echo client. Each returns the call's outcome (status, header metadata,
 * messages) instead of throwing on a gRPC error, so tests assert on codes; each is bounded in time and
 * cancels its call when the bound is hit.
 */
import * as grpc from "@grpc/grpc-js";
import type { EventEmitter } from "node:events";
import type { EchoClient, EchoRequest, EchoResponse } from "./echo-proto.js";
import { withTimeout } from "./util.js";

export interface CallOutcome {
  status: grpc.StatusObject;
  /** Response header metadata, if headers arrived (absent on trailers-only responses). */
  headers: grpc.Metadata | undefined;
  messages: EchoResponse[];
  /** Date.now() when the status arrived. */
  endedAt: number;
}

export interface CallOpts {
  metadata?: grpc.Metadata | Record<string, string>;
  /** Deadline in ms from now (sets grpc-timeout). */
  deadlineMs?: number;
  /** Bound on the whole helper (default 10 s); the call is cancelled when it is hit. */
  timeoutMs?: number;
}

export function toMetadata(md: grpc.Metadata | Record<string, string> | undefined): grpc.Metadata {
  if (md instanceof grpc.Metadata) return md;
  const out = new grpc.Metadata();
  for (const [k, v] of Object.entries(md ?? {})) {
    if (k.endsWith("-bin")) out.set(k, Buffer.from(v));
    else out.set(k, v);
  }
  return out;
}

function callOptions(opts: CallOpts): grpc.CallOptions {
  return opts.deadlineMs === undefined ? {} : { deadline: Date.now() + opts.deadlineMs };
}

/** The part of every grpc-js client call the outcome collector uses. */
type AnyCall = EventEmitter & { cancel(): void };

/** Collects metadata, messages and status of any call kind; bounded. */
function outcome(call: AnyCall, label: string, timeoutMs: number, messages: EchoResponse[] = []): Promise<CallOutcome> {
  let headers: grpc.Metadata | undefined;
  call.on("metadata", (md: grpc.Metadata) => {
    headers = md;
  });
  call.on("error", () => undefined); // status carries the error
  const p = new Promise<CallOutcome>((resolve) => {
    call.on("status", (status: grpc.StatusObject) => resolve({ status, headers, messages, endedAt: Date.now() }));
  });
  return withTimeout(p, timeoutMs, `${label}: no status`).catch((err: unknown) => {
    call.cancel();
    throw err;
  });
}

export function unary(client: EchoClient, req: EchoRequest, opts: CallOpts = {}): Promise<CallOutcome> {
  const messages: EchoResponse[] = [];
  const call = client.Unary(req, toMetadata(opts.metadata), callOptions(opts), (_err, res) => {
    if (res) messages.push(res);
  });
  // The unary callback runs before 'status'; messages is filled by then.
  return outcome(call, "Unary", opts.timeoutMs ?? 10_000, messages);
}

/** Server streaming; returns the call too, so a test can cancel or pause it. */
export function serverStream(
  client: EchoClient,
  req: EchoRequest,
  opts: CallOpts & { onMessage?: (msg: EchoResponse, call: grpc.ClientReadableStream<EchoResponse>) => void } = {},
): { call: grpc.ClientReadableStream<EchoResponse>; done: Promise<CallOutcome> } {
  const call = client.ServerStream(req, toMetadata(opts.metadata), callOptions(opts));
  const messages: EchoResponse[] = [];
  call.on("data", (m: EchoResponse) => {
    messages.push(m);
    opts.onMessage?.(m, call);
  });
  return { call, done: outcome(call, "ServerStream", opts.timeoutMs ?? 10_000, messages) };
}

export function clientStream(client: EchoClient, reqs: EchoRequest[], opts: CallOpts = {}): Promise<CallOutcome> {
  const messages: EchoResponse[] = [];
  const call = client.ClientStream(toMetadata(opts.metadata), callOptions(opts), (_err, res) => {
    if (res) messages.push(res);
  });
  const done = outcome(call, "ClientStream", opts.timeoutMs ?? 10_000, messages);
  for (const r of reqs) call.write(r);
  call.end();
  return done;
}

/** Bidi: returns the call for writing, plus the outcome. */
export function bidi(
  client: EchoClient,
  opts: CallOpts & { onMessage?: (msg: EchoResponse, call: grpc.ClientDuplexStream<EchoRequest, EchoResponse>) => void } = {},
): { call: grpc.ClientDuplexStream<EchoRequest, EchoResponse>; done: Promise<CallOutcome> } {
  const call = client.Bidi(toMetadata(opts.metadata), callOptions(opts));
  const messages: EchoResponse[] = [];
  call.on("data", (m: EchoResponse) => {
    messages.push(m);
    opts.onMessage?.(m, call);
  });
  return { call, done: outcome(call, "Bidi", opts.timeoutMs ?? 10_000, messages) };
}

/** Human-readable status for assertion messages. */
export function describeStatus(s: grpc.StatusObject): string {
  return `${grpc.status[s.code] ?? s.code} (${s.code}): ${JSON.stringify(s.details)}`;
}

/** First string value of a metadata key. */
export function mdString(md: grpc.Metadata | undefined, key: string): string | undefined {
  const v = md?.get(key)[0];
  return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString("utf8") : v;
}
