/**
 * The sidecar's serving process takes the bootstrap validated by the process that parsed the command
 * (src/cli/sidecar-handoff.ts): it never loads the YAML parser, the reflected proto schema (protobufjs)
 * or the CLI parser, and neither do its workers. Which modules a process loaded is recorded by a loader
 * hook passed in NODE_OPTIONS (kept across the re-exec, inherited by forked workers), written when the
 * process exits, with node's own modules from `process.moduleLoadList`. A plaintext sidecar does not
 * load node:tls or node:http2 either (src/common/lazy-require.ts).
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { HANDOFF_ENV } from "../../src/cli/sidecar-handoff.js";
import { bootstrapYaml } from "../helpers/bootstrap.js";
import { startH2Upstream, type H2Upstream } from "../helpers/h2-upstream.js";
import { runCli, startSidecar } from "../helpers/sidecar.js";
import { http2Request } from "../helpers/util.js";

const RECORDER = `
import { registerHooks } from "node:module";
import { writeFileSync } from "node:fs";
const urls = [];
registerHooks({ load(url, ctx, next) { urls.push(url); return next(url, ctx); } });
process.on("exit", () => {
  for (const m of process.moduleLoadList) if (m.startsWith("NativeModule ")) urls.push("builtin:" + m.slice(13));
  writeFileSync(process.env.PF_MODULES_DIR + "/" + process.pid + ".txt", urls.join("\\n"));
});
`;

/** Library code a serving sidecar must not load (each path part names a package or our CLI parser). */
const PARSE_ONLY = ["/node_modules/yaml/", "/node_modules/protobufjs/", "/node_modules/commander/", "/src/cli/program.ts"];

void describe("the bootstrap handed to the serving process", { timeout: 120_000 }, () => {
  let dir: string;
  let web: H2Upstream;
  let env: NodeJS.ProcessEnv;
  const yaml = (): string =>
    bootstrapYaml({
      listeners: [{ name: "outbound", routes: [{ prefix: "/", cluster: "web" }] }],
      clusters: [{ name: "web", endpoints: [web.port] }],
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pf-handoff-"));
    const recorder = join(dir, "record.mjs");
    await writeFile(recorder, RECORDER);
    web = await startH2Upstream();
    env = { NODE_OPTIONS: `--import=${pathToFileURL(recorder).href}`, PF_MODULES_DIR: dir };
  });
  after(async () => {
    await web?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Modules each process wrote, by pid; the files are removed so the next case starts empty. */
  async function loadedByPid(): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    for (const f of await readdir(dir)) {
      if (!f.endsWith(".txt")) continue;
      out.set(Number(f.slice(0, -4)), (await readFile(join(dir, f), "utf8")).split("\n"));
      await rm(join(dir, f));
    }
    return out;
  }

  async function serves(port: number): Promise<void> {
    const res = await http2Request({ port, path: "/hello" });
    assert.equal(res.headers[":status"], 200);
  }

  void it("serves from the handed-over bootstrap without loading the YAML, schema or CLI libraries (nor, in plaintext, node:tls or node:http2)", async () => {
    const sc = await startSidecar(yaml(), { env });
    await serves(sc.port("outbound"));
    await sc.stop();
    const loaded = await loadedByPid();
    const mine = loaded.get(sc.pid);
    assert.ok(mine !== undefined && mine.length > 0, `no module list from the sidecar (pid ${sc.pid}): ${[...loaded.keys()].join(", ")}`);
    assert.ok(mine.some((u) => u.includes("/src/sidecar/sidecar.ts")), "the list is the serving process's");
    for (const part of PARSE_ONLY) assert.deepEqual(mine.filter((u) => u.includes(part)), [], `the serving sidecar loaded ${part}`);
    assert.ok(mine.includes("builtin:net"), "the list has node's own modules");
    for (const lazy of ["builtin:tls", "builtin:http2"]) assert.ok(!mine.includes(lazy), `a plaintext sidecar loaded ${lazy.slice(8)}`);
  });

  void it("its workers start from it too (--concurrency 2)", async () => {
    const sc = await startSidecar(yaml(), { env, extraArgs: ["--concurrency", "2"], readyTimeoutMs: 60_000 });
    const workers = (sc.logs().find((l) => l.msg === "sidecar ready")?.workers ?? []) as number[];
    assert.equal(workers.length, 2, sc.tail());
    await serves(sc.port("outbound"));
    await sc.stop();
    const loaded = await loadedByPid();
    for (const pid of [sc.pid, ...workers]) {
      const mine = loaded.get(pid);
      assert.ok(mine !== undefined && mine.length > 0, `no module list from pid ${pid} (primary ${sc.pid}, workers ${workers.join(", ")}; lists from ${[...loaded.keys()].join(", ")})`);
      for (const part of PARSE_ONLY) assert.deepEqual(mine.filter((u) => u.includes(part)), [], `pid ${pid} loaded ${part}`);
    }
  });

  void it("without a re-exec (PILOTFISH_NODE_FLAGS empty) the parsing process serves, as before", async () => {
    const sc = await startSidecar(yaml(), { env: { ...env, PILOTFISH_NODE_FLAGS: "" } });
    await serves(sc.port("outbound"));
    await sc.stop();
    const mine = (await loadedByPid()).get(sc.pid) ?? [];
    assert.ok(mine.some((u) => u.includes("/node_modules/yaml/")), "this process parsed the file itself");
  });

  void it("a bad bootstrap is reported by the parsing process, before any re-exec", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, yaml().replace("connect_timeout", "connect_timeoutt"));
    const r = await runCli(["sidecar", "-c", file], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /connect_timeoutt/);
    await loadedByPid();
  });

  void it("a malformed handoff in the environment is refused, naming the variable", async () => {
    const r = await runCli(["sidecar", "-c", "/nonexistent.yaml"], { env: { [HANDOFF_ENV]: "{not json" } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${HANDOFF_ENV} is not a handoff of a pilotfish sidecar`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });
});
