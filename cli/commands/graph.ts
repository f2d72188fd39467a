// digest graph export: a watershed layer's region graph (the binary chunk graphs MeanGraph wrote) as
// one JSON file for people and scripts: {"edges": [["<a>", "<b>", sum, count, mean], ...]}, sorted
// by (a, b), each pair's sums added over the chunks (exactly, then shown as float64).
import { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mergedEdges } from '../../affinities/mean-graph.js';
import { decodeRegionGraph, RegionGraph, UNITS_PER_AFFINITY } from '../../affinities/region-graph.js';
import { InvalidInput } from '../../common/errors.js';
import { Volume } from '../../precomputed/volume.js';
import { GRAPH_CHUNKS, maxChunkGraphBytes } from '../../tasks/mean-graph.js';
import { isBoxKey, parseChunkKey } from '../../common/box.js';
import { listAll } from '../../storage/store.js';
import { configureStorageFlags, storageFlags } from '../options.js';

export function addGraphCommands(program: Command): void {
  const graph = program.command('graph').description('the region graph of a watershed layer');
  storageFlags(
    graph
      .command('export')
      .description('write the region graph as JSON: {"edges": [["<a>", "<b>", sum, count, mean], ...]}')
      .requiredOption('--layer <url>', 'the watershed layer (its mean_graph/chunks)')
      .requiredOption('--out <file>', 'the JSON file to write'),
  ).action(async (o) => {
    configureStorageFlags(o);
    const edges = await exportedEdges(o.layer);
    const out = createWriteStream(o.out);
    const write = async (text: string) => {
      if (!out.write(text)) await once(out, 'drain');
    };
    await write('{"edges":[\n');
    for (let i = 0; i < edges.length; i++) {
      const e = edges[i];
      const sum = e.whole + e.fraction / UNITS_PER_AFFINITY;
      await write(`${i ? ',\n' : ''}["${e.a}","${e.b}",${sum},${e.count},${sum / e.count}]`);
    }
    await write('\n]}\n');
    out.end();
    await once(out, 'finish');
    console.log(`${edges.length} edges written to ${o.out}`);
  });
}

async function exportedEdges(layerUrl: string) {
  const layer = await Volume.open(layerUrl);
  const keys = (await listAll(layer.store, `${GRAPH_CHUNKS}/`)).filter((k) => k.endsWith('.graph'));
  if (keys.length === 0) throw new InvalidInput(`graph export: no chunk graphs under ${layer.url}/${GRAPH_CHUNKS}/ (run the MeanGraph tasks first)`);
  const graphs: RegionGraph[] = [];
  for (const key of keys) {
    const name = key.slice(GRAPH_CHUNKS.length + 1, -'.graph'.length);
    if (!isBoxKey(name)) throw new InvalidInput(`graph export: ${layer.url}/${key} is not named <x0-x1_y0-y1_z0-z1>.graph`);
    const bytes = await layer.store.get(key, { maxBytes: maxChunkGraphBytes(parseChunkKey(name)) });
    if (bytes) graphs.push(decodeRegionGraph(bytes, `${layer.url}/${key}`, 'chunk'));
  }
  return mergedEdges(graphs);
}
