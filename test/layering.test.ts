// The house stays as drawn (../shared/DESIGN.md): no product folder imports a folder above it, and
// no two folders import each other; commands load the cloud clients only where they use them.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './cli.js';
import { folderCycles, LAYERS, layeringViolations, productImports } from './layering.js';

const root = join(__dirname, '..');

describe('layering', () => {
  it('every product folder imports only folders below it', () => {
    const imports = productImports(root);
    expect(imports.length).toBeGreaterThan(300); // the scan reads the tree
    expect(layeringViolations(imports)).toEqual([]);
  });

  it('no folder cycle', () => {
    expect(folderCycles(productImports(root))).toEqual([]);
  });

  it('the layers themselves are acyclic and name only product folders', () => {
    const folders = Object.keys(LAYERS);
    for (const [folder, below] of Object.entries(LAYERS))
      for (const b of below) {
        expect(folders, `${folder} -> ${b}`).toContain(b);
        expect(LAYERS[b], `${b} may not import ${folder} back`).not.toContain(folder);
      }
  });

  it('catches a wrong import, a dynamic one and a cycle', async () => {
    const tree = await mkdtemp(join(tmpdir(), 'digest-layering-'));
    await mkdir(join(tree, 'storage'));
    await mkdir(join(tree, 'tasks', 'plan'), { recursive: true });
    await writeFile(join(tree, 'storage', 'bad.ts'), "import { x } from '../tasks/plan/y.js';\nexport const z = () => import('../cli/main.js');\n");
    await writeFile(join(tree, 'tasks', 'plan', 'y.ts'), "import { z } from '../../storage/bad.js';\nexport const x = 1;\n");
    await writeFile(join(tree, 'storage', 'fine.test.ts'), "import { x } from '../tasks/plan/y.js';\n"); // tests may import anything
    const imports = productImports(tree);
    expect(layeringViolations(imports)).toEqual([
      'storage/bad.ts:1 imports ../tasks/plan/y.js (storage may not import tasks)',
      'storage/bad.ts:2 imports ../cli/main.js (storage may not import cli)',
    ]);
    expect(folderCycles(imports)).toContain('storage -> tasks -> storage');
  });
});

describe('what a command loads', () => {
  /** The npm packages `digest ...args` has loaded when it exits. */
  async function packagesLoaded(args: string[]): Promise<Set<string>> {
    const dir = await mkdtemp(join(tmpdir(), 'digest-loads-'));
    const hook = join(dir, 'loaded.cjs');
    await writeFile(
      hook,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'loaded.json'))}, JSON.stringify(Object.keys(require.cache))));`,
    );
    const { execFile } = await import('node:child_process');
    await new Promise<void>((ok) => execFile(process.execPath, ['-r', hook, CLI, ...args], () => ok()));
    const { readFile } = await import('node:fs/promises');
    const files = JSON.parse(await readFile(join(dir, 'loaded.json'), 'utf8')) as string[];
    return new Set(files.map((f) => /node_modules\/((@[^/]+\/)?[^/]+)/.exec(f)?.[1]).filter((p): p is string => p !== undefined));
  }

  it('loads the Pub/Sub client (and grpc, gax, protobufjs) only for the commands that use it', async () => {
    const cloud = ['@google-cloud/pubsub', 'google-gax', '@grpc/grpc-js', 'protobufjs'];
    for (const args of [['--help'], ['plan', 'downsample', '--help'], ['run', '/no/such/plan.json', '--local']]) {
      const loaded = await packagesLoaded(args);
      expect(loaded.has('commander'), `${args.join(' ')} ran`).toBe(true);
      expect(
        cloud.filter((p) => loaded.has(p)),
        args.join(' '),
      ).toEqual([]);
    }
    // A command that talks to Pub/Sub does load it (the check above can fail).
    const publish = await packagesLoaded(['publish', '/no/such/plan.json', '--topic', 't', '--subscription', 's', '--progress', 'mem://p']);
    expect(publish.has('@google-cloud/pubsub')).toBe(true);
  });
});

describe('the image', () => {
  it('copies every product folder (the build compiles them all)', async () => {
    const { readFile } = await import('node:fs/promises');
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    const copied = new Set([...dockerfile.matchAll(/^COPY (\S+) \1$/gm)].map((m) => m[1]));
    expect(Object.keys(LAYERS).filter((folder) => !copied.has(folder))).toEqual([]);
  });
});
