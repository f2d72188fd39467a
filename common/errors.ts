// The few error classes digest throws, so that queues know what a retry can fix:
// - InvalidInput: a task, plan, layer info, flag or input file that is wrong as given (permanent);
// - CorruptData: stored bytes that do not decode (permanent: reading them again gives the same bytes);
// - TransientError: a timeout, a 5xx, a dropped connection (retried).
// Anything else (a bug, an unexpected system error) is treated as possibly transient and retried.

export type ErrorKind = 'invalid' | 'corrupt' | 'transient' | 'unknown';

export class DigestError extends Error {
  readonly kind: ErrorKind = 'unknown';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidInput extends DigestError {
  override readonly kind = 'invalid';
}

export class CorruptData extends DigestError {
  override readonly kind = 'corrupt';
}

export class TransientError extends DigestError {
  override readonly kind = 'transient';
}

export class TimeoutError extends TransientError {}

const CLASSES = { invalid: InvalidInput, corrupt: CorruptData, transient: TransientError, unknown: DigestError } as const;

export function errorKind(e: unknown): ErrorKind {
  return e instanceof DigestError ? e.kind : 'unknown';
}

/** Whether no retry can help: the input is wrong or the stored bytes are. */
export function isPermanent(e: unknown): boolean {
  const kind = errorKind(e);
  return kind === 'invalid' || kind === 'corrupt';
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An error of the same kind as `e` whose message starts with `context`, with `e` as its cause. */
export function withContext(e: unknown, context: string): Error {
  return errorOfKind(errorKind(e), `${context}: ${messageOf(e)}`, e);
}

export function errorOfKind(kind: ErrorKind, message: string, cause?: unknown): DigestError {
  return new CLASSES[kind](message, cause === undefined ? undefined : { cause });
}

/** Errors cross thread boundaries as plain data (structured clone keeps no class), causes included. */
export interface ErrorRecord {
  kind: ErrorKind;
  message: string;
  cause?: ErrorRecord;
}

/** `e` and its chain of causes (at most `depth` deep) as records. */
export function toRecord(e: unknown, depth = 8): ErrorRecord {
  const cause = e instanceof Error ? e.cause : undefined;
  return { kind: errorKind(e), message: messageOf(e), ...(cause !== undefined && depth > 1 ? { cause: toRecord(cause, depth - 1) } : {}) };
}

export function fromRecord(r: ErrorRecord): DigestError {
  return errorOfKind(r.kind, r.message, r.cause === undefined ? undefined : fromRecord(r.cause));
}
