/**
 * A Bloom filter over index terms (the per-file sketches of the v2 index and the store catalog): a
 * "no" is certain, a "yes" may be wrong (about 1% at 10 bits per term; filters are capped in size,
 * so very large term sets answer "yes" more often, which costs reads, never results).
 */
import { fnv1a } from './v2/terms.js';

export const MAX_SKETCH_BYTES = 4096;

export class BloomFilter {
  constructor(
    readonly bits: Uint8Array,
    readonly hashes: number,
  ) {}

  /** A filter sized for `terms` distinct terms (at least 8 bytes, at most MAX_SKETCH_BYTES). */
  static forCount(terms: number): BloomFilter {
    const bytes = Math.min(MAX_SKETCH_BYTES, Math.max(8, Math.ceil((terms * 10) / 8)));
    const m = bytes * 8;
    const k = Math.max(1, Math.min(8, Math.round((m / Math.max(1, terms)) * Math.LN2)));
    return new BloomFilter(new Uint8Array(bytes), k);
  }

  private positions(key: Uint8Array, visit: (bit: number) => boolean): boolean {
    const m = this.bits.length * 8;
    const h1 = fnv1a(key);
    const h2 = fnv1a(key, 0x5bd1e995) | 1;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      if (!visit(bit % m)) return false;
    }
    return true;
  }

  add(key: Uint8Array): void {
    this.positions(key, (bit) => {
      this.bits[bit >> 3] |= 1 << (bit & 7);
      return true;
    });
  }

  mayContain(key: Uint8Array): boolean {
    return this.positions(key, (bit) => (this.bits[bit >> 3] & (1 << (bit & 7))) !== 0);
  }
}

const scratch = Buffer.alloc(8);

/** The sketch key of a term: address bytes as they are, numbers as 8-byte little-endian doubles. */
export function sketchKey(term: number | Uint8Array): Uint8Array {
  if (typeof term !== 'number') return term;
  scratch.writeDoubleLE(term, 0);
  return scratch;
}
