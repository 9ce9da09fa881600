// The demo application for deploy/ (compose and Kubernetes): the demo's gRPC Echo service from the
// built package (dist/demo/echo-service.js), in one of two roles.
//
//   node deploy/demo-app/echo-app.mjs server   Echo backend on 127.0.0.1:$PORT (default 50051), beside its sidecar
//   node deploy/demo-app/echo-app.mjs client   calls Echo through its sidecar at $TARGET (default 127.0.0.1:15001),
//                                              $RATE calls per second (default 5), and prints a summary every 5 s
//
// The app itself does no tracing: each sidecar makes the spans and propagates the context.
import { DemoEchoClient, startDemoBackend, statusName } from "../../dist/demo/echo-service.js";

const role = process.argv[2];
const name = process.env.HOSTNAME ?? "echo";

if (role === "server") {
  const port = Number(process.env.PORT ?? 50051);
  const backend = await startDemoBackend(name, { kind: "healthy" }, port);
  backend.begin(Date.now());
  console.log(JSON.stringify({ msg: "echo server listening", address: backend.address }));
  const stop = () => {
    backend.close();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else if (role === "client") {
  const target = process.env.TARGET ?? "127.0.0.1:15001";
  const rate = Math.max(0.1, Number(process.env.RATE ?? 5));
  const client = new DemoEchoClient(target);
  const counts = new Map();
  let n = 0;
  const timer = setInterval(() => {
    n++;
    void client.echo(`hello ${n}`, 2000).then(({ code }) => {
      const k = statusName(code);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    });
  }, 1000 / rate);
  const report = setInterval(() => {
    console.log(JSON.stringify({ msg: "echo client", target, calls: Object.fromEntries(counts) }));
    counts.clear();
  }, 5000);
  const stop = () => {
    clearInterval(timer);
    clearInterval(report);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  console.error("usage: echo-app.mjs server|client");
  process.exit(2);
}
