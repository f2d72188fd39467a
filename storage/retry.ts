// Timeouts and retries for storage requests: a request that stalls is abandoned (TimeoutError), and
// transient failures are tried again with exponential backoff and jitter; the last error says how
// many attempts were made and names the object.
import { CorruptData, InvalidInput, isPermanent, messageOf, TimeoutError, TransientError, withContext } from '../common/errors.js';
import { storageOptions } from './options.js';

/**
 * The code of a download whose bytes failed their checksum (GCS's client uses it too): retried,
 * since the network may have flipped a byte, and corrupt data once every attempt failed the same way.
 */
export const CHECKSUM_MISMATCH = 'CONTENT_DOWNLOAD_MISMATCH';

/** A checksum failure of `what`, for withRetries to retry and then call corrupt. */
export function checksumMismatch(what: string, cause: unknown): TransientError {
  return Object.assign(new TransientError(`${what}: ${messageOf(cause)}`, { cause }), { code: CHECKSUM_MISMATCH });
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  CHECKSUM_MISMATCH,
]);

/** Transient failures are worth retrying; 4xx other than 408/429 are not. */
export function classify(e: unknown): 'transient' | 'permanent' | 'unknown' {
  if (e instanceof TransientError) return 'transient';
  if (isPermanent(e)) return 'permanent';
  const { code, message } = e as { code?: unknown; message?: string };
  if (typeof code === 'number') return code === 408 || code === 429 || code >= 500 ? 'transient' : 'permanent';
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return 'transient';
  if (/socket hang up|network|timed? ?out|ECONNRESET|aborted/i.test(message ?? '')) return 'transient';
  return 'unknown';
}

/**
 * Runs `attempt` until it succeeds, a permanent error comes, or the retries run out. Each attempt
 * gets an AbortSignal that fires when `stalled()` (called by the driver on each sign of progress)
 * has not been called for the timeout; the attempt must then give up.
 */
export async function withRetries<T>(what: string, attempt: (signal: AbortSignal, progress: () => void) => Promise<T>): Promise<T> {
  const { retries, timeoutMs, retryDelayMs } = storageOptions();
  for (let i = 0; ; i++) {
    try {
      return await withTimeout(what, timeoutMs, attempt);
    } catch (e) {
      const kind = classify(e);
      if (kind === 'permanent') throw e instanceof Error && 'kind' in e ? withContext(e, what) : new InvalidInput(`${what}: ${messageOf(e)}`, { cause: e });
      if (i >= retries) {
        // The same bytes failed their checksum every time: the stored object is what is wrong.
        const Kind = (e as { code?: unknown }).code === CHECKSUM_MISMATCH ? CorruptData : TransientError;
        throw new Kind(`${what}: ${messageOf(e)} (after ${i + 1} attempts)`, { cause: e });
      }
      const delay = Math.min(32_000, retryDelayMs * 2 ** i) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

async function withTimeout<T>(what: string, timeoutMs: number, attempt: (signal: AbortSignal, progress: () => void) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let fail: (e: Error) => void = () => {};
  const stalled = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const e = new TimeoutError(`${what}: no answer for ${timeoutMs / 1000} s`);
      controller.abort(e);
      fail(e);
    }, timeoutMs);
  };
  arm();
  try {
    return await Promise.race([attempt(controller.signal, arm), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A response body read to its end, each chunk a sign of progress (the stall timeout), refused as
 * corrupt once it passes `limit` bytes: what the caller expects the object to hold.
 */
export async function readBody(chunks: AsyncIterable<Uint8Array>, limit: number, where: string, progress: () => void): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    progress();
    size += chunk.length;
    if (size > limit) throw new CorruptData(`${where}: more than the ${limit} bytes expected`);
    parts.push(chunk);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return body;
}
