// Logs: one line per event on stderr. `json` (digest work, containers): one JSON object per line, as
// Cloud Logging reads them ("severity" and "message" are its field names); `text` (the CLI): readable.
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
export type LogFormat = 'json' | 'text';

let format: LogFormat = 'text';

/** Set once per thread at the edge (runtime/config.ts). */
export function configureLog(f: LogFormat): void {
  format = f;
}

export function logFormat(): LogFormat {
  return format;
}

export function logEvent(severity: Severity, message: string, fields: Record<string, unknown> = {}): void {
  if (format === 'json') {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), severity, message, ...fields })}\n`);
  } else {
    const rest = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    process.stderr.write(`digest: ${severity === 'INFO' ? '' : `${severity}: `}${message}${rest ? ` (${rest})` : ''}\n`);
  }
}

/**
 * Node's own warnings (the Google clients' MetadataLookupWarning, say) as log events of this thread's
 * format, instead of Node's plain text; each thread (the CLI's, every pool thread) routes its own.
 */
export function logWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => logEvent('WARNING', w.message, { name: w.name }));
}
