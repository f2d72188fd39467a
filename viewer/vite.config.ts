// Bundles viewer/ (Neuroglancer) into dist/viewer for `digest view`. Two fixes to Neuroglancer's npm
// package, both at build time: icons its code imports that the registry's ikonate lacks, and the
// webpack comments that hide its workers from vite.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin, UserConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

/** ikonate/icons/X.svg that the npm package (1.1.1) lacks: our own drawings in viewer/icons. */
const missingIcons: Plugin = {
  name: 'digest-ikonate-missing-icons',
  enforce: 'pre',
  resolveId(id) {
    const m = /^ikonate\/icons\/([a-z0-9-]+\.svg)(\?raw)?$/.exec(id);
    if (!m || existsSync(join(root, 'node_modules', 'ikonate', 'icons', m[1]))) return null;
    return join(here, 'icons', m[1]) + (m[2] ?? '');
  },
};

/** `new Worker(/* webpackChunkName *\/ new URL(...))`: without the comment vite bundles the worker. */
const workerComments: Plugin = {
  name: 'digest-neuroglancer-worker-comments',
  enforce: 'pre',
  transform(code, id) {
    if (!id.includes('/neuroglancer/lib/') || !code.includes('webpackChunkName')) return null;
    return { code: code.replace(/\/\*\s*webpackChunkName:[^*]*\*\/\s*/g, ''), map: null };
  },
};

const config: UserConfig = {
  root: here,
  base: './',
  plugins: [missingIcons, workerComments],
  build: { outDir: join(root, 'dist', 'viewer'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 20_000 },
  // Workers are built by their own pipeline: the same fixes apply there (the chunk worker starts the
  // async-computation workers that decode PNG and JPEG).
  worker: { format: 'es', plugins: () => [missingIcons, workerComments] },
};
export default config;
