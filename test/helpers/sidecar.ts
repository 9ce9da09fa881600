/**
 * Runs the real sidecar as a child process (`node --import tsx src/cli/main.ts sidecar -c <file>`), waits
 * for its "sidecar ready" log line, and gives tests its ports, signals, RSS and exit. Also runs other CLI
 * invocations to completion (`runCli`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { deferred, REPO_ROOT, withTimeout } from "./util.js";

export const NODE_BIN = join(REPO_ROOT, "node_modules", ".bin", "node");
/** The CLI entry point; PILOTFISH_IT_CLI overrides it (e.g. to run the suite against another build). */
export const CLI_MAIN = process.env.PILOTFISH_IT_CLI ?? join(REPO_ROOT, "src", "cli", "main.ts");

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Sidecar {
  /** Bound port of each listener, by listener name. */
  readonly listeners: Record<string, number>;
  readonly adminPort: number | null;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Resolves when the process exits. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Parsed JSON log lines from stdout (non-JSON lines are skipped). */
  logs(): Record<string, unknown>[];
  /** Resident set size in KiB, from /proc/<pid>/status (VmRSS). */
  rssKb(): Promise<number>;
  /** Port of a listener, failing clearly if the ready line did not name it. */
  port(listener: string): number;
  /**
   * Sends `signal` (default SIGTERM) and waits for exit, up to `timeoutMs` (default 10 s) before SIGKILL.
   * Idempotent; returns the exit info. Also removes the temp bootstrap.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>;
  /** Last `n` lines of stdout+stderr, for assertion messages. */
  tail(n?: number): string;
}

export interface StartSidecarOptions {
  /** Bound on waiting for readiness (default 20 s). */
  readyTimeoutMs?: number;
  /** File name of the bootstrap (extension selects the format; default bootstrap.yaml). */
  fileName?: string;
  /** Extra CLI args after `-c <file>`. */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Working directory (default the repository root): relative certificate paths resolve here. */
  cwd?: string;
}

function tailOf(text: string, n: number): string {
  return text.split("\n").slice(-n).join("\n");
}

/** Fails the calling test with a clear message when the CLI entry point does not exist yet. */
export function assertCliExists(): void {
  if (!existsSync(CLI_MAIN)) throw new Error(`sidecar CLI not implemented yet: ${CLI_MAIN} does not exist`);
}

/** Writes the bootstrap to a temp file, spawns the sidecar, and waits for its ready line. */
export async function startSidecar(bootstrap: string, opts: StartSidecarOptions = {}): Promise<Sidecar> {
  assertCliExists();
  const dir = await mkdtemp(join(tmpdir(), "pilotfish-it-"));
  const file = join(dir, opts.fileName ?? "bootstrap.yaml");
  await writeFile(file, bootstrap);

  // One in-process sidecar unless the test asks for workers (the CLI's default is one per core).
  const extra = opts.extraArgs ?? [];
  const concurrency = extra.includes("--concurrency") ? [] : ["--concurrency", "1"];
  // `--import tsx` resolves from the working directory: name the loader by path when it is elsewhere.
  const tsx = opts.cwd === undefined ? "tsx" : pathToFileURL(join(REPO_ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
  const proc = spawn(NODE_BIN, ["--import", tsx, CLI_MAIN, "sidecar", "-c", file, ...concurrency, ...extra], {
    cwd: opts.cwd ?? REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...opts.env },
  });
  let out = "";
  let err = "";
  const exitedD = deferred<ExitInfo>();
  proc.on("exit", (code, signal) => exitedD.resolve({ code, signal }));
  proc.on("error", (e) => {
    err += `\n[spawn error] ${e.message}`;
    exitedD.resolve({ code: null, signal: null });
  });

  const ready = deferred<Record<string, unknown>>();
  let lineBuf = "";
  proc.stdout.setEncoding("utf8");
  proc.stderr.setEncoding("utf8");
  proc.stdout.on("data", (chunk: string) => {
    out += chunk;
    lineBuf += chunk;
    let nl: number;
    while ((nl = lineBuf.indexOf("\n")) >= 0) {
      const line = lineBuf.slice(0, nl);
      lineBuf = lineBuf.slice(nl + 1);
      if (!ready.settled && line.includes('"msg":"sidecar ready"')) {
        try {
          ready.resolve(JSON.parse(line) as Record<string, unknown>);
        } catch (e) {
          ready.reject(new Error(`unparseable ready line: ${line} (${String(e)})`));
        }
      }
    }
  });
  proc.stderr.on("data", (chunk: string) => {
    err += chunk;
  });
  void exitedD.promise.then((info) => {
    if (!ready.settled) {
      ready.reject(
        new Error(
          `sidecar exited before ready (code ${info.code}, signal ${info.signal})\n--- stdout ---\n${tailOf(out, 40)}\n--- stderr ---\n${tailOf(err, 40)}`,
        ),
      );
    }
  });

  let stopped: Promise<ExitInfo> | undefined;
  const stop = (signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<ExitInfo> => {
    stopped ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const info = await withTimeout(exitedD.promise, timeoutMs, `sidecar exit after ${signal}`).catch(async () => {
        proc.kill("SIGKILL");
        return exitedD.promise;
      });
      await rm(dir, { recursive: true, force: true });
      return info;
    })();
    return stopped;
  };

  let readyLine: Record<string, unknown>;
  try {
    readyLine = await withTimeout(ready.promise, opts.readyTimeoutMs ?? 20_000, "sidecar ready line").catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- stdout ---\n${tailOf(out, 40)}\n--- stderr ---\n${tailOf(err, 40)}`);
    });
  } catch (e) {
    await stop("SIGKILL", 5000);
    throw e;
  }

  const listeners: Record<string, number> = {};
  const rawListeners = readyLine.listeners;
  if (rawListeners && typeof rawListeners === "object") {
    for (const [k, v] of Object.entries(rawListeners as Record<string, unknown>)) {
      if (typeof v === "number") listeners[k] = v;
    }
  }
  const adminPort = typeof readyLine.admin_port === "number" ? readyLine.admin_port : null;

  return {
    listeners,
    adminPort,
    proc,
    pid: proc.pid!,
    exited: exitedD.promise,
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    async rssKb() {
      const status = await readFile(`/proc/${proc.pid}/status`, "utf8");
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (!m) throw new Error(`no VmRSS in /proc/${proc.pid}/status`);
      return Number(m[1]);
    },
    port(name: string) {
      const p = listeners[name];
      if (p === undefined) {
        throw new Error(`ready line names no listener "${name}": ${JSON.stringify(readyLine)}`);
      }
      return p;
    },
    stop,
    tail: (n = 30) => `--- stdout ---\n${tailOf(out, n)}\n--- stderr ---\n${tailOf(err, n)}`,
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `pilotfish <args>` to completion (bounded; killed after `timeoutMs`, default 20 s). */
export async function runCli(args: string[], opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  assertCliExists();
  const proc = spawn(NODE_BIN, ["--import", "tsx", CLI_MAIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...opts.env },
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  proc.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on("exit", (code, signal) => resolve({ code, signal }));
    proc.on("error", (e) => {
      stderr += `\n[spawn error] ${e.message}`;
      resolve({ code: null, signal: null });
    });
  });
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const info = await withTimeout(exited, timeoutMs, `pilotfish ${args.join(" ")}`).catch(async () => {
    proc.kill("SIGKILL");
    await exited;
    throw new Error(`pilotfish ${args.join(" ")} did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  });
  // Let the pipes drain: 'close' comes after 'exit' once stdio is flushed.
  await withTimeout(
    new Promise<void>((resolve) => (proc.stdout.readableEnded && proc.stderr.readableEnded ? resolve() : proc.once("close", () => resolve()))),
    2000,
    "stdio close",
  ).catch(() => undefined);
  return { ...info, stdout, stderr };
}

/** Writes `content` to a fresh temp dir; returns the path and a cleanup function. */
export async function tempFile(name: string, content: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "pilotfish-it-"));
  const path = join(dir, name);
  await writeFile(path, content);
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
