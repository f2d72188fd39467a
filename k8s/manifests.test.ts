// The Kubernetes manifests (no kubectl here): every document is valid against Kubernetes' OpenAPI
// schemas (kubernetes-models, generated from them), and what it refers to (config map, service
// account, deployment, ports, the health port the worker listens on) exists and agrees. The rules
// are checked on deliberately broken copies too, so that they can fail.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { environmentVariables } from '../cli/program.js';

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
}

const dir = __dirname;
const docs: Doc[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
      return d.toJS() as Doc;
    }),
  );
const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const API: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  ServiceAccount: 'v1',
  Deployment: 'apps/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
};

/** Each document's schema errors (kubernetes-models' validate(), per apiVersion and kind). */
async function schemaErrors(documents: Doc[]): Promise<string[]> {
  const errors: string[] = [];
  for (const d of documents) {
    const model = await import(`kubernetes-models/${d.apiVersion}/${d.kind}`).catch(() => undefined);
    if (!model) {
      errors.push(`${d.kind} ${d.metadata?.name}: no schema for ${d.apiVersion}`);
      continue;
    }
    try {
      new model[d.kind](d).validate();
    } catch (e) {
      errors.push(`${d.kind} ${d.metadata?.name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return errors;
}

/** What the schema allows but the workers must not have: replicas fighting an HPA, probes that kill a drain. */
function ruleErrors(documents: Doc[]): string[] {
  const errors: string[] = [];
  const scaled = new Set(documents.filter((d) => d.kind === 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name));
  for (const d of documents.filter((x) => x.kind === 'Deployment')) {
    if (scaled.has(d.metadata.name) && d.spec.replicas !== undefined)
      errors.push(`${d.metadata.name}: sets replicas while an HPA scales it (each apply resets the pod count)`);
    const [c] = d.spec.template.spec.containers;
    if (c.livenessProbe?.httpGet?.path !== '/healthz') errors.push(`${d.metadata.name}: liveness must be /healthz (200 while draining)`);
    if (c.readinessProbe?.httpGet?.path !== '/readyz') errors.push(`${d.metadata.name}: readiness must be /readyz (503 while draining)`);
  }
  return errors;
}

describe('k8s manifests', () => {
  it('are known kinds with their API versions, names and the digest namespace', () => {
    expect(docs.length).toBeGreaterThanOrEqual(7);
    for (const d of docs) {
      expect(API[d.kind], `${d.kind} ${d.metadata?.name}`).toBe(d.apiVersion);
      expect(d.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (d.kind !== 'Namespace') expect(d.metadata.namespace).toBe('digest');
    }
    expect(named('Namespace', 'digest')).toBeDefined();
  });

  it("are valid against Kubernetes' OpenAPI schemas, with no replicas under an HPA and a drain-safe liveness probe", async () => {
    expect(await schemaErrors(docs)).toEqual([]);
    expect(ruleErrors(docs)).toEqual([]);
  });

  it('refuse deliberately broken copies (the checks can fail)', async () => {
    const copy = () => structuredClone(docs);
    const deployment = (d: Doc[]) => d.find((x) => x.kind === 'Deployment')!;
    const breakages: [string, (d: Doc[]) => void, RegExp][] = [
      [
        'port as text',
        (d) => {
          deployment(d).spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
        },
        /containerPort must be integer/,
      ],
      [
        'misspelled field',
        (d) => {
          deployment(d).spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
        },
        /imagePullPolicy/,
      ],
      [
        'selector missing',
        (d) => {
          delete deployment(d).spec.selector;
        },
        /selector/,
      ],
      [
        'HPA without max',
        (d) => {
          delete d.find((x) => x.kind === 'HorizontalPodAutoscaler')!.spec.maxReplicas;
        },
        /maxReplicas/,
      ],
    ];
    for (const [what, breakIt, message] of breakages) {
      const broken = copy();
      breakIt(broken);
      expect((await schemaErrors(broken)).join('; '), what).toMatch(message);
    }
    const withReplicas = copy();
    deployment(withReplicas).spec.replicas = 1;
    expect(ruleErrors(withReplicas).join('; ')).toMatch(/sets replicas while an HPA scales it/);
    const readinessAsLiveness = copy();
    deployment(readinessAsLiveness).spec.template.spec.containers[0].livenessProbe.httpGet.path = '/readyz';
    expect(ruleErrors(readinessAsLiveness).join('; ')).toMatch(/liveness must be \/healthz/);
  });

  it('run workers that can reach their config, identity and health port', () => {
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['digest-worker-cpu', 'digest-worker-gpu']);
    for (const d of deployments) {
      const spec = d.spec,
        pod = spec.template.spec;
      expect(spec.selector.matchLabels).toEqual(spec.template.metadata.labels);
      const sa = named('ServiceAccount', pod.serviceAccountName);
      expect(sa?.metadata.annotations?.['iam.gke.io/gcp-service-account']).toMatch(/@.*\.iam\.gserviceaccount\.com$/);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60); // room to drain
      const [c] = pod.containers;
      expect(c.args).toEqual(['work']);
      const config = named('ConfigMap', c.envFrom[0].configMapRef.name);
      expect(config?.data.DIGEST_SUBSCRIPTION).toBeTruthy();
      const port = c.ports.find((p: { name: string }) => p.name === c.livenessProbe.httpGet.port);
      expect(String(port.containerPort)).toBe(config!.data.DIGEST_HEALTH_PORT);
      expect(c.readinessProbe.httpGet.port).toBe(c.livenessProbe.httpGet.port);
      expect(c.resources.requests.cpu).toBeDefined();
      expect(c.resources.limits.memory).toBe(c.resources.requests.memory);
      const backend = c.env.find((e: { name: string }) => e.name === 'DIGEST_BACKEND').value;
      expect(['auto', 'cpu', 'gpu']).toContain(backend);
    }
    const gpu = named('Deployment', 'digest-worker-gpu')!.spec.template.spec;
    expect(gpu.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    expect(gpu.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(gpu.nodeSelector['cloud.google.com/gke-accelerator']).toBeTruthy();
    // A GPU pod forces the gpu backend: a node whose GPU does not open fails instead of idling.
    expect(gpu.containers[0].env).toContainEqual({ name: 'DIGEST_BACKEND', value: 'gpu' });
    const cpu = named('Deployment', 'digest-worker-cpu')!.spec.template.spec;
    expect(cpu.containers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
  });

  it('set only environment variables that digest reads, with values its options accept', () => {
    const known = environmentVariables();
    const config = named('ConfigMap', 'digest-config')!.data as Record<string, string>;
    const containers = docs.filter((d) => d.kind === 'Deployment').map((d) => d.spec.template.spec.containers[0]);
    const set = [...Object.keys(config), ...containers.flatMap((c) => (c.env ?? []).map((e: { name: string }) => e.name))];
    for (const name of set.filter((n) => n.startsWith('DIGEST_'))) expect(known, name).toContain(name);
  });

  it('scale each Deployment on the backlog of the subscription the workers read', () => {
    const hpas = docs.filter((d) => d.kind === 'HorizontalPodAutoscaler');
    expect(hpas.length).toBe(2);
    const subscription = named('ConfigMap', 'digest-config')!.data.DIGEST_SUBSCRIPTION;
    for (const h of hpas) {
      const target = named('Deployment', h.spec.scaleTargetRef.name);
      expect(target?.apiVersion).toBe(h.spec.scaleTargetRef.apiVersion);
      expect(h.spec.minReplicas).toBeLessThanOrEqual(h.spec.maxReplicas);
      const [m] = h.spec.metrics;
      expect(m.type).toBe('External');
      expect(m.external.metric.name).toBe('pubsub.googleapis.com|subscription|num_undelivered_messages');
      expect(m.external.metric.selector.matchLabels['resource.labels.subscription_id']).toBe(subscription);
      expect(Number(m.external.target.averageValue)).toBeGreaterThan(0);
    }
  });
});
