/** Option parsers shared by subcommands (kept light: main.ts imports this before any subcommand). */
import { InvalidArgumentError } from "commander";

/** A TCP port, 0..65535 (0 picks a free one); commander turns a throw into a usage error. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError(`invalid port "${value}": expected 0..65535`);
  return n;
}

/** A positive number of seconds (or a rate). */
export function parsePositiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive number`);
  return n;
}

/** A worker count, 1..256. */
export function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 256) throw new InvalidArgumentError(`invalid concurrency "${value}": expected 1..256`);
  return n;
}
