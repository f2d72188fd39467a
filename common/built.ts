// Files of the build (dist/: the compiled worker, the WebAssembly kernels, the bundled viewer), found
// the same way whether the code runs compiled from dist/ or from its sources (vitest).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
/** dist/: this module is dist/common/built.js compiled, or common/built.ts beside dist/ from source. */
const DIST = here.endsWith('.ts') ? join(dirname(here), '..', 'dist') : join(dirname(here), '..');

/** dist/<relative>, which must exist. */
export function builtFile(relative: string): string {
  const file = join(DIST, relative);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  return file;
}
