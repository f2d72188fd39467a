// Schema-checked JSON (valibot): shared field schemas, and one parser whose errors name the file or
// object and the field's path, e.g. `plan.json: stages[3][7].chunk_path: must be a non-empty string, got 7`.
import * as v from 'valibot';
import { InvalidInput } from './errors.js';

/** `stages[3][7].chunk_path` from valibot's issue path. */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  let out = '';
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** One line for a failed parse: `<path> <message>, got <value>` (messages read "must ...", "is ..."). */
export function formatIssue(issue: v.BaseIssue<unknown>): string {
  const path = issuePath(issue);
  // A missing or unknown field says so; its value tells nothing more.
  const aboutKey = issue.type === 'strict_object' && (issue.expected === 'never' || issue.received === 'undefined');
  const got = aboutKey ? '' : `, got ${describe(issue.input)}`;
  return `${path || 'the value'} ${issue.message}${got}`;
}

/** Parses `input` with `schema`; throws InvalidInput starting with `what` and naming the field. */
export function parseSchema<S extends v.GenericSchema>(schema: S, input: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, input, { abortEarly: true });
  if (result.success) return result.output;
  throw new InvalidInput(`${what}: ${formatIssue(result.issues[0])}`);
}

/** JSON text (or bytes) parsed, then checked; `what` names the file in every error. */
export function parseJson<S extends v.GenericSchema>(schema: S, input: string | Uint8Array, what: string): v.InferOutput<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input));
  } catch (e) {
    throw new InvalidInput(`${what}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return parseSchema(schema, raw, what);
}

export const text = v.pipe(v.string('must be a non-empty string'), v.nonEmpty('must be a non-empty string'));
export const unit = v.pipe(v.number('must be a number in [0, 1]'), v.minValue(0, 'must be a number in [0, 1]'), v.maxValue(1, 'must be a number in [0, 1]'));

export function integer(min: number, max: number) {
  const message = `must be an integer ${min}..${max}`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
}

export const count = integer(0, Number.MAX_SAFE_INTEGER);

export const digits = v.pipe(v.string('must be a string of decimal digits'), v.regex(/^\d*$/, 'must be a string of decimal digits'));

export function choice<const T extends readonly [string, ...string[]]>(options: T) {
  return v.picklist(options, `must be one of ${options.join(', ')}`);
}

/** The message of a closed object's issues: not an object, a field missing, or a field unknown. */
export function fieldsMessage(allowed: string[]) {
  return (issue: v.StrictObjectIssue) =>
    issue.expected === 'never' ? `is not a field (allowed: ${allowed.join(', ')})` : issue.received === 'undefined' ? 'is missing' : 'must be a JSON object';
}

/** A closed object: unknown fields are errors that name the field and the allowed ones. */
export function record<const E extends v.ObjectEntries>(entries: E) {
  return v.strictObject(entries, fieldsMessage(Object.keys(entries)));
}

const VEC3_MESSAGE = 'must be an array of 3 numbers';
export const vec3Number = v.pipe(
  v.tuple([v.number(), v.number(), v.number()], VEC3_MESSAGE),
  v.check((a) => a.every(Number.isFinite), VEC3_MESSAGE),
);
export const vec3Integer = v.pipe(
  vec3Number,
  v.check((a) => a.every(Number.isSafeInteger), 'must hold integers'),
);
export const vec3Positive = v.pipe(
  vec3Integer,
  v.check((a) => a.every((x) => x > 0), 'must be positive'),
);
