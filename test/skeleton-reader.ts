// An independent reader of Neuroglancer's precomputed skeletons, written from skeletons.md (not from
// digest's writer): the info's vertex attributes say what follows the edges; and an SWC parser.
export interface ReadSkeleton {
  positions: Float32Array;
  edges: Uint32Array;
  attributes: Map<string, Float32Array | Int32Array | Uint32Array>;
}

const TYPES = { float32: Float32Array, int32: Int32Array, uint32: Uint32Array } as const;

export function readSkeleton(bytes: Uint8Array, info: { vertex_attributes?: { id: string; data_type: string; num_components: number }[] }): ReadSkeleton {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vertices = view.getUint32(0, true),
    edgeCount = view.getUint32(4, true);
  let o = 8;
  const take = <T>(Type: new (n: number) => T & { [i: number]: number }, n: number, get: (at: number) => number): T => {
    const out = new Type(n);
    for (let i = 0; i < n; i++, o += 4) out[i] = get(o);
    return out;
  };
  const positions = take(Float32Array, 3 * vertices, (at) => view.getFloat32(at, true));
  const edges = take(Uint32Array, 2 * edgeCount, (at) => view.getUint32(at, true));
  const attributes = new Map<string, Float32Array | Int32Array | Uint32Array>();
  for (const a of info.vertex_attributes ?? []) {
    const Type = TYPES[a.data_type as keyof typeof TYPES];
    if (!Type) throw new Error(`attribute ${a.id}: data type ${a.data_type} not in the spec's list here`);
    const float = a.data_type === 'float32',
      signed = a.data_type === 'int32';
    attributes.set(
      a.id,
      take(Type as never, vertices * a.num_components, (at) =>
        float ? view.getFloat32(at, true) : signed ? view.getInt32(at, true) : view.getUint32(at, true),
      ),
    );
  }
  if (o !== bytes.length) throw new Error(`skeleton: ${bytes.length - o} bytes after the last attribute`);
  return { positions, edges, attributes };
}

export interface SwcNode {
  id: number;
  type: number;
  x: number;
  y: number;
  z: number;
  radius: number;
  parent: number;
}

/** SWC text: comment lines start with #, then `id type x y z radius parent` per line. */
export function parseSwc(text: string): SwcNode[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const [id, type, x, y, z, radius, parent] = l.trim().split(/\s+/).map(Number);
      return { id, type, x, y, z, radius, parent };
    });
}
