// One key-value interface over file://, mem:// and gs://; keys are '/'-separated and relative to the store's root.
import { InvalidInput } from '../common/errors.js';
import { gzip, GzipOptions } from './gzip.js';

export interface PutOptions {
  contentType?: string;
  /**
   * Stored gzip-compressed (true: level 6; or these options; 'compressed': the data given is gzip
   * already, as a caller that compresses while the bytes are in cache does); `get` returns the plain
   * bytes either way.
   */
  gzip?: boolean | GzipOptions | 'compressed';
}

/** What a put stores: the body, and whether it is gzip-encoded. */
export function storedBody(data: Uint8Array, options: PutOptions): { body: Uint8Array; gzip: boolean } {
  if (options.gzip === 'compressed') return { body: data, gzip: true };
  if (!options.gzip) return { body: data, gzip: false };
  return { body: gzip(data, options.gzip === true ? { level: 6, strategy: 'default' } : options.gzip), gzip: true };
}

export interface GetOptions {
  /**
   * An object larger than this (after inflating) is refused as corrupt before it is all in memory:
   * what the object claims to be (a chunk's voxels, a stage's tasks) or a side-file limit below.
   * A read that names none is held to DEFAULT_MAX_BYTES.
   */
  maxBytes?: number;
}

/** The bound of a read that names none: no object read whole may take more. */
export const DEFAULT_MAX_BYTES = 1 << 30;

/** The bound `options` set for a read. */
export function maxBytesOf(options: GetOptions | undefined): number {
  return options?.maxBytes ?? DEFAULT_MAX_BYTES;
}

/** The most a JSON side file (graph, progress record, plan) may hold: V8's longest string, 2^29 - 24 characters. */
export const MAX_JSON_BYTES = (1 << 29) - 24;
/** The most a small JSON record (a count, a marker) may hold. */
export const MAX_SMALL_JSON_BYTES = 64 << 10;

/**
 * The body of an object too large to hold (a shard filled from a local spill file): its size, and
 * its bytes read a piece at a time; a piece may be read again (for a retried upload).
 */
export interface PieceBody {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A body held in memory, as a PieceBody. */
export function heldBody(bytes: Uint8Array): PieceBody {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/** The whole of a body (for stores that hold objects whole). */
export async function readWhole(body: PieceBody): Promise<Uint8Array> {
  const bytes = await body.read(0, body.size);
  if (bytes.length !== body.size) throw new Error(`a piece body gave ${bytes.length} of its ${body.size} bytes`);
  return bytes;
}

export interface Store {
  readonly url: string;
  /** The bytes at `key`, or null when there is none. */
  get(key: string, options?: GetOptions): Promise<Uint8Array | null>;
  /**
   * Bytes [offset, offset + length) of the object as stored (objects read by range are never
   * gzip-encoded), shorter at its end; null when there is no object.
   */
  getRange(key: string, offset: number, length: number): Promise<Uint8Array | null>;
  /** The object's bytes as stored (what getRange reads), or null when there is none: for reads from its end. */
  size(key: string): Promise<number | null>;
  /** The object as stored: its body, gzip-encoded or not (copying a layer without re-encoding). */
  getStored(key: string): Promise<{ body: Uint8Array; gzip: boolean } | null>;
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  /**
   * As put, for a body read a piece at a time so that it is never held whole (stored as given, never
   * gzip-encoded): the object appears whole or not at all, like a put's.
   */
  putPieces(key: string, body: PieceBody, options?: { contentType?: string }): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under `prefix`, a page at a time (a gzipped object is listed under its plain key). */
  listPages(prefix?: string): AsyncIterable<string[]>;
  delete(key: string): Promise<void>;
}

/** Every key under `prefix`, sorted: for listings known to be small. */
export async function listAll(store: Store, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of store.listPages(prefix)) keys.push(...page);
  return keys.sort();
}

export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new InvalidInput(`store key "${key}" must be a relative path without empty, "." or ".." parts`);
  }
  return key;
}

/** Joins a URL (or path) and a relative key with exactly one '/'. */
export function joinUrl(base: string, ...parts: string[]): string {
  return [base.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].filter((p) => p !== '').join('/');
}

/** Splits `scheme://rest/of/path/name` into its parent URL and last component. */
export function splitUrl(url: string): { parent: string; name: string } {
  const trimmed = url.replace(/\/+$/, '');
  const i = trimmed.lastIndexOf('/');
  if (i < 0 || trimmed.slice(0, i).endsWith(':/')) throw new InvalidInput(`"${url}" has no parent path`);
  return { parent: trimmed.slice(0, i), name: trimmed.slice(i + 1) };
}
