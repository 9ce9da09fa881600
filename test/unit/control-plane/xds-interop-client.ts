/**
 * Child process of the xds-interop integration test: a real @grpc/grpc-js-xds client. Its bootstrap
 * comes from GRPC_XDS_BOOTSTRAP_CONFIG (set by the parent; grpc-js-xds reads it once per process and
 * then keeps the event loop alive, hence a child that exits explicitly). Calls `xds:///<argv[2]>` with
 * unary calls and one bidi stream, prints one JSON line with the outcomes, and exits.
 */
import * as grpc from "@grpc/grpc-js";
import { register } from "@grpc/grpc-js-xds";
import { echoPackageDefinition, type EchoClient } from "../../helpers/echo-proto.js";
import { bidi, mdString, unary } from "../../helpers/grpc-client.js";

register();
const target = `xds:///${process.argv[2] ?? "echo"}`;
const loaded = grpc.loadPackageDefinition(echoPackageDefinition) as unknown as {
  pilotfish: { test: { Echo: new (address: string, creds: grpc.ChannelCredentials) => EchoClient } };
};
const client = new loaded.pilotfish.test.Echo(target, grpc.credentials.createInsecure());

const unaryCount = Number(process.argv[3] ?? "4");
const unaries = [];
for (let i = 0; i < unaryCount; i++) {
  const o = await unary(client, { message: `hello-${i}` }, { timeoutMs: 20_000 });
  unaries.push({ code: o.status.code, details: o.status.details, message: o.messages[0]?.message, server: mdString(o.headers, "x-echo-server") });
}
const b = bidi(client, { timeoutMs: 20_000 });
for (const m of ["one", "two", "three"]) b.call.write({ message: m });
b.call.end();
const bo = await b.done;
process.stdout.write(
  JSON.stringify({
    unary: unaries,
    bidi: { code: bo.status.code, details: bo.status.details, messages: bo.messages.map((m) => m.message) },
  }) + "\n",
);
client.close();
process.exit(0);
