/**
 * A throwaway PKI made with the openssl CLI in a temp dir: a CA, workload certificates with SPIFFE URI
 * SANs (as Istio/Linkerd issue them), and a second, untrusted CA. Everything lives a day.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const OPENSSL = "/usr/bin/openssl";

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(OPENSSL, args, { cwd, timeout: 20_000 }, (err, _o, stderr) =>
      err ? reject(new Error(`openssl ${args[0]} failed: ${err.message}\n${stderr}`)) : resolve(),
    ),
  );
}

/** A certificate and key on disk. */
export interface IssuedCert {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Serial number, upper-case hex as node's X509Certificate prints it. */
  readonly serial: string;
}

/** A CA that issues workload certificates. */
export interface TestCa extends IssuedCert {
  /** Issues a leaf certificate with `sans` (openssl syntax: `URI:spiffe://...`, `DNS:x`). */
  issue(name: string, sans: string[]): Promise<IssuedCert>;
}

export interface Pki {
  readonly dir: string;
  readonly ca: TestCa;
  /** A CA nobody trusts. */
  readonly otherCa: TestCa;
  cleanup(): Promise<void>;
}

export const SPIFFE_A = "spiffe://cluster.local/ns/default/sa/a";
export const SPIFFE_B = "spiffe://cluster.local/ns/default/sa/b";

async function loaded(dir: string, name: string): Promise<IssuedCert> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}-key.pem`);
  const cert = await readFile(certPath);
  return { certPath, keyPath, cert, key: await readFile(keyPath), serial: new X509Certificate(cert).serialNumber };
}

async function makeCa(dir: string, name: string): Promise<TestCa> {
  await openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256", "-days", "1",
      "-keyout", `${name}-key.pem`, "-out", `${name}.pem`, "-subj", `/O=pilotfish-test/CN=${name}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    dir,
  );
  const base = await loaded(dir, name);
  return {
    ...base,
    async issue(leaf: string, sans: string[]): Promise<IssuedCert> {
      await openssl(
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", `${leaf}-key.pem`, "-out", `${leaf}.csr`, "-subj", `/O=pilotfish-test/CN=${leaf}`],
        dir,
      );
      await openssl(
        ["x509", "-req", "-in", `${leaf}.csr`, "-CA", `${name}.pem`, "-CAkey", `${name}-key.pem`, "-CAcreateserial",
          "-days", "1", "-sha256", "-out", `${leaf}.pem`, "-extfile", await extFile(dir, leaf, sans)],
        dir,
      );
      return loaded(dir, leaf);
    },
  };
}

async function extFile(dir: string, leaf: string, sans: string[]): Promise<string> {
  const path = join(dir, `${leaf}.ext`);
  await writeFile(
    path,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n` +
      `extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${sans.join(",")}\n`,
  );
  return path;
}

/** Creates the CA pair in a fresh temp dir. */
export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "pilotfish-pki-"));
  const [ca, otherCa] = [await makeCa(dir, "ca"), await makeCa(dir, "other-ca")];
  return { dir, ca, otherCa, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
