// Structured logs: one JSON object per line on stderr, as Cloud Logging reads them from containers
// ("severity" and "message" are its field names).
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

export function logEvent(severity: Severity, message: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), severity, message, ...fields })}\n`);
}
