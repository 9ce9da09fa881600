/**
 * The mesh dashboard: connected sidecars with their xDS state, each sidecar's clusters live from its
 * admin endpoint, and the mesh.yaml in force. Polls every POLL_MS; keeps showing the last good data
 * (marked stale) while the discovery server does not answer.
 */
import { useEffect, useRef, useState, type ReactNode } from "react";
import { hostAddress, type ClusterStatus, type ConfigView, type HostStatus, type NodeView, type TypeStatus } from "./api";
import { Poller, POLL_MS, rateKey, type NodeClusters, type Snapshot } from "./poll";
import { RATE_WINDOW_MS, type HostRates } from "./rates";

/** xDS types in the order the server pushes them (make-before-break). */
const TYPE_ORDER = ["cds", "eds", "lds", "rds"];

type Tone = "ok" | "warn" | "bad" | "muted";

function Badge({ tone, children, title }: { tone: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

function since(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function Version({ v }: { v: string }) {
  if (v === "") return <span className="muted">—</span>;
  return (
    <code title={v}>{v.length > 12 ? `${v.slice(0, 12)}…` : v}</code>
  );
}

function percent(r: number | null): string {
  return r === null ? "—" : `${(r * 100).toFixed(r === 1 || r === 0 ? 0 : 1)} %`;
}

function rateTone(r: number | null): Tone {
  if (r === null) return "muted";
  return r >= 0.99 ? "ok" : r >= 0.9 ? "warn" : "bad";
}

// --------------------------------------------------------------------------------------- health

const FLAG_LABELS: Record<string, [string, Tone]> = {
  failed_outlier_check: ["ejected: outlier detection", "bad"],
  failed_active_hc: ["failed active health check", "bad"],
  failed_eds_health: ["unhealthy (EDS)", "bad"],
  degraded_eds_health: ["degraded (EDS)", "warn"],
};

/** The flags of Envoy's /clusters ("healthy" or "/failed_outlier_check/..."), one entry each. */
export function healthFlags(flags: string): string[] {
  return flags === "healthy" || flags === "" ? [] : flags.split("/").filter((f) => f !== "");
}

function Health({ h }: { h: HostStatus }) {
  const flags = healthFlags(h.health_status.flags);
  if (flags.length === 0) return <Badge tone="ok">healthy</Badge>;
  return (
    <>
      {flags.map((f) => {
        const [label, tone] = FLAG_LABELS[f] ?? [f, "warn" as Tone];
        return (
          <Badge key={f} tone={tone} title={`/${f}`}>
            {label}
          </Badge>
        );
      })}
    </>
  );
}

// ------------------------------------------------------------------------------------- clusters

function HostRow({ h, rates }: { h: HostStatus; rates: HostRates | undefined }) {
  const flags = healthFlags(h.health_status.flags);
  const addr = hostAddress(h);
  return (
    <tr
      data-testid="host"
      data-host={addr}
      data-flags={h.health_status.flags}
      data-ejected={String(flags.includes("failed_outlier_check"))}
      className={flags.length > 0 ? "unhealthy" : undefined}
    >
      <td>
        <code>{addr}</code>
        {h.hostname ? <div className="muted small">{h.hostname}</div> : null}
      </td>
      <td className="health">
        <Health h={h} />
      </td>
      <td className="num">{h.weight}</td>
      <td className="num" data-testid="active-requests">
        {h.active_requests}
      </td>
      <td className="num">{h.connections}</td>
      <td className="num">{rates ? rates.rps.toFixed(1) : "—"}</td>
      <td className="num" data-testid="success-recent">
        <Badge tone={rateTone(rates?.recent ?? null)}>{percent(rates?.recent ?? null)}</Badge>
      </td>
      <td className="num">{percent(rates?.total ?? null)}</td>
      <td className="num">
        {h.stats.rq_total}
        {h.stats.rq_error > 0 ? <span className="muted small"> ({h.stats.rq_error} failed)</span> : null}
      </td>
    </tr>
  );
}

function ClusterTable({ c, nc }: { c: ClusterStatus; nc: NodeClusters }) {
  const ejected = c.host_statuses.filter((h) => healthFlags(h.health_status.flags).includes("failed_outlier_check")).length;
  const unhealthy = c.host_statuses.filter((h) => healthFlags(h.health_status.flags).length > 0).length;
  return (
    <div className="cluster" data-testid="cluster" data-cluster={c.name}>
      <h4>
        {c.name}{" "}
        <span className="muted small">
          {c.host_statuses.length} endpoint{c.host_statuses.length === 1 ? "" : "s"}
        </span>{" "}
        {ejected > 0 ? <Badge tone="bad">{ejected} ejected</Badge> : null}
        {unhealthy > ejected ? <Badge tone="warn">{unhealthy - ejected} unhealthy</Badge> : null}
      </h4>
      {c.host_statuses.length === 0 ? (
        <p className="muted">No endpoints.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Endpoint</th>
              <th>Health</th>
              <th className="num">Weight</th>
              <th className="num">Active rq</th>
              <th className="num">Conns</th>
              <th className="num">Rq/s</th>
              <th className="num" title={`Over the last ${RATE_WINDOW_MS / 1000} s`}>
                Success ({RATE_WINDOW_MS / 1000} s)
              </th>
              <th className="num">Success (all)</th>
              <th className="num">Requests</th>
            </tr>
          </thead>
          <tbody>
            {c.host_statuses.map((h) => (
              <HostRow key={hostAddress(h)} h={h} rates={nc.rates.get(rateKey(c.name, hostAddress(h)))} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Clusters({ node, nc }: { node: NodeView; nc: NodeClusters | undefined }) {
  if (node.admin === null) {
    return (
      <p className="muted">
        {node.proxyless
          ? "Proxyless gRPC client: no admin endpoint to read clusters from."
          : 'No admin address announced (node.metadata "pilotfish.admin"): clusters are not shown.'}
      </p>
    );
  }
  if (nc === undefined) return <p className="muted">Loading clusters from {node.admin}…</p>;
  if (nc.view === null) return <p className="error">Cannot read clusters from the sidecar: {nc.error}</p>;
  const list = nc.view.clusters.cluster_statuses;
  return (
    <>
      <h3>
        Clusters <span className="muted small">live from {nc.view.admin}/clusters at {time(nc.view.fetched_at)}</span>
      </h3>
      {list.length === 0 ? <p className="muted">No clusters.</p> : list.map((c) => <ClusterTable key={c.name} c={c} nc={nc} />)}
    </>
  );
}

// ---------------------------------------------------------------------------------------- nodes

function typeState(st: TypeStatus): [string, Tone] {
  if (st.version_sent === "") return ["nothing sent yet", "muted"];
  if (st.last_nack !== null && st.last_nack.version === st.version_sent && st.version_acked !== st.version_sent) return ["rejected (NACK)", "bad"];
  if (st.version_acked === st.version_sent) return ["in sync", "ok"];
  return ["waiting for ACK", "warn"];
}

function XdsTable({ node }: { node: NodeView }) {
  const types = Object.keys(node.types).sort((a, b) => {
    const ia = TYPE_ORDER.indexOf(a);
    const ib = TYPE_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  if (types.length === 0) return <p className="muted">No resource type requested yet.</p>;
  return (
    <table className="xds">
      <thead>
        <tr>
          <th>Type</th>
          <th>State</th>
          <th>Version sent</th>
          <th>Version ACKed</th>
          <th>Last NACK</th>
        </tr>
      </thead>
      <tbody>
        {types.map((t) => {
          const st = node.types[t]!;
          const [label, tone] = typeState(st);
          return (
            <tr key={t} data-testid="xds-type" data-type={t} data-state={label}>
              <td>
                <strong>{t.toUpperCase()}</strong>
              </td>
              <td>
                <Badge tone={tone}>{label}</Badge>
              </td>
              <td>
                <Version v={st.version_sent} />
              </td>
              <td>
                <Version v={st.version_acked} />
              </td>
              <td className="nack">
                {st.last_nack === null ? (
                  <span className="muted">none</span>
                ) : (
                  <>
                    <span className="error">{st.last_nack.error}</span>
                    <div className="muted small">
                      version <Version v={st.last_nack.version} /> at {time(st.last_nack.time)}
                    </div>
                  </>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function NodeCard({ node, nc, now }: { node: NodeView; nc: NodeClusters | undefined; now: Date }) {
  return (
    <article className="node" data-testid="node" data-node-id={node.id}>
      <h2>
        {node.id} <span className="muted small">cluster</span> <code>{node.cluster || "—"}</code>
      </h2>
      <p className="meta">
        {node.user_agent_name} {node.user_agent_version} · {node.proxyless ? "proxyless gRPC" : "sidecar"} · {node.stream === "delta" ? "delta" : "state-of-the-world"} ADS
        stream #{node.stream_id} · connected {since(node.connected_at, now)} ago · admin {node.admin ? <code>{node.admin}</code> : "—"}
      </p>
      <h3>xDS</h3>
      <XdsTable node={node} />
      <Clusters node={node} nc={nc} />
    </article>
  );
}

// ----------------------------------------------------------------------------------------- mesh

function MeshPanel({ config }: { config: ConfigView | null }) {
  if (config === null) return null;
  const err = config.last_error;
  return (
    <section className="mesh" data-testid="mesh">
      <h2>Mesh</h2>
      <p className="meta">
        <code>{config.mesh_file}</code> · in force since {time(config.loaded_at)}
      </p>
      {err === null ? (
        <p data-testid="mesh-status">
          <Badge tone="ok">valid</Badge> The last edit was accepted.
        </p>
      ) : (
        <div className="error-box" data-testid="mesh-status">
          <Badge tone="bad">rejected</Badge> The edit of {time(err.time)} was rejected; the mesh below stays in force.
          <ul>
            {err.errors.map((e, i) => (
              <li key={i}>
                <code>{e.path}</code>: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {config.snapshot_failure ? (
        <div className="error-box">
          <Badge tone="bad">snapshot failure</Badge>
          <pre>{JSON.stringify(config.snapshot_failure, null, 2)}</pre>
        </div>
      ) : null}
      <details>
        <summary>
          mesh.yaml in force{config.mesh_yaml_source === "validated model" ? " (the file changed since: the validated mesh, as YAML)" : ""}
        </summary>
        <pre data-testid="mesh-yaml">{config.mesh_yaml?.replace(/^\n+/, "") ?? "(none)"}</pre>
      </details>
    </section>
  );
}

// ------------------------------------------------------------------------------------------ app

function Summary({ snap }: { snap: Snapshot }) {
  const sidecars = new Set(snap.nodes.map((n) => n.id)).size;
  const nacks = snap.nodes.flatMap((n) => Object.values(n.types)).filter((t) => typeState(t)[1] === "bad").length;
  let ejected = 0;
  let hosts = 0;
  for (const nc of snap.clusters.values()) {
    for (const c of nc.view?.clusters.cluster_statuses ?? []) {
      hosts += c.host_statuses.length;
      ejected += c.host_statuses.filter((h) => healthFlags(h.health_status.flags).includes("failed_outlier_check")).length;
    }
  }
  return (
    <div className="summary">
      <div>
        <strong data-testid="node-count">{sidecars}</strong> node{sidecars === 1 ? "" : "s"} connected
      </div>
      <div className={nacks > 0 ? "error" : undefined}>
        <strong>{nacks}</strong> config{nacks === 1 ? "" : "s"} rejected
      </div>
      <div>
        <strong>{hosts}</strong> endpoints seen by sidecars
      </div>
      <div className={ejected > 0 ? "error" : undefined}>
        <strong data-testid="ejected-count">{ejected}</strong> ejected
      </div>
      <div className={snap.config?.last_error ? "error" : undefined}>
        mesh: <strong>{snap.config?.last_error ? "last edit rejected" : "valid"}</strong>
      </div>
    </div>
  );
}

export function App() {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  const poller = useRef(new Poller());

  useEffect(() => {
    const abort = new AbortController();
    let timer: number | undefined;
    const tick = async (): Promise<void> => {
      try {
        setSnap(await poller.current.poll(abort.signal));
        setError(null);
      } catch (err) {
        if (abort.signal.aborted) return;
        setError((err as Error).message);
      }
      if (!abort.signal.aborted) timer = window.setTimeout(() => void tick(), POLL_MS);
    };
    void tick();
    return () => {
      abort.abort();
      window.clearTimeout(timer);
    };
  }, []);

  return (
    <>
      <header>
        <h1>Pilotfish mesh</h1>
        <span className="muted">
          refreshed every {POLL_MS / 1000} s{snap ? ` · last update ${snap.updatedAt.toLocaleTimeString()}` : ""}
        </span>
      </header>
      <main>
        {error !== null ? (
          <p className="error-box" role="alert">
            The discovery server does not answer ({error}){snap ? "; showing the last data it sent" : ""}.
          </p>
        ) : null}
        {snap === null ? (
          error === null ? <p className="muted">Loading…</p> : null
        ) : (
          <>
            <Summary snap={snap} />
            <section>
              {snap.nodes.length === 0 ? (
                <p className="muted">No sidecar or gRPC client is connected to this discovery server.</p>
              ) : (
                snap.nodes.map((n) => <NodeCard key={n.stream_id} node={n} nc={snap.clusters.get(n.id)} now={snap.updatedAt} />)
              )}
            </section>
            <MeshPanel config={snap.config} />
          </>
        )}
      </main>
    </>
  );
}
