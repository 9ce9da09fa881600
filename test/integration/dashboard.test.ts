/**
 * The mesh dashboard (/ui on the discovery server's admin port) in headless Chromium, driven by
 * playwright-core, against real processes: the discovery server, a sidecar taking its config over ADS,
 * and two gRPC backends. The page shows the node with its ACKed xDS versions and the cluster with both
 * endpoints; when one backend starts failing, outlier detection ejects it and the page shows the
 * ejection, with the same flags as the sidecar's own /clusters; a rejected mesh edit shows its error.
 *
 * Needs Debian's chromium at /usr/bin/chromium (.ci/run installs it; PILOTFISH_CHROMIUM overrides the
 * path). DASHBOARD_SCREENSHOT_DIR=docs/screenshots saves the screenshots of docs/dashboard.md.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { adsSidecarBootstrap, type ControlPlane, echoMeshYaml, startControlPlane } from "../helpers/control-plane.js";
import { createEchoClient, echoServiceDefinition, type EchoClient, type EchoResponse } from "../helpers/echo-proto.js";
import { startEchoServer, type EchoServer } from "../helpers/echo-server.js";
import { unary } from "../helpers/grpc-client.js";
import { NODE_BIN, startSidecar, type Sidecar } from "../helpers/sidecar.js";
import { REPO_ROOT, until } from "../helpers/util.js";

const CHROMIUM = process.env.PILOTFISH_CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOT_DIR = process.env.DASHBOARD_SCREENSHOT_DIR;

/** Builds dist/ui when missing (CI builds it in `npm ci`; a fresh checkout running only tests may not). */
function ensureBundle(): void {
  if (existsSync(join(REPO_ROOT, "dist", "ui", "index.html"))) return;
  const vite = join(REPO_ROOT, "node_modules", "vite", "bin", "vite.js");
  const out = spawnSync(NODE_BIN, [vite, "build", "--config", "ui/vite.config.ts"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(out.status, 0, `vite build failed:\n${out.stdout}\n${out.stderr}`);
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A gRPC Echo backend (Unary only) that answers OK until `fail()`, then trailers-only UNAVAILABLE. */
async function startSwitchableBackend(): Promise<{ port: number; fail(): void; close(): Promise<void> }> {
  let failing = false;
  const server = new grpc.Server();
  server.addService(echoServiceDefinition, {
    Unary(call: grpc.ServerUnaryCall<{ message?: string }, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) {
      if (failing) {
        cb({ code: grpc.status.UNAVAILABLE, details: "backend failing" });
        return;
      }
      cb(null, { message: call.request.message ?? "", payload: Buffer.alloc(0), index: 0, receivedSize: 0, receivedSha256: "", receivedCount: 1 });
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))),
  );
  return {
    port,
    fail: () => {
      failing = true;
    },
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}




/** Least request with one retry, and outlier detection quick to eject and slow to return. */
const DASHBOARD_UPSTREAM = [
  "    balance: least_request",
  "    connectTimeout: 1s",
  "    retries: 1",
  "    outlierDetection:",
  "      consecutive5xx: 3",
  "      interval: 1s",
  "      baseEjectionTime: 60s",
  "      maxEjectionPercent: 50",
];

interface SidecarHost {
  address: { socket_address: { address: string; port_value: number } };
  health_status: { flags: string };
}

/** The sidecar's own /clusters?format=json view of one host of cluster `echo`. */
async function sidecarHost(sc: Sidecar, port: number): Promise<SidecarHost | undefined> {
  const res = await fetch(`http://127.0.0.1:${sc.adminPort}/clusters?format=json`);
  const body = (await res.json()) as { cluster_statuses: Array<{ name: string; host_statuses: SidecarHost[] }> };
  return body.cluster_statuses.find((c) => c.name === "echo")?.host_statuses.find((h) => h.address.socket_address.port_value === port);
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (SCREENSHOT_DIR === undefined) return;
  const dir = resolve(REPO_ROOT, SCREENSHOT_DIR);
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name), fullPage: true });
}

void describe("mesh dashboard in headless Chromium", { timeout: 120_000 }, () => {
  let cp: ControlPlane | undefined;
  let sc: Sidecar | undefined;
  let good: EchoServer | undefined;
  let flaky: Awaited<ReturnType<typeof startSwitchableBackend>> | undefined;
  let client: EchoClient | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let trafficOn = false;
  let traffic: Promise<void> | undefined;
  after(async () => {
    trafficOn = false;
    await traffic;
    await context?.close();
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
    client?.close();
    await sc?.stop();
    await cp?.kill();
    await good?.close();
    await flaky?.close();
  });

  void test("shows the node, its xDS state, the cluster, an ejection and a rejected mesh edit", async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    ensureBundle();

    good = await startEchoServer({ name: "good" });
    flaky = await startSwitchableBackend();
    const listenerPort = await freePort();
    const mesh = echoMeshYaml({ ports: [good.port, flaky.port], listenerPort, upstream: DASHBOARD_UPSTREAM, listenerNodeCluster: "frontend" });
    cp = await startControlPlane(mesh);
    sc = await startSidecar(adsSidecarBootstrap(cp.xdsPort));
    const cl = (client = createEchoClient(listenerPort));
    await until("the listener from mesh.yaml to serve", 10_000, async () => (await unary(cl, { message: "hi" }, { deadlineMs: 1000 })).status.code === grpc.status.OK);

    // The API behind the page: the sidecar announced its bound admin address; the proxy reaches it.
    const cpRef = cp;
    const nodes = (await cpRef.getJson("/ui/api/nodes")) as { nodes: Array<{ id: string; admin: string | null }> };
    assert.deepEqual(
      nodes.nodes.map((n) => [n.id, n.admin]),
      [["frontend-1", `127.0.0.1:${sc.adminPort}`]],
    );
    const missing = await fetch(`http://127.0.0.1:${cp.adminPort}/ui/api/nodes/nobody/clusters`);
    assert.equal(missing.status, 404);

    // Steady traffic through the sidecar for the whole test (bounded: stops with the test).
    trafficOn = true;
    traffic = (async () => {
      while (trafficOn) {
        await unary(cl, { message: "steady" }, { deadlineMs: 2000 });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    profile = await mkdtemp(join(tmpdir(), "pilotfish-chromium-"));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    page.on("response", (r) => {
      if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`http://127.0.0.1:${cp.adminPort}/ui`);
    assert.equal(new URL(page.url()).pathname, "/ui/");
    assert.equal(await page.title(), "Pilotfish mesh");

    // The node, with every xDS type ACKed.
    const node = page.locator('[data-testid="node"][data-node-id="frontend-1"]');
    await node.waitFor({ timeout: 10_000 });
    assert.match(await node.innerText(), /cluster\s+frontend/);
    await until("CDS, EDS, LDS and RDS in sync on the page", 10_000, async () => {
      const states = await node.locator('[data-testid="xds-type"]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute("data-type")}=${r.getAttribute("data-state")}`));
      return ["cds", "eds", "lds", "rds"].every((t) => states.includes(`${t}=in sync`));
    });

    // The cluster with both endpoints, healthy, and a live success rate.
    const cluster = node.locator('[data-testid="cluster"][data-cluster="echo"]');
    await cluster.waitFor({ timeout: 10_000 });
    const goodRow = cluster.locator(`[data-testid="host"][data-host="127.0.0.1:${good.port}"]`);
    const flakyRow = cluster.locator(`[data-testid="host"][data-host="127.0.0.1:${flaky.port}"]`);
    await goodRow.waitFor({ timeout: 5000 });
    await flakyRow.waitFor({ timeout: 5000 });
    assert.equal(await flakyRow.getAttribute("data-flags"), "healthy");
    assert.match(await flakyRow.innerText(), /healthy/);
    await until("a 100 % recent success rate for the good endpoint", 10_000, async () => (await goodRow.locator('[data-testid="success-recent"]').innerText()).includes("100 %"));
    await screenshot(page, "dashboard-healthy.png");

    // The flaky backend starts failing: outlier detection ejects it, and the page shows it.
    flaky.fail();
    const scRef = sc;
    const flakyPort = flaky.port;
    let sidecarFlags = "";
    await until("the sidecar to eject the failing endpoint", 20_000, async () => {
      sidecarFlags = (await sidecarHost(scRef, flakyPort))?.health_status.flags ?? "";
      return sidecarFlags.includes("/failed_outlier_check");
    });
    await until("the page to show the ejection", 5000, async () => (await flakyRow.getAttribute("data-ejected")) === "true");
    // What the page shows is what the sidecar says (the ejection lasts 60 s: the flags are stable).
    assert.equal(await flakyRow.getAttribute("data-flags"), (await sidecarHost(scRef, flakyPort))?.health_status.flags);
    assert.match(await flakyRow.innerText(), /ejected: outlier detection/);
    assert.equal(await goodRow.getAttribute("data-flags"), "healthy");
    assert.match(await cluster.locator("h4").innerText(), /1 ejected/);
    assert.equal(await page.locator('[data-testid="ejected-count"]').innerText(), "1");
    // Let the recent success rate of the failing endpoint show its failures before the screenshot.
    await until("a recent success rate below 100 % for the failing endpoint", 10_000, async () => !(await flakyRow.locator('[data-testid="success-recent"]').innerText()).includes("100 %"));
    await screenshot(page, "dashboard.png");

    // The mesh in force, then a rejected edit with its error path; the old mesh stays shown.
    const meshPanel = page.locator('[data-testid="mesh"]');
    assert.match(await meshPanel.locator('[data-testid="mesh-status"]').innerText(), /valid/);
    assert.match(await meshPanel.locator('[data-testid="mesh-yaml"]').textContent() ?? "", new RegExp(`127\\.0\\.0\\.1:${good.port}`));
    await cp.writeMesh("upstreams:\n  - name: echo\n    nodes: [ { address: nowhere } ]\n");
    await until("the page to show the rejected edit", 10_000, async () => /rejected/.test(await meshPanel.locator('[data-testid="mesh-status"]').innerText()));
    assert.match(await meshPanel.locator('[data-testid="mesh-status"]').innerText(), /nodes/);
    assert.match(await meshPanel.locator('[data-testid="mesh-yaml"]').textContent() ?? "", new RegExp(`127\\.0\\.0\\.1:${good.port}`));
    await meshPanel.locator("summary").click();
    await meshPanel.scrollIntoViewIfNeeded();
    await screenshot(page, "dashboard-mesh-error.png");

    assert.deepEqual(pageErrors, [], "the page logged no error");
  });
});
