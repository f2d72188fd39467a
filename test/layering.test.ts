// The house stays as drawn (../shared/DESIGN.md): no product folder imports a folder above it, and
// no two folders import each other.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
