/**
 * The options of `pcap-query fixed|query`: Metron's pcap_query.sh options (metron-compat §6.2),
 * one table that drives parsing (args.ts) and the help text.
 */
/** `pcap-query fixed` (Metron's fixed filter) or `pcap-query query` (an expression). */
export type QueryMode = 'fixed' | 'query';

export const DEFAULT_BASE_PATH = '/apps/metron/pcap/input';
export const DEFAULT_BASE_OUTPUT_PATH = '/apps/metron/pcap/interim';
export const DEFAULT_RECORDS_PER_FILE = 10000;
export const DEFAULT_CONCURRENCY = 4;

export interface OptDef {
  short?: string;
  long: string;
  arg?: string;
  flag?: boolean;
  modes: readonly QueryMode[];
  desc: string;
  /** MapReduce-only Metron options: accepted, ignored with a notice. */
  obsolete?: boolean;
}

const BOTH: readonly QueryMode[] = ['fixed', 'query'];
const FIXED: readonly QueryMode[] = ['fixed'];
const QUERY: readonly QueryMode[] = ['query'];

export const OPTIONS: readonly OptDef[] = [
  {
    short: 'sa',
    long: 'ip_src_addr',
    arg: 'addr',
    modes: FIXED,
    desc: 'source IP address or CIDR block (IPv4 or IPv6)',
  },
  { short: 'da', long: 'ip_dst_addr', arg: 'addr', modes: FIXED, desc: 'destination IP address or CIDR block' },
  { short: 'sp', long: 'ip_src_port', arg: 'port', modes: FIXED, desc: 'source port, or a range like 1000-2000' },
  { short: 'dp', long: 'ip_dst_port', arg: 'port', modes: FIXED, desc: 'destination port, or a range' },
  {
    short: 'p',
    long: 'protocol',
    arg: 'proto',
    modes: FIXED,
    desc: 'IP protocol: a number, or tcp, udp, icmp, icmpv6, ...',
  },
  {
    short: 'pf',
    long: 'packet_filter',
    arg: 'pattern',
    modes: FIXED,
    desc: "byte pattern searched in each packet (byteseek syntax: hex, 'text', `text`, ., [..])",
  },
  {
    short: 'ir',
    long: 'include_reverse',
    flag: true,
    modes: FIXED,
    desc: 'also match the reverse direction (source and destination swapped)',
  },
  {
    short: 'q',
    long: 'query',
    arg: 'expr',
    modes: QUERY,
    desc: 'filter expression, e.g. "ip_dst_port == 22 and IN_SUBNET(ip_src_addr, \'10.0.0.0/8\')"',
  },
  {
    short: 'st',
    long: 'start_time',
    arg: 'time',
    modes: BOTH,
    desc: '(required) window start: epoch milliseconds, or a date with -df',
  },
  { short: 'et', long: 'end_time', arg: 'time', modes: BOTH, desc: 'window end, inclusive (default: now)' },
  {
    short: 'df',
    long: 'date_format',
    arg: 'pattern',
    modes: BOTH,
    desc: 'Java SimpleDateFormat pattern for -st/-et, e.g. yyyy-MM-dd-HH:mm.ss',
  },
  { long: 'tz', arg: 'zone', modes: BOTH, desc: 'time zone for -df dates without an offset (default UTC)' },
  {
    short: 'bp',
    long: 'base_path',
    arg: 'path',
    modes: BOTH,
    desc: `where the packet files are: a webhdfs://host:port/path or file:///path URI, or a plain path on $PCAPLINE_STORE (else local disk) (default ${DEFAULT_BASE_PATH})`,
  },
  {
    short: 'bop',
    long: 'base_output_path',
    arg: 'path',
    modes: BOTH,
    desc: 'Metron interim directory; accepted, unused (no MapReduce)',
  },
  {
    short: 'rpf',
    long: 'records_per_file',
    arg: 'n',
    modes: BOTH,
    desc: `packets per output page (default ${DEFAULT_RECORDS_PER_FILE})`,
  },
  {
    short: 'pre',
    long: 'prefix',
    arg: 'text',
    modes: BOTH,
    desc: 'page name prefix (default yyyyMMddHHmm-<uuid>, UTC)',
  },
  {
    short: 'o',
    long: 'output',
    arg: 'dir|-',
    modes: BOTH,
    desc: 'directory for the pages (default .), or - for one pcap stream on stdout',
  },
  { long: 'max-packets', arg: 'n', modes: BOTH, desc: 'stop after n packets' },
  { long: 'max-bytes', arg: 'n', modes: BOTH, desc: 'stop before the output exceeds n bytes (suffixes k, m, g)' },
  { long: 'concurrency', arg: 'n', modes: BOTH, desc: `files read in parallel (default ${DEFAULT_CONCURRENCY})` },
  { long: 'index', flag: true, modes: BOTH, desc: 'use packet indexes when present; --no-index scans every file' },
  {
    long: 'catalog',
    flag: true,
    modes: BOTH,
    desc: "plan from the store's catalog when it has one; --no-catalog lists the whole base path",
  },
  {
    long: 'memory',
    arg: 'bytes',
    modes: BOTH,
    desc: 'bytes all open files share for packet windows and reorder buffers (default 32m; suffixes k, m, g)',
  },
  {
    long: 'clean',
    flag: true,
    modes: BOTH,
    desc: 'delete existing pages with the same prefix in the output directory first (otherwise: refused)',
  },
  { long: 'quiet', flag: true, modes: BOTH, desc: 'no progress bar or summary' },
  { short: 'h', long: 'help', flag: true, modes: BOTH, desc: 'print this help' },
  { short: 'nr', long: 'num_reducers', arg: 'n', modes: BOTH, obsolete: true, desc: 'Metron MapReduce reducers' },
  { short: 'ft', long: 'finalizer_threads', arg: 'n', modes: BOTH, obsolete: true, desc: 'Metron finalizer threads' },
  { short: 'yq', long: 'yarn_queue', arg: 'queue', modes: BOTH, obsolete: true, desc: 'Metron YARN queue' },
];

/** How a fixed-mode field is written as an expression, for error hints in query mode. */
export const QUERY_EQUIVALENT: Record<string, string> = {
  packet_filter: "BYTEARRAY_MATCHER('…', packet)",
  include_reverse: '(ip_src_addr == a and ip_dst_addr == b) or (ip_src_addr == b and ip_dst_addr == a)',
  ip_src_addr: "ip_src_addr == '…' or IN_SUBNET(ip_src_addr, '…/24')",
  ip_dst_addr: "ip_dst_addr == '…' or IN_SUBNET(ip_dst_addr, '…/24')",
};

export const label = (o: OptDef): string => (o.short === undefined ? `--${o.long}` : `-${o.short}/--${o.long}`);

const MODE_TITLE: Record<QueryMode, string> = { fixed: 'Fixed filter options', query: 'Query filter options' };

/** Help text for a mode (or both), in the spirit of Metron's `usage: Fixed filter options`. */
export function queryHelp(mode?: QueryMode): string {
  const row = (o: OptDef) => {
    const names = `${o.short === undefined ? '   ' : `-${o.short},`}--${o.long}${o.arg ? ` <${o.arg}>` : ''}`;
    return ` ${names.padEnd(34)} ${o.desc}`;
  };
  const lines: string[] = [];
  const modes: QueryMode[] = mode === undefined ? ['fixed', 'query'] : [mode];
  lines.push(
    mode === undefined
      ? 'usage: pcap-query fixed|query -st <time> [options]'
      : `usage: pcap-query ${mode} -st <time> [options]`,
  );
  for (const m of modes) {
    lines.push('', `${MODE_TITLE[m]}:`);
    for (const o of OPTIONS) if (o.modes.length === 1 && o.modes[0] === m) lines.push(row(o));
  }
  lines.push('', 'Common options:');
  for (const o of OPTIONS) if (o.modes.length === 2 && !o.obsolete) lines.push(row(o));
  lines.push('', 'Accepted for compatibility and ignored (they configured the MapReduce job):');
  lines.push(
    ` ${OPTIONS.filter((o) => o.obsolete)
      .map((o) => `-${o.short},--${o.long} <${o.arg}>`)
      .join('  ')}`,
  );
  lines.push(
    '',
    'Times are epoch milliseconds unless -df is given. Results are time-ordered pages',
    'pcap-data-<prefix>+NNNN.pcap; no matching packets means no files.',
  );
  return `${lines.join('\n')}\n`;
}

/** Every option by its long and its short name, built once. */
export const OPTION_BY_NAME: ReadonlyMap<string, OptDef> = new Map(
  OPTIONS.flatMap((o): [string, OptDef][] =>
    o.short === undefined
      ? [[o.long, o]]
      : [
          [o.long, o],
          [o.short, o],
        ],
  ),
);

const HELP_FLAGS = new Set(['-h', '--help', '-help']);

/**
 * The help text when argv is only a request for it (`--help`, `fixed --help`), else null: answered
 * from this table alone, before the filter compilers and the time parser are loaded.
 */
export function plainHelpRequest(argv: readonly string[]): string | null {
  if (argv.length === 1 && HELP_FLAGS.has(argv[0])) return queryHelp();
  if (argv.length === 2 && (argv[0] === 'fixed' || argv[0] === 'query') && HELP_FLAGS.has(argv[1])) {
    return queryHelp(argv[0]);
  }
  return null;
}
