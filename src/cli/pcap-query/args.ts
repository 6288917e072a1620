/**
 * `pcap-query fixed|query [options]`: Metron's pcap_query.sh options (metron-compat §6.2), short and long,
 * long ones also with one dash (`-start_time 500`, as Metron's tests write them), turned into a
 * validated QueryRequest. Pure: no I/O, no printing, no process exit; bad input throws QueryError
 * naming the option and, where it applies, the column inside its value.
 */
import { randomUUID } from 'node:crypto';
import yargs from 'yargs/yargs';
import { QueryError } from '../../query/errors.js';
import { compileQuery } from '../../query/filter/expr/compile.js';
import type { PacketFilter } from '../../query/filter/filter.js';
import { compileFixedFilter, type FixedFilterSpec } from '../../query/filter/fixed-filter.js';
import { resolveTimeWindow } from '../../query/time.js';
import { checkPrefix } from '../../query/engine/output.js';
import { isStorageError } from '../../storage/errors.js';
import { defaultStore, describeLocation, parseStorageUri } from '../../storage/uri.js';
import {
  DEFAULT_BASE_OUTPUT_PATH,
  DEFAULT_BASE_PATH,
  DEFAULT_CONCURRENCY,
  DEFAULT_RECORDS_PER_FILE,
  label,
  OPTION_BY_NAME,
  OPTIONS,
  type OptDef,
  QUERY_EQUIVALENT,
  type QueryMode,
  queryHelp,
} from './options.js';

export type { QueryMode } from './options.js';
export {
  DEFAULT_BASE_OUTPUT_PATH,
  DEFAULT_BASE_PATH,
  DEFAULT_CONCURRENCY,
  DEFAULT_RECORDS_PER_FILE,
  queryHelp,
} from './options.js';

export type QueryOutput = { kind: 'dir'; dir: string } | { kind: 'stdout' };

export interface QueryRequest {
  mode: QueryMode;
  /**
   * The store to open (`webhdfs://host:port[?user=..]` or `file:///`): the one `-bp` names, or for a
   * plain path $PCAPLINE_STORE, else the local filesystem (storage/uri.ts defaultStore).
   */
  store: string;
  /** Root of the data files inside the store, listed recursively. */
  basePath: string;
  /** Where the data is, as summaries print it: `local:/path` or `webhdfs://host:port/path`. */
  location: string;
  /** Metron's interim MapReduce directory: accepted and kept, but nothing is written there. */
  baseOutputPath: string;
  /** Inclusive window, ns since the epoch. */
  startNs: bigint;
  endNs: bigint;
  /** The `-df` pattern, when dates were given as text. */
  dateFormat: string | undefined;
  timeZone: string;
  filter: PacketFilter;
  /** Fixed mode: the fields as given. */
  fixed: FixedFilterSpec | undefined;
  /** Query mode: the expression as given ('' when none: everything matches). */
  query: string | undefined;
  recordsPerFile: number;
  /** Page names are `pcap-data-<prefix>+NNNN.pcap`. */
  prefix: string;
  output: QueryOutput;
  maxPackets: number | undefined;
  maxBytes: number | undefined;
  /** Files read in parallel. */
  concurrency: number;
  /** False with `--no-index`: scan every selected file, ignore indexes. */
  useIndex: boolean;
  /** False with `--no-catalog`: plan by listing the base path even when it has a catalog. */
  useCatalog: boolean;
  /** `--memory`: bytes shared by every open file's packet window (undefined: the engine's default). */
  memoryBytes: number | undefined;
  /** `--clean`: delete existing pages with this prefix before writing (they are refused otherwise). */
  clean: boolean;
  quiet: boolean;
  /** One-line notices for stderr: ignored Metron options, expression warnings. */
  notices: string[];
}

function positiveInt(value: string, option: string, what: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    const bad = v.search(/\D/);
    throw new QueryError(`'${value}' is not ${what} (a whole number of at least 1)`, {
      option,
      position: bad >= 0 ? bad + 1 : 1,
    });
  }
  return Number(v);
}

function byteCount(value: string, option: string): number {
  const m = /^(\d+)\s*([kmgt]i?b?|b)?$/i.exec(value.trim());
  if (m === null) {
    throw new QueryError(`'${value}' is not a byte count (e.g. 1000000, 500k, 20m, 2g)`, {
      option,
      position: Math.max(1, value.trim().search(/[^\d]/) + 1),
    });
  }
  const mult: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  const n = Number(m[1]) * mult[(m[2] ?? '').charAt(0).toLowerCase()];
  if (n < 1 || !Number.isSafeInteger(n))
    throw new QueryError(`'${value}' is not a usable byte count`, { option, position: 1 });
  return n;
}

/**
 * `-bp`: a store URI with a path, or a plain path on the default store (one rule for every tool:
 * storage/uri.ts parseStorageUri). A bad URI is a `-bp` error, found before anything is read.
 */
function splitBasePath(value: string, store: string): { store: string; basePath: string; location: string } {
  const v = value.trim();
  if (v === '') throw new QueryError('needs a path', { option: '-bp' });
  try {
    const loc = parseStorageUri(v, process.cwd(), store);
    return { store: loc.root, basePath: loc.path, location: describeLocation(loc) };
  } catch (err) {
    if (isStorageError(err, 'IllegalArgumentException')) throw new QueryError(err.message, { option: '-bp' });
    throw err;
  }
}

/** Default page prefix: yyyyMMddHHmm in UTC, '-', 32 hex digits (Metron's, metron-compat §6.2). */
export function defaultPrefix(now: Date, randomHex: () => string = () => randomUUID().replace(/-/g, '')): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}${p(now.getUTCHours())}${p(now.getUTCMinutes())}`;
  return `${stamp}-${randomHex()}`;
}

/**
 * Normalise Metron-style argv for yargs: `-o -` (a lone '-' is a value here, stdout) and
 * `-no-index` (single-dash negation). Everything else yargs already reads with
 * short-option-groups off, including `-start_time 500`.
 */
function preprocess(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((a === '-o' || a === '--output' || a === '-output') && args[i + 1] === '-') {
      out.push('--output=-');
      i++;
    } else if (/^-no-[a-z]/.test(a)) {
      out.push(`-${a}`);
    } else {
      out.push(a);
    }
  }
  return out;
}

/**
 * An option that takes a value but is the last argument or is followed by another option (`-sa
 * -da 10.0.0.1`, `... -dp`): yargs would read it as '' and, for the fixed fields (where blank means
 * "not constrained", as in Metron), silently widen the filter to everything. Metron's parser
 * refused it ("Missing argument for option"); so do we. `-sa ''` (an explicit blank) is still allowed.
 */
function checkMissingValues(args: readonly string[]): void {
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([A-Za-z][\w-]*)$/.exec(args[i]);
    const def = m === null ? undefined : OPTION_BY_NAME.get(m[1]);
    if (def === undefined || def.flag || def.arg === undefined) continue;
    const next = args[i + 1];
    if (next === undefined) throw new QueryError(`needs a value (${def.arg})`, { option: label(def) });
    if (/^--?[A-Za-z]/.test(next)) {
      throw new QueryError(
        `needs a value (${def.arg}) but is followed by ${next}; a value that starts with '-' is written --${def.long}=<value>`,
        { option: label(def) },
      );
    }
    i++;
  }
}

export interface ParseOptions {
  /** Random part of the default prefix (tests pin it). */
  randomHex?: () => string;
  /** Environment for PCAPLINE_STORE (the store of plain -bp paths); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Parse `pcap-query` arguments (argv without node and the script: `['fixed', '-st', '500', ...]`).
 * Returns the help text when asked for it; throws QueryError for anything wrong.
 */
export function parseQueryArgs(
  argv: readonly string[],
  now: Date,
  opts: ParseOptions = {},
): QueryRequest | { help: string } {
  const [modeArg, ...rest] = argv;
  if (modeArg === '-h' || modeArg === '--help' || modeArg === '-help') return { help: queryHelp() };
  if (modeArg !== 'fixed' && modeArg !== 'query') {
    throw new QueryError(
      modeArg === undefined
        ? 'give a mode: pcap-query fixed|query -st <time> [options] (see --help)'
        : `unknown mode '${modeArg}'; use pcap-query fixed|query (see --help)`,
    );
  }
  const mode: QueryMode = modeArg;
  checkMissingValues(rest);

  let parser = yargs(preprocess(rest))
    .parserConfiguration({
      'short-option-groups': false,
      'camel-case-expansion': false,
      'dot-notation': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'boolean-negation': true,
      'duplicate-arguments-array': false,
      'strip-aliased': false,
    })
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new QueryError(msg);
    });
  for (const o of OPTIONS) {
    parser = parser.option(o.long, {
      alias: o.short,
      type: o.flag ? 'boolean' : 'string',
      // No defaults here: "given or not" matters (obsolete notices, -et default now).
    });
  }
  const parsed = parser.parseSync() as Record<string, unknown> & { _: unknown[] };

  if (parsed.help === true) return { help: queryHelp(mode) };

  // Unknown options (yargs would accept them silently) and options of the other mode.
  const known = new Map<string, OptDef>();
  for (const o of OPTIONS) {
    known.set(o.long, o);
    if (o.short !== undefined) known.set(o.short, o);
  }
  const original = (key: string): string =>
    rest.find((a) => new RegExp(`^--?(no-)?${key.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}(=|$)`).test(a)) ?? `-${key}`;
  for (const key of Object.keys(parsed)) {
    if (key === '_' || key === '$0') continue;
    const def = known.get(key);
    if (def === undefined) {
      throw new QueryError(`unrecognized option ${original(key)} for ${mode} mode (see pcap-query ${mode} --help)`, {
        option: original(key),
      });
    }
    if (!def.modes.includes(mode)) {
      const hint =
        mode === 'query'
          ? `${label(def)} is a fixed filter option; in query mode write it in the expression, e.g. -q "${QUERY_EQUIVALENT[def.long] ?? `${def.long} == …`}"`
          : `${label(def)} belongs to query mode (pcap-query query -q …)`;
      throw new QueryError(`unrecognized option ${original(key)} for ${mode} mode: ${hint}`, { option: original(key) });
    }
  }
  if (parsed._.length > 0) {
    throw new QueryError(`unexpected argument '${String(parsed._[0])}' (values that start with '-' need --opt=value)`);
  }

  const str = (long: string): string | undefined => {
    const v = parsed[long];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return String(v);
    return v;
  };
  const valued = (long: string): string | undefined => {
    const v = str(long);
    if (v !== undefined && v.trim() === '') {
      const def = known.get(long)!;
      throw new QueryError(`needs a value (${def.arg ?? 'value'})`, { option: label(def) });
    }
    return v;
  };

  const notices: string[] = [];
  for (const o of OPTIONS) {
    if (o.obsolete && parsed[o.long] !== undefined) {
      notices.push(`${label(o)} no longer applies (there is no MapReduce job); ignored`);
    }
  }
  const bop = valued('base_output_path');
  if (bop !== undefined)
    notices.push(
      '-bop/--base_output_path no longer applies (no interim output); pages go to -o (default: the current directory)',
    );

  const { startNs, endNs } = resolveTimeWindow({
    start: valued('start_time'),
    end: valued('end_time'),
    dateFormat: valued('date_format'),
    timeZone: valued('tz'),
    now,
  });

  const { store, basePath, location } = splitBasePath(
    valued('base_path') ?? DEFAULT_BASE_PATH,
    defaultStore(opts.env ?? process.env),
  );

  let filter: PacketFilter;
  let fixed: FixedFilterSpec | undefined;
  let query: string | undefined;
  if (mode === 'fixed') {
    fixed = {
      srcAddr: str('ip_src_addr'),
      dstAddr: str('ip_dst_addr'),
      srcPort: str('ip_src_port'),
      dstPort: str('ip_dst_port'),
      protocol: str('protocol'),
      includeReverse: parsed.include_reverse === true,
      packetFilter: str('packet_filter'),
    };
    filter = compileFixedFilter(fixed);
  } else {
    query = str('query') ?? '';
    const compiled = compileQuery(query, '-q');
    for (const w of compiled.warnings) notices.push(`warning: -q: ${w}`);
    filter = compiled;
  }

  const rpf = valued('records_per_file');
  const recordsPerFile =
    rpf === undefined ? DEFAULT_RECORDS_PER_FILE : positiveInt(rpf, '-rpf', 'a number of records per file');

  const pre = valued('prefix');
  if (pre !== undefined && /[/\\\0]/.test(pre)) {
    throw new QueryError(`'${pre}' cannot be part of a file name`, {
      option: '-pre',
      position: pre.search(/[/\\\0]/) + 1,
    });
  }
  const prefix = pre ?? defaultPrefix(now, opts.randomHex);
  checkPrefix(prefix);

  const out = valued('output');
  const output: QueryOutput =
    out === undefined ? { kind: 'dir', dir: '.' } : out === '-' ? { kind: 'stdout' } : { kind: 'dir', dir: out };

  const mem = valued('memory');
  const memoryBytes = mem === undefined ? undefined : byteCount(mem, '--memory');
  if (memoryBytes !== undefined && memoryBytes < 1 << 20)
    throw new QueryError(`--memory ${mem} is below 1m; give at least 1m`, { option: '--memory', position: 1 });

  const mp = valued('max-packets');
  const mb = valued('max-bytes');
  const cc = valued('concurrency');
  const concurrency = cc === undefined ? DEFAULT_CONCURRENCY : positiveInt(cc, '--concurrency', 'a number of files');
  if (concurrency > 256)
    throw new QueryError(`${concurrency} is too many files at once (at most 256)`, {
      option: '--concurrency',
      position: 1,
    });

  return {
    mode,
    store,
    basePath,
    location,
    baseOutputPath: bop ?? DEFAULT_BASE_OUTPUT_PATH,
    startNs,
    endNs,
    dateFormat: str('date_format'),
    timeZone: str('tz') ?? 'UTC',
    filter,
    fixed,
    query,
    recordsPerFile,
    prefix,
    output,
    maxPackets: mp === undefined ? undefined : positiveInt(mp, '--max-packets', 'a number of packets'),
    maxBytes: mb === undefined ? undefined : byteCount(mb, '--max-bytes'),
    concurrency,
    useIndex: parsed.index !== false,
    useCatalog: parsed.catalog !== false,
    memoryBytes,
    clean: parsed.clean === true,
    quiet: parsed.quiet === true,
    notices,
  };
}
