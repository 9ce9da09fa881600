/**
 * deploy/: every Kubernetes manifest parses and each object validates against its Kubernetes schema
 * (kubernetes-models); the pieces agree with each other (ConfigMap names, labels and selectors, ports,
 * the bootstraps' STRICT_DNS xDS cluster on the headless Service's name and port, mesh.yaml's
 * Kubernetes discovery naming an existing Service, namespace and port, the Jaeger endpoint, the
 * discovery server's replicas, disruption budget, service account and its RBAC grants, no pinned
 * ClusterIPs); the bootstraps and mesh.yaml pass Pilotfish's own validation, and an EndpointSlice as
 * Kubernetes would write it for the echo Service becomes, through the discovery server's own code, an
 * EDS endpoint on the echo sidecar's inbound port; compose.yaml and the Dockerfile hang together.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { V1EndpointSlice, V1Service } from "@kubernetes/client-node";
import { parse, parseAllDocuments } from "yaml";
import { decodeClusterLoadAssignment } from "../../../src/config/decode/endpoint.js";
import { Errors } from "../../../src/config/decode/field-errors.js";
import { decodeBootstrap } from "../../../src/config/load-bootstrap.js";
import type { Bootstrap, ClusterConfig } from "../../../src/config/model.js";
import { endpointsFromSlices, slicePortName } from "../../../src/control-plane/discovery/kubernetes-endpoints.js";
import { validateMesh } from "../../../src/control-plane/mesh/mesh-validate.js";
import type { MeshConfig } from "../../../src/control-plane/mesh/mesh-model.js";
import { translateMesh } from "../../../src/control-plane/mesh/translator.js";
import { firstEndpointTarget } from "../../../src/upstream/dns-cluster.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DEPLOY = join(ROOT, "deploy");
const K8S = join(DEPLOY, "kubernetes");

// ------------------------------------------------------------------------------------------ shapes

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface ContainerPort {
  name?: string;
  containerPort: number;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string }[];
  ports?: ContainerPort[];
  volumeMounts?: { name: string; mountPath: string }[];
  readinessProbe?: { httpGet?: { port: string | number } };
  livenessProbe?: { httpGet?: { port: string | number } };
}
interface PodAffinityTerm {
  topologyKey: string;
  labelSelector?: { matchLabels?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string } }[];
  serviceAccountName?: string;
  affinity?: { podAntiAffinity?: { preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; podAffinityTerm: PodAffinityTerm }[] } };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  data?: Record<string, string>;
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
  spec?: {
    replicas?: number;
    minAvailable?: number | string;
    clusterIP?: string;
    selector?: Record<string, string> & { matchLabels?: Record<string, string> };
    ports?: { name?: string; port: number; targetPort?: string | number; protocol?: string }[];
    template?: {
      metadata: Meta;
      spec: PodSpec;
    };
  };
}

const MODELS: Record<string, { validate(o: unknown): void }> = {
  "v1/Namespace": { validate: (o) => new Namespace(o as Namespace).validate() },
  "v1/ConfigMap": { validate: (o) => new ConfigMap(o as ConfigMap).validate() },
  "v1/Service": { validate: (o) => new Service(o as Service).validate() },
  "apps/v1/Deployment": { validate: (o) => new Deployment(o as Deployment).validate() },
  "v1/ServiceAccount": { validate: (o) => new ServiceAccount(o as ServiceAccount).validate() },
  "policy/v1/PodDisruptionBudget": { validate: (o) => new PodDisruptionBudget(o as PodDisruptionBudget).validate() },
  "rbac.authorization.k8s.io/v1/ClusterRole": { validate: (o) => new ClusterRole(o as ClusterRole).validate() },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": { validate: (o) => new ClusterRoleBinding(o as ClusterRoleBinding).validate() },
};

/** Kinds that live outside any namespace. */
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding"]);

function manifestFiles(): string[] {
  return readdirSync(K8S)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .sort();
}

function loadObjects(): { file: string; obj: K8sObject }[] {
  const out: { file: string; obj: K8sObject }[] = [];
  for (const file of manifestFiles()) {
    for (const doc of parseAllDocuments(readFileSync(join(K8S, file), "utf8"))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj !== null) out.push({ file, obj });
    }
  }
  return out;
}

function mustBootstrap(text: string, what: string): Bootstrap {
  const r = decodeBootstrap(parse(text));
  assert.ok(r.ok, `${what} is a valid bootstrap: ${r.ok ? "" : JSON.stringify(r.errors)}`);
  return r.value;
}

function mustMesh(text: string, what: string): MeshConfig {
  const r = validateMesh(parse(text));
  assert.ok(r.ok, `${what} is a valid mesh: ${r.ok ? "" : JSON.stringify(r.errors)}`);
  return r.mesh;
}

/** The bootstrap's ADS cluster. */
function adsCluster(b: Bootstrap): ClusterConfig {
  const name = b.dynamicResources?.adsClusterName;
  const c = b.clusters.find((x) => x.name === name);
  assert.ok(c, `ADS cluster ${name} exists`);
  return c;
}

/** The one endpoint of the bootstrap's ADS cluster (an IP or, for a DNS cluster, the name to resolve). */
function adsAddress(b: Bootstrap): string {
  const eps = adsCluster(b).endpoints.flatMap((l) => l.endpoints);
  assert.equal(eps.length, 1);
  return `${eps[0].address.address}:${eps[0].address.port}`;
}

function hostPort(hp: { host: string; port: number }): string {
  return `${hp.host}:${hp.port}`;
}

function env(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

function port(objs: K8sObject[], service: string, portName: string): number {
  const svc = objs.find((o) => o.kind === "Service" && o.metadata.name === service);
  assert.ok(svc, `Service ${service} exists`);
  const p = svc.spec?.ports?.find((x) => x.name === portName);
  assert.ok(p, `Service ${service} has port ${portName}`);
  return p.port;
}

/** The pods a Service selects: the template of the one Deployment whose pod labels match its selector. */
function selectedPods(objs: K8sObject[], svc: K8sObject): PodSpec {
  const sel = Object.entries(svc.spec?.selector ?? {});
  const ds = objs.filter((o) => o.kind === "Deployment" && sel.length > 0 && sel.every(([k, v]) => o.spec?.template?.metadata.labels?.[k] === v));
  assert.equal(ds.length, 1, `Service ${svc.metadata.name} selects one Deployment`);
  return ds[0].spec!.template!.spec;
}

/** A Service port's targetPort resolved against its pods' container ports, as the EndpointSlice controller does. */
function targetContainerPort(objs: K8sObject[], svc: K8sObject, portName: string): number {
  const p = svc.spec?.ports?.find((x) => x.name === portName);
  assert.ok(p, `Service ${svc.metadata.name} has port ${portName}`);
  const t = p.targetPort ?? p.port;
  if (typeof t === "number") return t;
  const cp = selectedPods(objs, svc).containers.flatMap((c) => c.ports ?? []).find((x) => x.name === t);
  assert.ok(cp, `Service ${svc.metadata.name} port ${portName}: targetPort ${t} is a named container port`);
  return cp.containerPort;
}

/**
 * Verbs on `group`/`resource` in `namespace` granted to ServiceAccount `sa` of `saNamespace`: through
 * ClusterRoleBindings (everywhere) and RoleBindings in `namespace`, to ClusterRoles or Roles there.
 */
function grantedVerbs(objs: K8sObject[], sa: string, saNamespace: string, namespace: string, group: string, resource: string): Set<string> {
  const verbs = new Set<string>();
  const bindsSa = (b: K8sObject) => (b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === sa && s.namespace === saNamespace);
  const bindings = objs.filter((o) => (o.kind === "ClusterRoleBinding" || (o.kind === "RoleBinding" && o.metadata.namespace === namespace)) && bindsSa(o));
  for (const b of bindings) {
    const ref = b.roleRef!;
    const role = objs.find(
      (o) => o.kind === ref.kind && o.metadata.name === ref.name && (ref.kind === "ClusterRole" || o.metadata.namespace === b.metadata.namespace),
    );
    assert.ok(role, `${b.kind} ${b.metadata.name}: ${ref.kind} ${ref.name} exists`);
    for (const r of role.rules ?? []) {
      if (r.apiGroups.includes(group) && (r.resources.includes(resource) || r.resources.includes("*"))) r.verbs.forEach((v) => verbs.add(v));
    }
  }
  return verbs;
}

// ------------------------------------------------------------------------------------------ Kubernetes

void describe("deploy/kubernetes", () => {
  const loaded = loadObjects();
  const objs = loaded.map((l) => l.obj);
  const of = (kind: string) => objs.filter((o) => o.kind === kind);
  const deployment = (name: string) => {
    const d = of("Deployment").find((o) => o.metadata.name === name);
    assert.ok(d, `Deployment ${name} exists`);
    return d;
  };
  const configMap = (name: string) => {
    const c = of("ConfigMap").find((o) => o.metadata.name === name);
    assert.ok(c, `ConfigMap ${name} exists`);
    return c;
  };

  void it("every object validates against its Kubernetes schema", () => {
    assert.ok(loaded.length >= 10, `found ${loaded.length} objects`);
    for (const { file, obj } of loaded) {
      const model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      assert.ok(model, `${file}: ${obj.apiVersion} ${obj.kind} has a model`);
      assert.doesNotThrow(() => model.validate(obj), `${file}: ${obj.kind} ${obj.metadata?.name}`);
    }
    // The validator does catch mistakes.
    assert.throws(() => MODELS["apps/v1/Deployment"].validate({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "two" } }));
  });

  void it("names are unique per kind and everything lives in the namespace", () => {
    const ns = of("Namespace");
    assert.equal(ns.length, 1);
    const name = ns[0].metadata.name;
    const seen = new Set<string>();
    for (const o of objs) {
      const key = `${o.kind}/${o.metadata.name}`;
      assert.ok(!seen.has(key), `${key} is defined once`);
      seen.add(key);
      if (!CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, name, `${key} is in ${name}`);
      else assert.equal(o.metadata.namespace, undefined, `${key} is cluster-scoped`);
    }
  });

  void it("kustomization lists every manifest", () => {
    const k = parse(readFileSync(join(K8S, "kustomization.yaml"), "utf8")) as { resources: string[] };
    assert.deepEqual([...k.resources].sort(), manifestFiles());
  });

  void it("selectors, labels, ports, volumes and ConfigMap keys agree", () => {
    for (const d of of("Deployment")) {
      const tpl = d.spec!.template!;
      const labels = tpl.metadata.labels ?? {};
      for (const [k, v] of Object.entries(d.spec!.selector!.matchLabels ?? {})) {
        assert.equal(labels[k], v, `Deployment ${d.metadata.name}: selector ${k} matches the pod labels`);
      }
      const volumes = new Map((tpl.spec.volumes ?? []).map((v) => [v.name, v]));
      for (const c of tpl.spec.containers) {
        const portNames = new Set((c.ports ?? []).map((p) => p.name));
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          const p = probe?.httpGet?.port;
          if (typeof p === "string") assert.ok(portNames.has(p), `${d.metadata.name}/${c.name}: probe port ${p} is a container port`);
        }
        for (const m of c.volumeMounts ?? []) {
          const v = volumes.get(m.name);
          assert.ok(v, `${d.metadata.name}/${c.name}: volume ${m.name} exists`);
          if (v.configMap === undefined) continue;
          const cm = configMap(v.configMap.name);
          // A `-c <file>` under the mount must be a key of the ConfigMap.
          const args = c.args ?? [];
          const ci = args.indexOf("-c");
          if (ci >= 0 && args[ci + 1].startsWith(`${m.mountPath}/`)) {
            const key = args[ci + 1].slice(m.mountPath.length + 1);
            assert.ok(cm.data?.[key] !== undefined, `${d.metadata.name}/${c.name}: ConfigMap ${cm.metadata.name} has key ${key}`);
          }
        }
      }
    }
    for (const s of of("Service")) {
      const sel = s.spec!.selector!;
      const targets = of("Deployment").filter((d) => Object.entries(sel).every(([k, v]) => d.spec!.template!.metadata.labels?.[k] === v));
      assert.equal(targets.length, 1, `Service ${s.metadata.name} selects one Deployment`);
      const containerPorts = targets[0].spec!.template!.spec.containers.flatMap((c) => c.ports ?? []);
      for (const p of s.spec!.ports!) {
        const t = p.targetPort ?? p.port;
        const ok = typeof t === "string" ? containerPorts.some((cp) => cp.name === t) : containerPorts.some((cp) => cp.containerPort === t);
        assert.ok(ok, `Service ${s.metadata.name} port ${p.name}: target ${t} is a container port`);
      }
    }
  });

  void it("the discovery server runs as replicas: spread, a disruption budget, its own service account with read-only RBAC", () => {
    const d = deployment("pilotfish-control-plane");
    const podLabels = d.spec!.template!.metadata.labels ?? {};
    const selects = (sel: Record<string, string> | undefined): boolean =>
      sel !== undefined && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => podLabels[k] === v);
    const replicas = d.spec!.replicas ?? 1;
    assert.ok(replicas >= 2, `${replicas} replicas`);
    const pod = d.spec!.template!.spec;
    const spread = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    assert.ok(
      spread.some((t) => t.podAffinityTerm.topologyKey === "kubernetes.io/hostname" && selects(t.podAffinityTerm.labelSelector?.matchLabels)),
      "preferred anti-affinity keeps replicas on different nodes when it can",
    );

    const pdbs = of("PodDisruptionBudget").filter((p) => selects(p.spec!.selector?.matchLabels));
    assert.equal(pdbs.length, 1, "one PodDisruptionBudget selects the discovery server's pods");
    const min = pdbs[0].spec!.minAvailable;
    assert.equal(min, 1);
    assert.ok(typeof min === "number" && min < replicas, "the budget still lets a node drain");

    // Service account → binding → role, and what the role grants.
    const sa = pod.serviceAccountName;
    assert.ok(sa, "the pods run as their own service account");
    assert.ok(of("ServiceAccount").some((o) => o.metadata.name === sa && o.metadata.namespace === d.metadata.namespace), `ServiceAccount ${sa} exists`);
    const bindings = of("ClusterRoleBinding").filter((b) =>
      (b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === sa && s.namespace === d.metadata.namespace),
    );
    assert.equal(bindings.length, 1, `one ClusterRoleBinding binds ${sa}`);
    const ref = bindings[0].roleRef!;
    assert.equal(ref.kind, "ClusterRole");
    assert.equal(ref.apiGroup, "rbac.authorization.k8s.io");
    const role = of("ClusterRole").find((r) => r.metadata.name === ref.name);
    assert.ok(role, `ClusterRole ${ref.name} exists`);
    const grants = (group: string, resource: string): Set<string> =>
      new Set((role.rules ?? []).filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource)).flatMap((r) => r.verbs));
    for (const [group, resource] of [["discovery.k8s.io", "endpointslices"], ["", "services"]] as const) {
      assert.deepEqual([...grants(group, resource)].sort(), ["get", "list", "watch"], `${resource}: read-only, watchable`);
    }
    const verbs = new Set((role.rules ?? []).flatMap((r) => r.verbs));
    for (const v of ["create", "update", "patch", "delete", "*"]) assert.ok(!verbs.has(v), `the role never grants ${v}`);

    // Every replica reachable by name: the headless Service lists each ready pod's xDS port.
    const headless = of("Service").filter((s) => s.spec!.clusterIP === "None" && selects(s.spec!.selector));
    assert.equal(headless.length, 1, "one headless Service over the replicas");
    assert.equal(port(objs, headless[0].metadata.name, "grpc-xds"), port(objs, "pilotfish-control-plane", "grpc-xds"));
  });

  void it("no Service pins a ClusterIP: the mesh finds pods by DNS and EndpointSlices", () => {
    for (const s of of("Service")) {
      const ip = s.spec!.clusterIP;
      assert.ok(ip === undefined || ip === "None", `Service ${s.metadata.name}: clusterIP ${ip} is left to Kubernetes (or None)`);
    }
  });

  void it("bootstraps resolve the discovery server's headless Service (STRICT_DNS); mesh.yaml agrees with Services, ports and node clusters", () => {
    const cpd = deployment("pilotfish-control-plane");
    const cp = cpd.spec!.template!.spec.containers[0];
    const args = cp.args!;
    const xdsPort = Number(args[args.indexOf("--port") + 1]);
    assert.equal(xdsPort, cp.ports!.find((p) => p.name === "xds")!.containerPort, "--port is the xds container port");
    assert.equal(Number(args[args.indexOf("--admin-port") + 1]), cp.ports!.find((p) => p.name === "admin")!.containerPort);
    // The headless Service over the replicas: its FQDN and xDS port reach --port on every replica.
    const headless = of("Service").find((s) => s.spec!.clusterIP === "None" && selectedPods(objs, s) === cpd.spec!.template!.spec);
    assert.ok(headless, "a headless Service selects the discovery server's pods");
    assert.equal(targetContainerPort(objs, headless, "grpc-xds"), xdsPort, "the headless Service's grpc-xds port targets --port");
    const fqdn = `${headless.metadata.name}.${headless.metadata.namespace}.svc.cluster.local`;
    const xds = `${fqdn}:${port(objs, headless.metadata.name, "grpc-xds")}`;

    const mesh = mustMesh(configMap("pilotfish-mesh").data!["mesh.yaml"], "ConfigMap pilotfish-mesh mesh.yaml");
    const nodeClusters = new Set<string>();
    for (const name of ["echo", "frontend"]) {
      const b = mustBootstrap(configMap(`${name}-sidecar-bootstrap`).data!["bootstrap.yaml"], `${name} bootstrap`);
      const c = adsCluster(b);
      assert.equal(c.type, "STRICT_DNS", `${name}: the xDS cluster resolves every replica`);
      assert.ok(c.dns !== undefined && c.dns.resolvers.length === 0, `${name}: the system resolver (the pod's resolv.conf)`);
      assert.equal(adsAddress(b), xds, `${name}'s sidecar resolves the headless Service`);
      // What the ADS client dials before the first answer (gRPC resolves it itself).
      assert.equal(firstEndpointTarget(c), xds);
      nodeClusters.add(b.node.cluster);
      const sidecar = deployment(name).spec!.template!.spec.containers.find((c) => c.name === "sidecar")!;
      assert.equal(b.admin?.address.port, sidecar.ports!.find((p) => p.name === "admin")!.containerPort, `${name}: admin port`);
      // Traces go to the Jaeger Service's OTLP gRPC port.
      const endpoint = new URL(env(sidecar, "OTEL_EXPORTER_OTLP_ENDPOINT")!);
      assert.equal(endpoint.hostname, `jaeger.${deployment(name).metadata.namespace}.svc`);
      assert.equal(Number(endpoint.port), port(objs, "jaeger", "otlp-grpc"));
      assert.equal(env(sidecar, "OTEL_EXPORTER_OTLP_PROTOCOL"), "grpc");
    }
    for (const l of mesh.listeners) {
      for (const sel of l.nodeClusters ?? []) assert.ok(nodeClusters.has(sel), `listener ${l.name} is for node cluster ${sel}, which a sidecar has`);
    }
    // Pod IPs change: only loopback nodes are listed, everything else is discovered.
    for (const u of mesh.upstreams) {
      for (const n of u.nodes) assert.match(n.address.host, /^127\./, `upstream ${u.name}: listed node ${hostPort(n.address)} is on the pod's loopback`);
    }
    const inbound = mesh.listeners.find((l) => l.name === "inbound")!;
    const echoSidecar = deployment("echo").spec!.template!.spec.containers.find((c) => c.name === "sidecar")!;
    assert.equal(inbound.address.port, echoSidecar.ports!.find((p) => p.name === "inbound")!.containerPort);
    // The echo app listens where the echo-local upstream points; the frontend app dials the outbound listener.
    const echoApp = deployment("echo").spec!.template!.spec.containers.find((c) => c.name === "app")!;
    const local = mesh.upstreams.find((u) => u.name === "echo-local")!;
    assert.deepEqual(local.nodes.map((n) => hostPort(n.address)), [`127.0.0.1:${env(echoApp, "PORT")}`]);
    const frontendApp = deployment("frontend").spec!.template!.spec.containers.find((c) => c.name === "app")!;
    assert.equal(env(frontendApp, "TARGET"), hostPort(mesh.listeners.find((l) => l.name === "outbound")!.address));
  });

  void it("mesh.yaml's Kubernetes discovery names an existing Service, namespace and port the discovery server may watch", () => {
    const cpd = deployment("pilotfish-control-plane");
    const sa = cpd.spec!.template!.spec.serviceAccountName!;
    const mesh = mustMesh(configMap("pilotfish-mesh").data!["mesh.yaml"], "ConfigMap pilotfish-mesh mesh.yaml");
    const namespaces = new Set(of("Namespace").map((n) => n.metadata.name));
    const discovered = mesh.upstreams.filter((u) => u.discovery?.kind === "kubernetes");
    assert.ok(discovered.some((u) => u.name === "echo"), "the echo upstream is discovered from Kubernetes");
    for (const u of discovered) {
      const d = u.discovery!;
      assert.ok(d.kind === "kubernetes");
      assert.ok(namespaces.has(d.namespace), `upstream ${u.name}: namespace ${d.namespace} is created here`);
      const svc = of("Service").find((s) => s.metadata.name === d.service && s.metadata.namespace === d.namespace);
      assert.ok(svc, `upstream ${u.name}: Service ${d.namespace}/${d.service} exists`);
      assert.equal(typeof d.port, "string", `upstream ${u.name}: the Service port is named (survives renumbering)`);
      assert.ok(
        svc.spec!.ports!.some((p) => p.name === d.port),
        `upstream ${u.name}: Service ${d.service} has a port named ${d.port}`,
      );
      // The discovery server's own port lookup agrees.
      assert.equal(slicePortName(svc as V1Service, d.port), d.port);
      for (const [group, resource] of [["discovery.k8s.io", "endpointslices"], ["", "services"]] as const) {
        const verbs = grantedVerbs(objs, sa, cpd.metadata.namespace!, d.namespace, group, resource);
        for (const v of ["list", "watch"]) assert.ok(verbs.has(v), `ServiceAccount ${sa} may ${v} ${resource} in ${d.namespace}`);
      }
    }

    // The echo Service's EndpointSlice, as the EndpointSlice controller would write it for one ready
    // pod (the Service port's name, the resolved targetPort), through the discovery server's code and
    // the sidecar's EDS decoder: the frontend's sidecar calls the echo pod's sidecar on its inbound port.
    const echoDisc = discovered.find((u) => u.name === "echo")!.discovery;
    assert.ok(echoDisc?.kind === "kubernetes" && typeof echoDisc.port === "string");
    const echoSvc = of("Service").find((s) => s.metadata.name === echoDisc.service)!;
    const portName = echoDisc.port;
    const slice: V1EndpointSlice = {
      addressType: "IPv4",
      metadata: { name: `${echoSvc.metadata.name}-abcde`, namespace: echoSvc.metadata.namespace, labels: { "kubernetes.io/service-name": echoSvc.metadata.name } },
      ports: [{ name: portName, port: targetContainerPort(objs, echoSvc, portName), protocol: "TCP" }],
      endpoints: [{ addresses: ["10.244.1.7"], conditions: { ready: true, serving: true, terminating: false } }],
    };
    const found = endpointsFromSlices(echoSvc, [slice], portName);
    const res = translateMesh(mesh, { id: "frontend-sidecar", cluster: "frontend", proxyless: false }, new Map([["echo", found]]));
    const cla = res.endpoints.find((e) => e.clusterName === "echo");
    assert.ok(cla, "the frontend sidecar gets the echo endpoints");
    const errors = new Errors();
    const eps = decodeClusterLoadAssignment(cla, "echo", errors).flatMap((l) => l.endpoints);
    assert.deepEqual(errors.list, []);
    const inbound = mesh.listeners.find((l) => l.name === "inbound")!;
    assert.deepEqual(
      eps.map((e) => `${e.address.address}:${e.address.port}/${e.healthStatus}`),
      [`10.244.1.7:${inbound.address.port}/HEALTHY`],
      "the echo pod's IP on the echo sidecar's inbound listener",
    );
  });
});

// ------------------------------------------------------------------------------------------ compose

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  network_mode?: string;
  depends_on?: string[];
  networks?: Record<string, { ipv4_address: string }>;
}

void describe("deploy/compose.yaml", () => {
  const compose = parse(readFileSync(join(DEPLOY, "compose.yaml"), "utf8"), { merge: true }) as {
    services: Record<string, ComposeService>;
    networks: Record<string, { ipam: { config: { subnet: string }[] } }>;
  };
  const svc = compose.services;
  const ip = (name: string) => Object.values(svc[name].networks ?? {})[0]?.ipv4_address;
  const mounted = (name: string, target: string): string => {
    const v = (svc[name].volumes ?? []).find((x) => x.split(":")[1] === target);
    assert.ok(v, `${name} mounts ${target}`);
    const host = join(DEPLOY, v.split(":")[0]);
    assert.ok(existsSync(host), `${host} exists`);
    return readFileSync(host, "utf8");
  };

  void it("references resolve: services, files, build, the subnet", () => {
    const subnet = compose.networks.mesh.ipam.config[0].subnet;
    const prefix = subnet.split(".").slice(0, 3).join(".") + ".";
    for (const [name, s] of Object.entries(svc)) {
      for (const d of s.depends_on ?? []) assert.ok(svc[d], `${name} depends on ${d}, which exists`);
      if (s.network_mode?.startsWith("service:")) assert.ok(svc[s.network_mode.slice(8)], `${name} shares ${s.network_mode}`);
      for (const n of Object.values(s.networks ?? {})) assert.ok(n.ipv4_address.startsWith(prefix), `${name} is in ${subnet}`);
      if (s.build) assert.ok(existsSync(join(DEPLOY, s.build.context, s.build.dockerfile)), `${name}: Dockerfile exists`);
      if (s.entrypoint?.[0] === "node") assert.ok(existsSync(join(ROOT, s.entrypoint[1])), `${name}: ${s.entrypoint[1]} exists`);
    }
    assert.match(svc.jaeger.image ?? "", /^jaegertracing\/all-in-one:/);
    assert.equal(svc.jaeger.environment?.COLLECTOR_OTLP_ENABLED, "true");
  });

  void it("bootstraps dial the discovery server's IP; mesh.yaml points at the sidecars' IPs; traces go to jaeger", () => {
    const cp = svc["control-plane"];
    const xdsPort = cp.command![cp.command!.indexOf("--port") + 1];
    const mesh = mustMesh(mounted("control-plane", "/etc/pilotfish/mesh.yaml"), "compose mesh.yaml");
    for (const name of ["echo", "frontend"]) {
      const sidecar = `${name}-sidecar`;
      const b = mustBootstrap(mounted(sidecar, "/etc/pilotfish/bootstrap.yaml"), `${sidecar} bootstrap`);
      assert.equal(adsAddress(b), `${ip("control-plane")}:${xdsPort}`);
      assert.equal(b.node.cluster, name);
      assert.ok(mesh.listeners.some((l) => l.nodeClusters?.includes(name)), `a listener is for node cluster ${name}`);
      const endpoint = new URL(svc[sidecar].environment!.OTEL_EXPORTER_OTLP_ENDPOINT);
      assert.ok(svc[endpoint.hostname], `OTLP endpoint host ${endpoint.hostname} is a service`);
      assert.equal(endpoint.port, "4317");
      assert.equal(svc[sidecar].environment!.PILOTFISH_TRACE_ALL_LISTENERS, "true");
      assert.equal(svc[name].network_mode, `service:${sidecar}`, `the ${name} app shares its sidecar's network`);
    }
    const echoUp = mesh.upstreams.find((u) => u.name === "echo")!;
    const inbound = mesh.listeners.find((l) => l.name === "inbound")!;
    assert.deepEqual(echoUp.nodes.map((n) => hostPort(n.address)), [`${ip("echo-sidecar")}:${inbound.address.port}`]);
    const local = mesh.upstreams.find((u) => u.name === "echo-local")!;
    assert.deepEqual(local.nodes.map((n) => hostPort(n.address)), [`127.0.0.1:${svc.echo.environment!.PORT}`]);
    assert.equal(svc.frontend.environment!.TARGET, hostPort(mesh.listeners.find((l) => l.name === "outbound")!.address));
  });
});

// ------------------------------------------------------------------------------------------ Dockerfile

void describe("deploy/Dockerfile", () => {
  const text = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");
  const lines = text.split("\n").filter((l) => !l.startsWith("#"));

  void it("Node 24 slim, non-root, a health check, the CLI as entry point; COPY sources exist", () => {
    const froms = lines.filter((l) => l.startsWith("FROM "));
    assert.ok(froms.length >= 1 && froms.every((l) => /^FROM node:24-slim\b/.test(l)), froms.join(" | "));
    const users = lines.filter((l) => l.startsWith("USER "));
    assert.ok(users.length > 0 && !/root|^USER 0/.test(users.at(-1)!), "the final stage runs as a non-root user");
    assert.ok(lines.some((l) => l.startsWith("HEALTHCHECK ")));
    assert.ok(lines.some((l) => /^ENTRYPOINT \["node", "bin\/pilotfish\.js"\]/.test(l)));
    for (const l of lines.filter((x) => x.startsWith("COPY ") && !x.includes("--from="))) {
      const parts = l.split(/\s+/).slice(1, -1);
      for (const p of parts) assert.ok(existsSync(join(ROOT, p)), `COPY source ${p} exists`);
    }
  });
});
