/**
 * The demo's gRPC echo backends and client (proto/pilotfish/demo/v1/echo.proto, loaded at runtime
 * with @grpc/proto-loader from the package's proto/ directory: the same relative path from src/demo
 * under tsx and from dist/demo once compiled).
 *
 * A backend has a behaviour: `healthy` answers in about a millisecond, `slow` adds a fixed delay, and
 * `flaky` answers like `healthy` until `failAfterMs`, then fails every call with UNAVAILABLE for
 * `failForMs`, then recovers. The clock starts with `begin()` (when the demo's traffic starts), so the
 * schedule does not depend on how long start-up took.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

export const DEMO_PROTO_PATH = fileURLToPath(new URL("../../proto/pilotfish/demo/v1/echo.proto", import.meta.url));
/** Full service name; the method path is `/pilotfish.demo.v1.Echo/Echo`. */
export const DEMO_ECHO_SERVICE = "pilotfish.demo.v1.Echo";

export interface EchoRequest {
  message: string;
}
export interface EchoResponse {
  message: string;
  backend: string;
}

interface EchoClientShape extends grpc.Client {
  Echo(req: EchoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<EchoResponse>): grpc.ClientUnaryCall;
}

let loaded: grpc.ServiceClientConstructor | undefined;
function echoConstructor(): grpc.ServiceClientConstructor {
  if (loaded === undefined) {
    const def = protoLoader.loadSync(DEMO_PROTO_PATH, { keepCase: false, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { pilotfish: { demo: { v1: { Echo: grpc.ServiceClientConstructor } } } };
    loaded = pkg.pilotfish.demo.v1.Echo;
  }
  return loaded;
}

/** What a backend does with each call. */
export type BackendBehaviour =
  | { readonly kind: "healthy" }
  | { readonly kind: "slow"; readonly extraDelayMs: number }
  | { readonly kind: "flaky"; readonly failAfterMs: number; readonly failForMs: number };

/**
 * grpc.health.v1.Health/Check, by hand: the request (a service name) is ignored and the response is
 * `HealthCheckResponse { status = 1 }`, two bytes. SERVING, or NOT_SERVING while a flaky backend fails,
 * so a `healthCheck: {grpc: {}}` added to mesh.yaml marks it /failed_active_hc. No .proto needed.
 */
const SERVING = 1;
const NOT_SERVING = 2;
const HEALTH_SERVICE: grpc.ServiceDefinition = {
  Check: {
    path: "/grpc.health.v1.Health/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (status: number) => Buffer.from([0x08, status]),
    responseDeserialize: (b: Buffer) => b[1] ?? 0,
  },
};

/** A backend's state as the view shows it. */
export type BackendState = "serving" | "failing" | "recovered";

export interface DemoBackend {
  readonly name: string;
  readonly behaviour: BackendBehaviour;
  readonly port: number;
  readonly address: string;
  /** Calls received, answered OK, answered with an error. */
  readonly counts: { received: number; ok: number; failed: number };
  /** Starts the behaviour clock (the flaky schedule). */
  begin(now: number): void;
  /** Current state at `now`. */
  state(now: number): BackendState;
  /** Short description of the behaviour, for the view. */
  describe(now: number): string;
  close(): void;
}

/** Base service time of every backend: about a millisecond, a little jitter so percentiles mean something. */
function baseDelayMs(): number {
  return 0.5 + Math.random() * 1.5;
}

/** Starts one echo backend on 127.0.0.1 (port 0 picks one). */
export async function startDemoBackend(name: string, behaviour: BackendBehaviour, port = 0): Promise<DemoBackend> {
  const server = new grpc.Server();
  const counts = { received: 0, ok: 0, failed: 0 };
  let startedAt: number | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const state = (now: number): BackendState => {
    if (behaviour.kind !== "flaky" || startedAt === undefined) return "serving";
    const t = now - startedAt;
    if (t < behaviour.failAfterMs) return "serving";
    if (t < behaviour.failAfterMs + behaviour.failForMs) return "failing";
    return "recovered";
  };

  server.addService(echoConstructor().service, {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) {
      counts.received++;
      if (state(Date.now()) === "failing") {
        counts.failed++;
        cb({ code: grpc.status.UNAVAILABLE, details: `demo backend "${name}" is failing on purpose` });
        return;
      }
      const delay = baseDelayMs() + (behaviour.kind === "slow" ? behaviour.extraDelayMs : 0);
      const timer = setTimeout(() => {
        timers.delete(timer);
        counts.ok++;
        cb(null, { message: call.request.message, backend: name });
      }, delay);
      timers.add(timer);
    },
  });
  server.addService(HEALTH_SERVICE, {
    Check(_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<number>) {
      cb(null, state(Date.now()) === "failing" ? NOT_SERVING : SERVING);
    },
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });

  return {
    name,
    behaviour,
    port: bound,
    address: `127.0.0.1:${bound}`,
    counts,
    begin(now: number) {
      startedAt = now;
    },
    state,
    describe(now: number) {
      switch (behaviour.kind) {
        case "healthy":
          return "ok ~1 ms";
        case "slow":
          return `slow +${behaviour.extraDelayMs} ms`;
        case "flaky": {
          const s = state(now);
          if (startedAt === undefined || s === "recovered") return s === "recovered" ? "recovered" : "ok ~1 ms";
          const t = now - startedAt;
          if (s === "serving") return `fails in ${Math.ceil((behaviour.failAfterMs - t) / 1000)} s`;
          return `UNAVAILABLE ${Math.ceil((behaviour.failAfterMs + behaviour.failForMs - t) / 1000)} s`;
        }
      }
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.forceShutdown();
    },
  };
}

/** A plaintext Echo client (the demo's "application"). */
export class DemoEchoClient {
  private readonly client: EchoClientShape;

  constructor(target: string) {
    const Ctor = echoConstructor();
    this.client = new Ctor(target, grpc.credentials.createInsecure(), {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    }) as unknown as EchoClientShape;
  }

  /** One unary call; resolves with the status code (0 = OK) and the answering backend's name. */
  echo(message: string, deadlineMs: number): Promise<{ code: number; backend: string | undefined }> {
    return new Promise((resolve) => {
      this.client.Echo({ message }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err) resolve({ code: err.code ?? grpc.status.UNKNOWN, backend: undefined });
        else resolve({ code: grpc.status.OK, backend: res?.backend });
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

/** gRPC status code → its name (UNAVAILABLE, DEADLINE_EXCEEDED, ...). */
export function statusName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? String(code);
}
