// @grpc/grpc-js Echo server: the "real gRPC upstream" of scenario C.
// Usage: node test/bench/echo-server.ts <port>
// Echo(EchoRequest{message}) -> EchoReply{message}. A request whose message is
// "fail" is answered with INVALID_ARGUMENT (a trailers-only response), so the
// harness can check that proxies forward gRPC error statuses.
// Stream sends 4 messages of 1 MiB; Hold (scenario E) answers with headers at once and then
// holds the stream, idle, until the client cancels or half-closes.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import path from "node:path";

const port = Number(process.argv[2] ?? "18003");
const def = protoLoader.loadSync(path.join(import.meta.dirname, "echo.proto"), {
  keepCase: true,
  defaults: true,
});
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- dynamic proto-loader service
const pkg = grpc.loadPackageDefinition(def) as any;

const server = new grpc.Server();
server.addService(pkg.echo.Echo.service, {
  Echo: (call: grpc.ServerUnaryCall<{ message: string }, { message: string }>, cb: grpc.sendUnaryData<{ message: string }>) => {
    if (call.request.message === "fail") {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: "asked to fail" });
      return;
    }
    cb(null, { message: call.request.message });
  },
  Stream: (call: grpc.ServerWritableStream<{ message: string }, { message: string }>) => {
    const mib = "x".repeat(1 << 20);
    for (let i = 0; i < 4; i++) call.write({ message: mib });
    call.end();
  },
  Hold: (call: grpc.ServerDuplexStream<{ message: string }, { message: string }>) => {
    call.sendMetadata(new grpc.Metadata());
    call.on("end", () => call.end());
    call.on("error", () => undefined); // cancelled by the client: nothing to do
  },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(`echo-server listening on 127.0.0.1:${port}`);
});
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
