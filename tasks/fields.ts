// Field schemas shared by the task kinds.
import * as v from 'valibot';
import { integer, text } from '../common/schema.js';
import { isBoxKey } from '../common/box.js';

export { count, text, unit } from '../common/schema.js';

/** A canonical box `x0-x1_y0-y1_z0-z1` (no suffix, no leading zeros): one spelling per object. */
export const boxKey = v.pipe(text, v.check(isBoxKey, 'must be a canonical box x0-x1_y0-y1_z0-z1 (no leading zeros, no suffix)'));

export const lod = integer(0, 1000);

const MAX_UINT64 = (1n << 64n) - 1n;

export const isSegmentId = (id: unknown) =>
  (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) || (typeof id === 'string' && /^[1-9]\d*$/.test(id) && BigInt(id) <= MAX_UINT64);

const segmentId = v.custom<number | string>(isSegmentId, 'must be a non-zero uint64 id (a number, or a decimal string above 2^53)');

export const segments = v.array(segmentId, 'must be an array of segment ids');
