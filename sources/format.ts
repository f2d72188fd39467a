// The contract of a build-chunk format (the input of an Ingest task, or of a Shard task filled from
// build chunks): one record per format, listed in sources/registry.ts. A build chunk is named by its
// box in mip-0 voxels (voxel_offset included) and the format's suffix: `x0-x1_y0-y1_z0-z1.npz`.
import { Box } from '../common/box.js';
import { DataType, TypedArray } from '../common/dtype.js';

export interface BuildRead {
  /** The build chunk's URL. */
  url: string;
  /** Its box, from its name. */
  box: Box;
  dataType: DataType;
  channels: number;
  /** npz only: the array's axis order. */
  axes?: 'xyz' | 'zyx';
  /** Starts every error: `Ingest task: chunk_path <url>`. */
  where: string;
}

export interface BuildFormat {
  /** What follows the box in a build chunk's name ('' for a directory). */
  suffix: string;
  /** The most bytes its one file may take (checked before reading); undefined for a directory. */
  maxBytes?(dataBytes: number): number;
  /** The voxels of the box, x-fastest [x, y, z, c], checked against the box and the layer. */
  read(r: BuildRead): Promise<TypedArray>;
}
