/**
 * zod schemas for mesh.yaml's scalar spellings: durations (`250ms`), `host:port`, names, percents.
 * Each failure message names the offending value, because the CLI prints `path: message` and the
 * user must be able to find the line without opening a debugger.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { parseHumanDuration } from "../../common/duration.js";
import type { HostPort } from "./mesh-model.js";

/** Renders a user value for an error message: strings quoted, objects as compact JSON. */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "nothing";
  try {
    const s = JSON.stringify(value);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    // Cyclic or BigInt-holding values (YAML aliases can build the former).
    return typeof value === "bigint" ? `${value}` : "(unprintable value)";
  }
}

/** Longest duration we accept: Envoy's Duration is fine with more, but a typo (`10000m`) is likelier. */
const MAX_DURATION_MS = 365 * 24 * 3_600_000;

/**
 * A duration: `250ms`, `10s`, `1.5m`, `1h`, or the number 0. A bare non-zero number is refused rather
 * than guessed at (is `5` seconds or milliseconds? APIPark says ms, Envoy users think seconds).
 */
export const duration = z.union([z.string(), z.number()]).transform((v, ctx): number => {
  if (v === 0) return 0;
  if (typeof v === "number") {
    ctx.addIssue({ code: "custom", input: v, message: `${v} has no unit; write e.g. "${v}ms" or "${v}s"` });
    return z.NEVER;
  }
  const ms = parseHumanDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", input: v, message: `${show(v)} is not a duration (e.g. 250ms, 10s, 1m, 1h)` });
    return z.NEVER;
  }
  if (ms > MAX_DURATION_MS) {
    ctx.addIssue({ code: "custom", input: v, message: `${show(v)} is longer than a year` });
    return z.NEVER;
  }
  return ms;
});

/** A duration that must be positive (intervals, timeouts that cannot be "off"). */
export const positiveDuration = duration.refine((ms) => ms > 0, { message: "must be longer than 0" });

/** An integer in [min, max] (inclusive). */
export function intIn(min: number, max: number): z.ZodNumber {
  return z.number().int().min(min).max(max);
}

/** A percent, 0..100, integer (Envoy's UInt32Value percents). */
export const percent = intIn(0, 100);

/**
 * A resource name: what xDS resources are named after and users type into `xds:///`. Letters,
 * digits and `-_.:` only, so names never need quoting in URLs, stats or logs.
 */
export const resourceName = z.string().check((ctx) => {
  const v = ctx.value;
  if (v.length === 0 || v.length > 253 || !/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(v)) {
    ctx.issues.push({
      code: "custom",
      input: v,
      message: `${show(v)} is not a valid name (letters, digits, "-", "_", ".", ":"; starting with a letter or digit)`,
    });
  }
});

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Parses `host:port` / `[v6]:port`; returns a reason when it is not one. */
export function parseHostPort(text: string, allowPortZero: boolean): HostPort | string {
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (isIP(host) !== 6) return `${show(text)} has ${show(host)} in brackets, which is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0 || text.indexOf(":") !== colon) {
      return `${show(text)} is not host:port${text.includes("::") ? " (write IPv6 as [addr]:port)" : ""}`;
    }
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (isIP(host) === 0 && !HOSTNAME.test(host)) return `${show(text)} has ${show(host)}, which is neither an IP address nor a hostname`;
    // A dotted-quad that isIP rejects (e.g. 300.1.1.1) also matches HOSTNAME: call it what it is.
    if (isIP(host) === 0 && /^[\d.]+$/.test(host)) return `${show(text)} has ${show(host)}, which is not a valid IPv4 address`;
  }
  if (!/^\d{1,5}$/.test(portText)) return `${show(text)} is not host:port (port ${show(portText)} is not a number)`;
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !allowPortZero)) {
    return `${show(text)} has port ${port}, outside ${allowPortZero ? 0 : 1}..65535`;
  }
  return { host, port, isIp: isIP(host) !== 0 };
}

/** `host:port` for upstream nodes (port 1..65535). */
export const nodeAddress = z.string().transform((v, ctx): HostPort => hostPortOrIssue(v, false, ctx));

/** `host:port` for listeners (port 0 = any free port). */
export const listenerAddress = z.string().transform((v, ctx): HostPort => hostPortOrIssue(v, true, ctx));

function hostPortOrIssue(v: string, allowPortZero: boolean, ctx: z.RefinementCtx): HostPort {
  const r = parseHostPort(v.trim(), allowPortZero);
  if (typeof r === "string") {
    ctx.addIssue({ code: "custom", input: v, message: r });
    return z.NEVER;
  }
  return r;
}
