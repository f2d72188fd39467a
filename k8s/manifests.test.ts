// A schema check of the Kubernetes manifests (no kubectl here): every document parses, has the
// fields its kind needs, and what it refers to (config map, service account, deployment, ports,
// the health port the worker listens on) exists and agrees.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { environmentVariables } from '../engine/program.js';

interface Doc { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any }

const dir = __dirname;
const docs: Doc[] = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS() as Doc;
  }));
const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const API: Record<string, string> = { Namespace: 'v1', ConfigMap: 'v1', ServiceAccount: 'v1', Deployment: 'apps/v1', HorizontalPodAutoscaler: 'autoscaling/v2' };

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

  it('run workers that can reach their config, identity and health port', () => {
    const deployments = docs.filter((d) => d.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['digest-worker-cpu', 'digest-worker-gpu']);
    for (const d of deployments) {
      const spec = d.spec, pod = spec.template.spec;
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
      for (const probe of [c.livenessProbe, c.readinessProbe]) expect(probe.httpGet.path).toBe('/healthz');
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
