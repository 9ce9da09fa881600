/**
 * Runs the real discovery server as a child process (`pilotfish control-plane -c mesh.yaml --port 0
 * --admin-port 0`) and waits for its "control plane ready" log line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI_MAIN, NODE_BIN } from "./sidecar.js";
import { REPO_ROOT } from "./util.js";

export interface ControlPlane {
  readonly xdsPort: number;
  readonly adminPort: number;
  readonly meshFile: string;
  readonly proc: ChildProcess;
  /** Rewrites mesh.yaml (atomically, by rename, as editors do). */
  writeMesh(yaml: string): Promise<void>;
  /** GET on the admin port; parsed JSON. */
  getJson(path: string): Promise<unknown>;
  /** Kills the process (SIGKILL by default) and waits for it. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  output(): string;
}

/** Starts the discovery server on `meshYaml`; `ports` pins the xDS port (for restarts). */
export async function startControlPlane(
  meshYaml: string,
  opts: { dir?: string; xdsPort?: number; adminPort?: number } = {},
): Promise<ControlPlane> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "pilotfish-cp-")));
  const meshFile = join(dir, "mesh.yaml");
  if (opts.dir === undefined) await writeFile(meshFile, meshYaml);
  const args = ["--import", "tsx", CLI_MAIN, "control-plane", "-c", meshFile, "--port", String(opts.xdsPort ?? 0), "--admin-port", String(opts.adminPort ?? 0)];
  const proc = spawn(NODE_BIN, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const ready = new Promise<{ xds: number; admin: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`control plane not ready in 20 s:\n${out}`)), 20_000);
    const onData = (b: Buffer): void => {
      out += b.toString();
      for (const line of out.split("\n")) {
        if (!line.includes('"control plane ready"')) continue;
        const j = JSON.parse(line) as { xds_port: number; admin_port: number };
        clearTimeout(timer);
        resolve({ xds: j.xds_port, admin: j.admin_port });
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", (b: Buffer) => (out += b.toString()));
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`control plane exited (${code}) before ready:\n${out}`));
    });
  });
  const ports = await ready;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    xdsPort: ports.xds,
    adminPort: ports.admin,
    meshFile,
    proc,
    async writeMesh(yaml: string) {
      const tmp = `${meshFile}.tmp-${process.pid}`;
      await writeFile(tmp, yaml);
      const { rename } = await import("node:fs/promises");
      await rename(tmp, meshFile);
    },
    async getJson(path: string) {
      const res = await fetch(`http://127.0.0.1:${ports.admin}${path}`);
      return res.json();
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    output: () => out,
  };
}
