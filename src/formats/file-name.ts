/**
 * Data file names, Metron's `pcap_<TOPIC>_<TS>_<PARTITION>_<ID>` (metron-compat §3.2, §6.4):
 * TS = unsigned decimal ns time of the file's first packet. Parsing follows PcapFilenameHelper:
 * drop the `pcap_` prefix, split on `_`; the last token is the id, then the partition, then the
 * time, and everything before is the topic (so topics may contain `_`). Unlike Metron, names that
 * do not fit (`_SUCCESS`, `.tmp`, too few tokens) give null instead of an exception.
 */

export interface PcapFileName {
  topic: string;
  /** null when the TS token is not an unsigned 64-bit decimal (Metron: null). */
  tsNs: bigint | null;
  /** null when the partition token is not a non-negative int32 (Metron: null). */
  partition: number | null;
  id: string;
}

const PREFIX = 'pcap_';
const U64_MAX = (1n << 64n) - 1n;

export function parsePcapFileName(name: string): PcapFileName | null {
  if (!name.startsWith(PREFIX)) return null;
  const tokens = name.slice(PREFIX.length).split('_');
  if (tokens.length < 4) return null; // topic, ts, partition, id
  const id = tokens[tokens.length - 1];
  const partTok = tokens[tokens.length - 2];
  const tsTok = tokens[tokens.length - 3];
  const topic = tokens.slice(0, tokens.length - 3).join('_');
  let partition: number | null = null;
  if (/^\d{1,10}$/.test(partTok)) {
    const n = Number(partTok);
    if (n <= 0x7fffffff) partition = n;
  }
  let tsNs: bigint | null = null;
  if (/^\d{1,20}$/.test(tsTok)) {
    const t = BigInt(tsTok);
    if (t <= U64_MAX) tsNs = t;
  }
  return { topic, tsNs, partition, id };
}

/**
 * Builds a data file name. `id` must not contain `_` (it would be read back as part of the
 * partition/time), and the name must not start with `.`/`_` (hidden names are reserved for
 * in-progress files): both are programming errors, hence exceptions.
 */
export function formatPcapFileName(topic: string, tsNs: bigint, partition: number, id: string): string {
  if (id.length === 0 || id.includes('_') || id.includes('/'))
    throw new RangeError(`file id '${id}' must be non-empty without '_' or '/'`);
  if (topic.length === 0 || topic.includes('/')) throw new RangeError(`topic '${topic}' cannot be used in a file name`);
  if (!Number.isInteger(partition) || partition < 0) throw new RangeError(`bad partition ${partition}`);
  return `${PREFIX}${topic}_${BigInt.asUintN(64, tsNs).toString()}_${partition}_${id}`;
}
