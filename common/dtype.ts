// Voxel data types of precomputed volumes and the typed arrays that hold them.
import { CorruptData, InvalidInput } from './errors.js';

export const DATA_TYPES = ['uint8', 'uint16', 'uint32', 'uint64', 'float32'] as const;
export type DataType = (typeof DATA_TYPES)[number];
export type TypedArray = Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Float32Array;

export const BYTES_PER_VOXEL: Record<DataType, number> = {
  uint8: 1,
  uint16: 2,
  uint32: 4,
  uint64: 8,
  float32: 4,
};

export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && (DATA_TYPES as readonly string[]).includes(value);
}

export function allocate(dtype: DataType, length: number): TypedArray {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'uint32':
      return new Uint32Array(length);
    case 'uint64':
      return new BigUint64Array(length);
    case 'float32':
      return new Float32Array(length);
  }
}

export function dataTypeOf(array: TypedArray): DataType {
  if (array instanceof Uint8Array) return 'uint8';
  if (array instanceof Uint16Array) return 'uint16';
  if (array instanceof Uint32Array) return 'uint32';
  if (array instanceof BigUint64Array) return 'uint64';
  return 'float32';
}

/**
 * Typed-array view of little-endian bytes (every platform Node runs on is little-endian).
 * Copies only when the bytes are not aligned to the element size.
 */
export function fromBytes(dtype: DataType, bytes: Uint8Array): TypedArray {
  const size = BYTES_PER_VOXEL[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new CorruptData(`${bytes.byteLength} bytes is not a whole number of ${dtype} values`);
  }
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const n = aligned.byteLength / size;
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(aligned.buffer, aligned.byteOffset, n);
    case 'uint16':
      return new Uint16Array(aligned.buffer, aligned.byteOffset, n);
    case 'uint32':
      return new Uint32Array(aligned.buffer, aligned.byteOffset, n);
    case 'uint64':
      return new BigUint64Array(aligned.buffer, aligned.byteOffset, n);
    case 'float32':
      return new Float32Array(aligned.buffer, aligned.byteOffset, n);
  }
}

export function toBytes(array: TypedArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** Segmentation labels as uint32 or uint64: uint8/uint16 labels are widened to uint32 (a copy). */
export function asLabels(array: TypedArray): Uint32Array | BigUint64Array {
  if (array instanceof Uint32Array || array instanceof BigUint64Array) return array;
  if (array instanceof Float32Array) throw new InvalidInput('labels must be unsigned integers, not float32');
  return Uint32Array.from(array);
}

/** Segmentation labels seen as 32-bit words: 1 word per uint32 label, 2 (low, high) per uint64 label. */
export function labelWords(array: Uint32Array | BigUint64Array): { words: Uint32Array; wordsPerLabel: 1 | 2 } {
  const words = new Uint32Array(array.buffer, array.byteOffset, array.byteLength / 4);
  return { words, wordsPerLabel: array instanceof BigUint64Array ? 2 : 1 };
}
