/**
 * The demo's terminal output, as pure functions of the samples: a live screen redrawn in place when
 * stdout is a TTY (plain ANSI: cursor home, clear to end of line/screen), one line per second plus one
 * line per event otherwise (pipes, CI, the integration test), and the summary at the end.
 */
import type { DemoAddresses, DemoEvent, DemoMesh, HostView, Sample } from "./demo.js";
import { formatMs } from "./latency.js";

const ESC = "\x1b[";
const bold = (s: string, tty: boolean): string => (tty ? `${ESC}1m${s}${ESC}0m` : s);
const color = (s: string, code: number, tty: boolean): string => (tty ? `${ESC}${code}m${s}${ESC}0m` : s);
const RED = 31;
const GREEN = 32;
const YELLOW = 33;
const DIM = 2;

export function clock(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function pct(part: number, whole: number): string {
  return whole === 0 ? "-" : `${((100 * part) / whole).toFixed(1)}%`;
}

function successRate(s: { requests: number; ok: number }): string {
  return s.requests === 0 ? "-" : pct(s.ok, s.requests);
}

function errorsText(errors: ReadonlyMap<string, number>): string {
  return [...errors].map(([k, v]) => `${k} ${v}`).join(", ");
}

function hostLabel(h: HostView): string {
  return h.backend?.name ?? "(added)";
}

/** The banner printed once, before traffic starts: what runs where and how to play with it. */
export function banner(a: DemoAddresses, durationSec: number | undefined, otlpEndpoint: string | undefined): string {
  const traces =
    otlpEndpoint !== undefined && otlpEndpoint !== ""
      ? `traces     sent to ${otlpEndpoint} (OTEL_EXPORTER_OTLP_ENDPOINT)`
      : "traces     not exported: set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. run Jaeger\n" +
        "           (docker run --rm -p 16686:16686 -p 4318:4318 jaegertracing/all-in-one) and start the demo with\n" +
        "           OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm start; then open http://127.0.0.1:16686";
  return [
    "Pilotfish demo: app → client sidecar → server sidecar → 3 gRPC echo backends, configured over xDS",
    "",
    `mesh.yaml  ${a.meshFile}`,
    "           edit and save it: the discovery server pushes the change to both sidecars within a second",
    `dashboard  http://127.0.0.1:${a.controlPlaneAdmin}/ui   (discovery server admin: /ui /nodes /config /metrics)`,
    `app        grpc 127.0.0.1:${a.outbound} (client sidecar, listener "outbound"; service pilotfish.demo.v1.Echo)`,
    `sidecars   client admin http://127.0.0.1:${a.clientAdmin}/clusters   server admin http://127.0.0.1:${a.serverAdmin}/clusters`,
    `           server sidecar inbound 127.0.0.1:${a.inbound}; discovery server xDS 127.0.0.1:${a.xdsPort}`,
    traces,
    `logs       ${a.logFile}`,
    durationSec !== undefined ? `stops after ${durationSec} s (or Ctrl-C)` : "Ctrl-C stops it",
    "",
  ].join("\n");
}

/** One line per second (non-TTY). */
export function line(s: Sample): string {
  const total = s.hosts.reduce((n, h) => n + h.requests, 0);
  const shares = s.hosts.map((h) => `${hostLabel(h)}=${pct(h.requests, total)}`).join(" ");
  const health = s.hosts.map((h) => `${hostLabel(h)}=${h.health}`).join(" ");
  const errs = s.errors.size > 0 ? ` errors: ${errorsText(s.errors)}` : "";
  return `[${clock(s.elapsedSec)}] rps=${s.rps} success=${successRate(s)} p50=${formatMs(s.p50)} p99=${formatMs(s.p99)} share: ${shares} health: ${health}${errs}`;
}

/** One event line (non-TTY). */
export function eventLine(e: DemoEvent): string {
  return `[${clock(e.elapsedSec)}] event: ${e.text}`;
}

/** The live screen (TTY): header, traffic, per-backend table, recent events. */
export function screen(
  a: DemoAddresses,
  s: Sample,
  events: readonly DemoEvent[],
  demo: DemoMesh,
  durationSec: number | undefined,
  rows: number,
  otlpEndpoint: string | undefined,
): string {
  const tty = true;
  const now = Date.now();
  const out: string[] = [];
  const left = durationSec !== undefined ? `, ${Math.max(0, Math.ceil(durationSec - s.elapsedSec))} s left` : "";
  out.push(`${bold("Pilotfish demo", tty)}  ${clock(s.elapsedSec)}${left}   (Ctrl-C stops it)`);
  out.push(color(`mesh.yaml ${a.meshFile}   dashboard http://127.0.0.1:${a.controlPlaneAdmin}/ui`, DIM, tty));
  out.push(color(`app → 127.0.0.1:${a.outbound} (client sidecar) → 127.0.0.1:${a.inbound} (server sidecar) → backends`, DIM, tty));
  out.push(
    color(
      `sidecar admin: client http://127.0.0.1:${a.clientAdmin}/clusters  server http://127.0.0.1:${a.serverAdmin}/clusters   traces: ` +
        (otlpEndpoint ? otlpEndpoint : "off (set OTEL_EXPORTER_OTLP_ENDPOINT, see docs/demo.md)"),
      DIM,
      tty,
    ),
  );
  out.push("");
  const rate = s.requests === 0 ? 1 : s.ok / s.requests;
  const sr = color(successRate(s), rate >= 0.999 ? GREEN : rate >= 0.95 ? YELLOW : RED, tty);
  out.push(`  ${bold("rps", tty)} ${String(s.rps).padStart(4)}   ${bold("success", tty)} ${sr}   ${bold("p50", tty)} ${formatMs(s.p50)}   ${bold("p99", tty)} ${formatMs(s.p99)}   in flight ${s.inFlight}`);
  out.push(s.errors.size > 0 ? color(`  errors: ${errorsText(s.errors)}`, RED, tty) : "");
  out.push("");
  const total = s.hosts.reduce((n, h) => n + h.requests, 0);
  out.push(bold(`  ${"backend".padEnd(9)}${"address".padEnd(18)}${"behaviour".padEnd(20)}${"share".padStart(7)}${"rq/s".padStart(6)}  ${"active".padStart(6)}  health (server sidecar)`, tty));
  for (const h of s.hosts) {
    const share = total === 0 ? 0 : h.requests / total;
    const bar = "█".repeat(Math.round(share * 20)).padEnd(20, "·");
    const behaviour = h.backend?.describe(now) ?? "not a demo backend";
    const failing = h.backend?.state(now) === "failing";
    const health = h.health === "healthy" ? color("healthy", GREEN, tty) : color(h.health, RED, tty);
    out.push(
      `  ${hostLabel(h).padEnd(9)}${h.key.padEnd(18)}${color(behaviour.padEnd(20), failing ? RED : 0, tty)}${pct(h.requests, total).padStart(7)}${String(h.requests).padStart(6)}  ${String(h.active).padStart(6)}  ${health}`,
    );
    out.push(`  ${" ".repeat(27)}${color(bar, DIM, tty)}`);
  }
  if (s.hosts.length === 0) out.push("  (the server sidecar has no hosts for upstream echo: check mesh.yaml)");
  out.push("");
  out.push(bold("  events", tty));
  const room = Math.max(3, rows - out.length - 1);
  const recent = events.slice(-room);
  if (recent.length === 0) out.push(color("  (none yet: the flaky backend starts failing at " + clock(demo.options.failAfterMs / 1000) + ")", DIM, tty));
  for (const e of recent) out.push(`  ${clock(e.elapsedSec)}  ${e.text}`);
  // Home, each line cleared to its end, then clear below: redraws in place without flicker.
  return `${ESC}H` + out.map((l) => `${l}${ESC}K`).join("\n") + `\n${ESC}J`;
}

/** The summary printed at the end. */
export function summary(demo: DemoMesh, reason: string): string {
  const load = demo.load;
  const out: string[] = [];
  const elapsed = demo.elapsedSec();
  out.push("");
  out.push(`Pilotfish demo summary (${reason} after ${elapsed.toFixed(1)} s of traffic)`);
  if (load !== undefined) {
    const t = load.total;
    const errs = t.errors.size > 0 ? ` (${errorsText(t.errors)})` : "";
    out.push(
      `  requests ${t.requests} (${elapsed > 0 ? Math.round(t.requests / elapsed) : 0}/s), ok ${t.ok}, failed ${t.requests - t.ok}${errs}; success ${successRate(t)}`,
    );
    out.push(
      `  latency p50 ${formatMs(t.histogram.quantile(0.5))}, p99 ${formatMs(t.histogram.quantile(0.99))}, max ${formatMs(t.histogram.max)}`,
    );
  }
  const served = demo.backends.reduce((n, b) => n + b.counts.received, 0);
  for (const b of demo.backends) {
    out.push(
      `  backend ${b.name.padEnd(8)} ${b.address.padEnd(16)} received ${String(b.counts.received).padStart(6)} (${pct(b.counts.received, served)}), ok ${b.counts.ok}, failed ${b.counts.failed}`,
    );
  }
  const ejections = demo.events.filter((e) => e.text.includes("ejected by outlier detection")).length;
  out.push(`  events ${demo.events.length}, ejections ${ejections}`);
  for (const e of demo.events) out.push(`    ${clock(e.elapsedSec)}  ${e.text}`);
  out.push("");
  return out.join("\n");
}
