/**
 * The usual test topology: an Echo server, a sidecar whose listener "outbound" routes the Echo service to
 * cluster "echo" (that server), and an Echo client on the listener. One `close()` tears all of it down.
 */
import { echoBootstrap, type ClusterSpec, type ListenerSpec } from "./bootstrap.js";
import { createEchoClient, type EchoClient } from "./echo-proto.js";
import { startEchoServer, type EchoServer, type EchoServerOptions } from "./echo-server.js";
import { startSidecar, type Sidecar } from "./sidecar.js";

export interface EchoStack {
  echo: EchoServer;
  sidecar: Sidecar;
  /** Client connected to the sidecar's "outbound" listener. */
  client: EchoClient;
  /** The sidecar's "outbound" listener port. */
  port: number;
  close(): Promise<void>;
}

export async function startEchoStack(
  opts: { listener?: Partial<ListenerSpec>; cluster?: Partial<ClusterSpec>; echo?: EchoServerOptions } = {},
): Promise<EchoStack> {
  const echo = await startEchoServer(opts.echo);
  let sidecar: Sidecar;
  try {
    sidecar = await startSidecar(echoBootstrap([echo.port], { listener: opts.listener, cluster: opts.cluster }));
  } catch (err) {
    await echo.close();
    throw err;
  }
  let port: number;
  try {
    port = sidecar.port("outbound");
  } catch (err) {
    await sidecar.stop();
    await echo.close();
    throw err;
  }
  const client = createEchoClient(port);
  return {
    echo,
    sidecar,
    client,
    port,
    async close() {
      client.close();
      await sidecar.stop();
      await echo.close();
    },
  };
}
