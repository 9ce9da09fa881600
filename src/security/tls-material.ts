/**
 * Certificate material read from PEM files and kept current: each file is polled (stat follows
 * symlinks, so a Kubernetes secret volume's `..data` swap and a rename over the file both show as a
 * new inode or mtime); a change reloads every file of the set, checks each parses and that key and
 * certificate belong together, then swaps the material in. Bad new files keep the old material and
 * log an error naming the file. Sets are shared by file paths, so a certificate used by many
 * clusters is watched and parsed once.
 */
import { readFileSync, unwatchFile, watchFile, type Stats } from "node:fs";
import type * as tls from "node:tls";
import { nodeCrypto, nodeTls } from "../common/lazy-require.js";
import { createLogger, type Logger } from "../common/logger.js";

/** How often watched files are stat'ed, ms (`PILOTFISH_CERT_POLL_MS` overrides; default 1000). */
const POLL_MS = Number(process.env.PILOTFISH_CERT_POLL_MS ?? 1000);
/** Writers replace cert and key one after the other: wait this long after a change before reading. */
const SETTLE_MS = 100;

/** The files of one TLS identity; each is optional. */
export interface TlsFiles {
  /** PEM certificate chain. */
  readonly cert?: string | undefined;
  /** PEM private key (with cert). */
  readonly key?: string | undefined;
  /** PEM CA bundle for verifying the peer. */
  readonly ca?: string | undefined;
}

/** One loaded generation of the files. */
export interface TlsMaterialVersion {
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly ca: Buffer | undefined;
  /** A client-side secure context holding all three (reused by every new upstream connection). */
  readonly context: tls.SecureContext;
  /** Serial number of the leaf certificate, hex, for logs. */
  readonly serial: string | undefined;
}

let log: Logger | undefined;
const logger = (): Logger => (log ??= createLogger("pilotfish-tls"));

const shared = new Map<string, TlsMaterial>();

/** A watched set of TLS files. */
export class TlsMaterial {
  /** The material in force; undefined only when the first load failed (connections then fail). */
  current: TlsMaterialVersion | undefined;
  private readonly listeners = new Set<(v: TlsMaterialVersion) => void>();
  private refs = 0;
  private settle: NodeJS.Timeout | undefined;
  private readonly onStat = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.ino === prev.ino && cur.size === prev.size) return;
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), SETTLE_MS);
    this.settle.unref();
  };

  private constructor(
    private readonly key: string,
    readonly files: TlsFiles,
  ) {}

  /**
   * The shared material of `files`, loaded now. With `strict`, a first load failure throws (a
   * listener cannot start without its certificate); otherwise it is logged and retried on change.
   */
  static acquire(files: TlsFiles, strict = false): TlsMaterial {
    const key = JSON.stringify([files.cert, files.key, files.ca]);
    let m = shared.get(key);
    if (m === undefined) {
      m = new TlsMaterial(key, files);
      const loaded = m.load();
      if (typeof loaded === "string") {
        if (strict) throw new Error(loaded);
        logger().error({ err: loaded }, "TLS material not loaded; connections using it fail until the files are fixed");
      } else {
        m.current = loaded;
      }
      for (const f of m.paths()) watchFile(f, { interval: POLL_MS, persistent: false }, m.onStat);
      shared.set(key, m);
    }
    m.refs++;
    return m;
  }

  /** Calls `fn` with each new version (not the current one). */
  onChange(fn: (v: TlsMaterialVersion) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Drops one reference; the last one stops watching. */
  release(): void {
    if (--this.refs > 0) return;
    clearTimeout(this.settle);
    for (const f of this.paths()) unwatchFile(f, this.onStat);
    shared.delete(this.key);
  }

  /** Re-reads the files now; keeps the old material when the new files are bad. */
  reload(): void {
    const next = this.load();
    if (typeof next === "string") {
      logger().error({ err: next }, "TLS files changed but cannot be used; keeping the previous certificate");
      return;
    }
    const prev = this.current;
    if (prev !== undefined && same(prev.cert, next.cert) && same(prev.key, next.key) && same(prev.ca, next.ca)) return;
    this.current = next;
    logger().info({ cert: this.files.cert, ca: this.files.ca, serial: next.serial }, "TLS material reloaded");
    for (const fn of this.listeners) fn(next);
  }

  private paths(): string[] {
    return [this.files.cert, this.files.key, this.files.ca].filter((f): f is string => f !== undefined);
  }

  /** Reads and checks every file; a string names the file and what is wrong with it. */
  private load(): TlsMaterialVersion | string {
    const { cert: certFile, key: keyFile, ca: caFile } = this.files;
    let cert: Buffer | undefined;
    let key: Buffer | undefined;
    let ca: Buffer | undefined;
    let serial: string | undefined;
    try {
      if (certFile !== undefined) {
        cert = readFileSync(certFile);
        serial = new (nodeCrypto().X509Certificate)(cert).serialNumber;
      }
    } catch (err) {
      return `${certFile}: not a PEM certificate: ${(err as Error).message}`;
    }
    try {
      if (keyFile !== undefined) {
        key = readFileSync(keyFile);
        nodeCrypto().createPrivateKey(key);
      }
    } catch (err) {
      return `${keyFile}: not a PEM private key: ${(err as Error).message}`;
    }
    try {
      if (caFile !== undefined) {
        ca = readFileSync(caFile);
        new (nodeCrypto().X509Certificate)(ca);
      }
    } catch (err) {
      return `${caFile}: not a PEM CA certificate: ${(err as Error).message}`;
    }
    try {
      const context = nodeTls().createSecureContext({ cert, key, ca });
      return { cert, key, ca, context, serial };
    } catch (err) {
      return `${keyFile ?? certFile ?? caFile}: ${(err as Error).message} (certificate ${certFile} and key ${keyFile} do not belong together?)`;
    }
  }
}

function same(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.equals(b);
}
