import { endianness } from 'node:os';

/**
 * Whether typed arrays use little-endian byte order here: code that reinterprets bytes as wider
 * words (a BigInt's halves, a fixed-width table copied whole) takes its fast path only then.
 */
export const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';
