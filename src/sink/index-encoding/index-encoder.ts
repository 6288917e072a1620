import type { IndexBuilder } from '../../formats/index/packet-index.js';
import type { IndexSummary } from '../../formats/index/packet-index-format.js';
import type { WriteBody } from '../../storage/types.js';

/**
 * Turns a sealed file's collected index into the bytes of its index file. Pure work, no storage:
 * the seal writes what this returns. The builder is spent afterwards (its columns may have moved to
 * another thread), and its `sketches` hold the file's sketches once the returned promise resolves.
 */
export interface IndexEncoder {
  encode(index: IndexBuilder, summary: IndexSummary): Promise<WriteBody>;
}

/** Encodes on the calling thread (tests, tools, and the rare file index v2 cannot describe). */
export const inThreadIndexEncoder: IndexEncoder = {
  encode: async (index, summary) => index.encode(summary),
};
