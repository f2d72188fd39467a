// The layering of digest's folders (../shared/DESIGN.md): a folder imports only folders below it.
// Read by test/layering.test.ts, which fails on any import against it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

/** Each product folder and the folders it may import (besides itself). */
export const LAYERS: Record<string, string[]> = {
  common: [],
  wasm: ['common'],
  storage: ['common', 'wasm'],
  codecs: ['common', 'wasm', 'storage'],
  precomputed: ['common', 'wasm', 'storage', 'codecs'],
  kernels: ['common', 'wasm', 'storage', 'codecs', 'precomputed'],
  mesh: ['common', 'wasm', 'storage', 'codecs', 'precomputed', 'kernels'],
  affinities: ['common', 'wasm', 'storage', 'codecs', 'precomputed', 'kernels'],
  skeletons: ['common', 'wasm', 'storage', 'codecs', 'precomputed', 'kernels'],
  sources: ['common', 'wasm', 'storage', 'codecs', 'precomputed'],
  tasks: ['common', 'wasm', 'storage', 'codecs', 'precomputed', 'kernels', 'mesh', 'affinities', 'skeletons', 'sources'],
  runtime: ['common', 'wasm', 'storage', 'codecs', 'precomputed', 'kernels', 'mesh', 'affinities', 'skeletons', 'sources', 'tasks'],
  // (server below queue: a worker answers its health checks with server/health.ts)
  server: ['common', 'wasm', 'storage', 'codecs', 'precomputed'],
  queue: ['common', 'wasm', 'storage', 'codecs', 'precomputed', 'kernels', 'mesh', 'affinities', 'skeletons', 'sources', 'tasks', 'runtime', 'server'],
  demo: ['common', 'wasm', 'storage', 'codecs', 'precomputed', 'kernels', 'mesh', 'affinities', 'skeletons', 'sources', 'tasks', 'runtime', 'queue', 'server'],
  cli: [
    'common',
    'wasm',
    'storage',
    'codecs',
    'precomputed',
    'kernels',
    'mesh',
    'affinities',
    'skeletons',
    'sources',
    'tasks',
    'runtime',
    'queue',
    'server',
    'demo',
  ],
};

export interface Import {
  file: string;
  line: number;
  spec: string;
  from: string;
  to: string;
}

/** Every relative import (static, re-export or dynamic) of the product's non-test .ts files under `root`. */
export function productImports(root: string): Import[] {
  const out: Import[] = [];
  for (const folder of Object.keys(LAYERS)) {
    for (const file of tsFiles(join(root, folder))) {
      const text = readFileSync(file, 'utf8');
      const lines = text.split('\n');
      lines.forEach((l, i) => {
        for (const m of l.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
          const target = normalize(join(dirname(file), m[1]));
          out.push({ file: relative(root, file), line: i + 1, spec: m[1], from: folder, to: relative(root, target).split(sep)[0] });
        }
      });
    }
  }
  return out;
}

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Folder cycles in the imports (a -> b -> ... -> a), each as its path; none when the layering holds. */
export function folderCycles(imports: Import[]): string[] {
  const edges = new Map<string, Set<string>>();
  for (const i of imports) if (i.to !== i.from) (edges.get(i.from) ?? edges.set(i.from, new Set()).get(i.from)!).add(i.to);
  const cycles: string[] = [];
  const visit = (node: string, path: string[]) => {
    for (const next of edges.get(node) ?? []) {
      if (path.includes(next)) cycles.push([...path.slice(path.indexOf(next)), next].join(' -> '));
      else visit(next, [...path, next]);
    }
  };
  for (const start of edges.keys()) visit(start, [start]);
  return [...new Set(cycles)];
}

/** The imports against LAYERS, one line each: `tasks/x.ts:3 imports ../cli/y.js (tasks may not import cli)`. */
export function layeringViolations(imports: Import[]): string[] {
  return imports
    .filter((i) => i.to !== i.from && !(LAYERS[i.from] ?? []).includes(i.to))
    .map((i) => `${i.file}:${i.line} imports ${i.spec} (${i.from} may not import ${i.to})`);
}
