// Scenario E of the benchmark: holds many concurrent, idle gRPC streams open through a target.
// Usage: node test/bench/idle-streams.ts <port> <connections> <streams per connection>
//
// Each stream is a bidi call to /echo.Echo/Hold that sends its headers and nothing else; the
// upstream (echo-server.ts) answers with its headers and waits. Once every stream has its response
// headers (so it is established end to end), the client prints `READY <ms to open>` and waits for
// a line on stdin; then it cancels every stream and prints one JSON line:
//   { opened, ended_early }  (ended_early = streams that ended before the client closed them)
// Plain node:http2 rather than grpc-js: the client must stay cheap next to what it measures.
import http2 from "node:http2";
import readline from "node:readline";

const [port, conns, perConn] = process.argv.slice(2).map(Number);
const total = conns * perConn;
const headers = {
  ":method": "POST",
  ":path": "/echo.Echo/Hold",
  "content-type": "application/grpc",
  te: "trailers",
};
const sessions: http2.ClientHttp2Session[] = [];
const streams: http2.ClientHttp2Stream[] = [];
let opened = 0;
let endedEarly = 0;
let closing = false;
const t0 = performance.now();

const fail = (why: string): never => {
  process.stdout.write(`${JSON.stringify({ opened, ended_early: endedEarly, error: why })}\n`);
  process.exit(1);
};
const timer = setTimeout(() => fail(`only ${opened} of ${total} streams opened in 30 s`), 30_000);

for (let c = 0; c < conns; c++) {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on("error", (e) => fail(`session error: ${e.message}`));
  sessions.push(s);
  for (let i = 0; i < perConn; i++) {
    const req = s.request(headers, { endStream: false });
    req.on("response", () => {
      if (++opened === total) {
        clearTimeout(timer);
        process.stdout.write(`READY ${(performance.now() - t0).toFixed(0)}\n`);
      }
    });
    req.on("close", () => {
      if (!closing) endedEarly++;
    });
    req.on("error", () => undefined); // counted by "close"
    streams.push(req);
  }
}

readline.createInterface({ input: process.stdin }).once("line", () => {
  closing = true;
  for (const r of streams) r.close(http2.constants.NGHTTP2_CANCEL);
  for (const s of sessions) s.close();
  process.stdout.write(`${JSON.stringify({ opened, ended_early: endedEarly })}\n`);
  setTimeout(() => process.exit(0), 200).unref();
});
