/** watchMeshFile against real file edits: in-place writes, rename-over saves, bad edits, deletion. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type MeshValidation, type MeshWatch, watchMeshFile } from "../../../../src/control-plane/mesh/mesh-source.js";
import { FIXTURES } from "./helpers.js";

/** Queues callbacks so a test can await "the next report" after each edit. */
class Reports {
  private readonly queue: MeshValidation[] = [];
  private waiter: ((r: MeshValidation) => void) | undefined;

  readonly push = (r: MeshValidation): void => {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(r);
    } else this.queue.push(r);
  };

  next(timeoutMs = 5000): Promise<MeshValidation> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no report within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = (r) => {
        clearTimeout(t);
        resolve(r);
      };
    });
  }

  get pending(): number {
    return this.queue.length;
  }
}

const withPort = (text: string, port: number): string => text.replace("127.0.0.1:50052", `127.0.0.1:${port}`);

void describe("watchMeshFile", () => {
  let dir: string;
  let file: string;
  let example: string;
  let watch: MeshWatch;
  const reports = new Reports();

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "pilotfish-mesh-"));
    file = path.join(dir, "mesh.yaml");
    example = await readFile(path.join(FIXTURES, "example.yaml"), "utf8");
    await writeFile(file, example);
    watch = watchMeshFile(file, reports.push, { debounceMs: 50 });
    await watch.ready;
  });

  after(async () => {
    await watch.close();
    await rm(dir, { recursive: true, force: true });
  });

  void test("an in-place edit is reported with the new mesh", async () => {
    await writeFile(file, withPort(example, 50053));
    const r = await reports.next();
    assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.errors));
    assert.equal(r.mesh.upstreams[0].nodes[1].address.port, 50053);
  });

  void test("several quick writes are folded into one report of the last", async () => {
    for (const port of [50060, 50061, 50062]) await writeFile(file, withPort(example, port));
    const r = await reports.next();
    assert.ok(r.ok);
    assert.equal(r.mesh.upstreams[0].nodes[1].address.port, 50062);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(reports.pending, 0);
  });

  void test("a save by rename over the file (vim, VS Code) is reported", async () => {
    const tmp = path.join(dir, ".mesh.yaml.swp");
    await writeFile(tmp, withPort(example, 50070));
    await rename(tmp, file);
    const r = await reports.next();
    assert.ok(r.ok);
    assert.equal(r.mesh.upstreams[0].nodes[1].address.port, 50070);
    // The watch survives the replaced inode: the next in-place edit is seen too.
    await writeFile(file, withPort(example, 50071));
    const r2 = await reports.next();
    assert.ok(r2.ok);
    assert.equal(r2.mesh.upstreams[0].nodes[1].address.port, 50071);
  });

  void test("a bad edit is reported with its errors", async () => {
    await writeFile(file, example.replace("127.0.0.1:50051", "127.0.0.1"));
    const r = await reports.next();
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors, [{ path: "upstreams[0].nodes[0].address", message: '"127.0.0.1" is not host:port' }]);
  });

  void test("an unchanged rewrite reports nothing", async () => {
    await writeFile(file, example);
    assert.ok((await reports.next()).ok);
    await writeFile(file, example);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(reports.pending, 0);
  });

  void test("deletion is an error; re-creation is reported", async () => {
    await unlink(file);
    const r = await reports.next();
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.errors[0].message, /ENOENT/);
    await writeFile(file, withPort(example, 50080));
    const r2 = await reports.next();
    assert.ok(r2.ok);
    assert.equal(r2.mesh.upstreams[0].nodes[1].address.port, 50080);
  });

  void test("no report after close", async () => {
    const other = new Reports();
    const w = watchMeshFile(file, other.push, { debounceMs: 20 });
    await w.ready;
    await writeFile(file, withPort(example, 50090));
    await w.close();
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(other.pending, 0);
    await reports.next(); // the main watch saw that write
  });
});
