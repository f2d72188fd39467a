// One key-value interface over file://, mem:// and gs://; keys are '/'-separated and relative to the store's root.

export interface PutOptions {
  contentType?: string;
  /** Stored gzip-compressed; `get` returns the plain bytes either way. */
  gzip?: boolean;
}

export interface Store {
  readonly url: string;
  /** The bytes at `key`, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under `prefix`, sorted; a gzipped object is listed under its plain key. */
  list(prefix?: string): Promise<string[]>;
  delete(key: string): Promise<void>;
}

export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`store key "${key}" must be a relative path without "." or ".." parts`);
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
  if (i < 0 || trimmed.slice(0, i).endsWith(':/')) throw new Error(`"${url}" has no parent path`);
  return { parent: trimmed.slice(0, i), name: trimmed.slice(i + 1) };
}
