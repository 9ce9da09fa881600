/**
 * An Echo server (Unary only) with a per-server service time and concurrency limit, plus the
 * grpc.health.v1.Health service with a status the test can flip: a backend that is slow, overloaded
 * or failing its health checks, for the balancing and health-check integration tests.
 */
import * as grpc from "@grpc/grpc-js";
import { echoServiceDefinition, type EchoResponse } from "./echo-proto.js";

export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2 } as const;

export interface HealthEchoOptions {
  name?: string;
  /** Time each Unary call takes once it has a slot, ms (default 0). */
  serviceTimeMs?: number;
  /** Calls processed at once; others queue (default unlimited). */
  concurrency?: number;
}

export interface HealthEchoServer {
  readonly port: number;
  readonly name: string;
  /** Unary calls received (Date.now() at arrival). */
  readonly arrivals: number[];
  /** Health checks received. */
  healthChecks: number;
  /** Sets the status for `service` ("" is the whole server; default SERVING for ""). */
  setStatus(status: number, service?: string): void;
  close(): Promise<void>;
}

const HEALTH_CHECK: grpc.MethodDefinition<Buffer, Buffer> = {
  path: "/grpc.health.v1.Health/Check",
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

/** HealthCheckRequest.service (field 1) from its bytes. */
function serviceOf(buf: Buffer): string {
  if (buf.length < 2 || buf[0] !== 0x0a) return "";
  let len = 0;
  let shift = 0;
  let i = 1;
  for (; i < buf.length; i++) {
    len |= (buf[i] & 0x7f) << shift;
    shift += 7;
    if ((buf[i] & 0x80) === 0) break;
  }
  return buf.subarray(i + 1, i + 1 + len).toString("utf8");
}

export async function startHealthEchoServer(opts: HealthEchoOptions = {}): Promise<HealthEchoServer> {
  const name = opts.name ?? "echo";
  const serviceTime = opts.serviceTimeMs ?? 0;
  const limit = opts.concurrency ?? Number.POSITIVE_INFINITY;
  const statuses = new Map<string, number>([["", ServingStatus.SERVING]]);
  const arrivals: number[] = [];
  let busy = 0;
  const queue: Array<() => void> = [];
  const release = (): void => {
    busy--;
    const next = queue.shift();
    if (next) {
      busy++;
      next();
    }
  };
  const server = new grpc.Server();
  const self: HealthEchoServer = {
    port: 0,
    name,
    arrivals,
    healthChecks: 0,
    setStatus(status, service = "") {
      statuses.set(service, status);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
  server.addService(echoServiceDefinition, {
    Unary: (call: grpc.ServerUnaryCall<{ message?: string }, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) => {
      arrivals.push(Date.now());
      const run = (): void => {
        setTimeout(() => {
          release();
          cb(null, { message: call.request.message ?? "", payload: Buffer.alloc(0), index: 0, receivedSize: 0, receivedSha256: "", receivedCount: 1 });
        }, serviceTime);
      };
      if (busy < limit) {
        busy++;
        run();
      } else {
        queue.push(run);
      }
    },
  });
  server.addService({ Check: HEALTH_CHECK }, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      self.healthChecks++;
      const s = statuses.get(serviceOf(call.request));
      if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: "unknown service" });
      else cb(null, Buffer.from([0x08, s]));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  (self as { port: number }).port = port;
  return self;
}
