// Correctness gate for test/bench/run.sh: one real request through each target
// before any load is applied.
// Usage: node test/bench/grpc-check.ts '<json array of checks>'
//   check = { id, port, kind: "h2get" | "grpc-fake" | "grpc-echo" | "grpc-stream" | "grpc-hold" }
// Prints one JSON object { id: { ok, detail } } on stdout.
//   h2get:     plain HTTP/2 GET / must return 200 with a 100-byte body.
//   grpc-fake: a @grpc/grpc-js Echo call must return status OK and the fake reply.
//   grpc-echo: a @grpc/grpc-js Echo call must echo the message, and a call with
//              message "fail" must come back as INVALID_ARGUMENT "asked to fail"
//              (the upstream answers it trailers-only).
//   grpc-stream: a server-streaming Stream call must deliver 4 messages of 1 MiB and OK.
//   grpc-hold: three Hold calls must each get response headers while idle, then cancel cleanly.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import http2 from "node:http2";
import path from "node:path";

interface Check {
  id: string;
  port: number;
  kind: "h2get" | "grpc-fake" | "grpc-echo" | "grpc-stream" | "grpc-hold";
}
interface Result {
  ok: boolean;
  detail: string;
}

const FAKE_REPLY = process.env.FAKE_REPLY ?? "";
const checks = JSON.parse(process.argv[2] ?? "[]") as Check[];
const def = protoLoader.loadSync(path.join(import.meta.dirname, "echo.proto"), { keepCase: true, defaults: true });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- dynamic proto-loader service
const pkg = grpc.loadPackageDefinition(def) as any;

function h2get(port: number): Promise<Result> {
  return new Promise((resolve) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, detail: "timeout" });
    }, 5000);
    s.on("error", (e) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `session error: ${e.message}` });
    });
    const req = s.request({ ":path": "/" }, { endStream: true });
    let status = 0;
    let len = 0;
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (c: Buffer) => (len += c.length));
    req.on("error", (e) => {
      clearTimeout(timer);
      s.close();
      resolve({ ok: false, detail: `stream error: ${e.message}` });
    });
    req.on("end", () => {
      clearTimeout(timer);
      s.close();
      const ok = status === 200 && len === 100;
      resolve({ ok, detail: `status ${status}, ${len} B body` });
    });
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- dynamic proto-loader client
function unary(client: any, message: string): Promise<{ err: grpc.ServiceError | null; reply?: { message: string } }> {
  return new Promise((resolve) => {
    client.Echo({ message }, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, reply?: { message: string }) =>
      resolve({ err, reply }),
    );
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- dynamic proto-loader client
function serverStream(client: any): Promise<Result> {
  return new Promise((resolve) => {
    const sizes: number[] = [];
    const call = client.Stream({ message: "go" }, { deadline: Date.now() + 10000 });
    call.on("data", (m: { message: string }) => sizes.push(m.message.length));
    call.on("error", (e: grpc.ServiceError) => resolve({ ok: false, detail: `stream failed after ${sizes.length} messages: ${grpc.status[e.code]} ${e.details}` }));
    call.on("status", (st: grpc.StatusObject) => {
      if (st.code !== grpc.status.OK) return;
      const ok = sizes.length === 4 && sizes.every((n) => n === 1 << 20);
      resolve({ ok, detail: `${sizes.length} messages of ${[...new Set(sizes)].join("/")} B, status OK` });
    });
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- dynamic proto-loader client
async function hold(client: any): Promise<Result> {
  const one = (): Promise<string> =>
    new Promise((resolve) => {
      const call = client.Hold();
      const timer = setTimeout(() => {
        call.cancel();
        resolve("no response headers in 5 s");
      }, 5000);
      call.on("error", (e: grpc.ServiceError) => {
        clearTimeout(timer);
        resolve(e.code === grpc.status.CANCELLED ? "" : `ended with ${grpc.status[e.code]} ${e.details}`);
      });
      call.on("metadata", () => {
        clearTimeout(timer);
        call.cancel();
      });
    });
  const errs = (await Promise.all([one(), one(), one()])).filter(Boolean);
  return errs.length ? { ok: false, detail: errs.join("; ") } : { ok: true, detail: "3 idle streams got headers, cancelled" };
}

async function grpcCheck(port: number, kind: Check["kind"]): Promise<Result> {
  const client = new pkg.echo.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    if (kind === "grpc-stream") return await serverStream(client);
    if (kind === "grpc-hold") return await hold(client);
    const msg = "pilotfish-bench-correctness-gate!";
    const r = await unary(client, msg);
    if (r.err) return { ok: false, detail: `call failed: ${grpc.status[r.err.code]} ${r.err.details}` };
    const want = kind === "grpc-fake" ? FAKE_REPLY : msg;
    if (r.reply?.message !== want) return { ok: false, detail: `wrong reply ${JSON.stringify(r.reply)}` };
    if (kind === "grpc-fake") return { ok: true, detail: "status OK, reply OK" };
    const f = await unary(client, "fail");
    if (!f.err || f.err.code !== grpc.status.INVALID_ARGUMENT || f.err.details !== "asked to fail") {
      const got = f.err ? `${grpc.status[f.err.code]} ${f.err.details}` : "OK";
      return { ok: false, detail: `echo OK, but error status not forwarded (got ${got})` };
    }
    return { ok: true, detail: "echo OK, INVALID_ARGUMENT forwarded" };
  } finally {
    client.close();
  }
}

const out: Record<string, Result> = {};
for (const c of checks) {
  try {
    out[c.id] = c.kind === "h2get" ? await h2get(c.port) : await grpcCheck(c.port, c.kind);
  } catch (e) {
    out[c.id] = { ok: false, detail: `exception: ${(e as Error).message}` };
  }
}
console.log(JSON.stringify(out));
process.exit(0);
