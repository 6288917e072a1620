/**
 * `-st` / `-et` / `-df` / `--tz`: query window times, as Metron's CLI took them (metron-compat §6.3) minus
 * its defects: a value that is not a number is an error (Metron silently used -1), the default end
 * is now (Metron: -1, i.e. unbounded), and the zone is explicit (`--tz`, default UTC; Metron used
 * the JVM's default zone). Results are nanoseconds since the epoch, as bigint.
 *
 * `-df` takes a Java SimpleDateFormat pattern. Luxon has no such mode, so patterns are translated
 * token by token (javaPatternToLuxon); tokens with no faithful Luxon equivalent are refused with
 * their position rather than guessed.
 */
import { DateTime } from 'luxon';
import { QueryError, caretExcerpt } from './errors.js';

const U64_MAX = (1n << 64n) - 1n;

/** A translated Java pattern plus what the parser must add to behave like SimpleDateFormat. */
export interface JavaPattern {
  java: string;
  luxon: string;
  /** SimpleDateFormat defaults absent fields to 1970-01-01 (Luxon would use today): which to inject. */
  hasYear: boolean;
  hasMonth: boolean;
  hasDay: boolean;
  /** `yy`: Java's sliding century (80 years back, 20 ahead), not Luxon's fixed cutoff. */
  twoDigitYear: boolean;
  /** `X` tokens: Java accepts a literal `Z` for UTC there, Luxon does not. */
  isoZone: boolean;
}

interface Tok {
  kind: 'field' | 'literal';
  text: string; // field letters, or literal text (already unquoted)
  at: number; // 0-based position in the Java pattern
}

const PATTERN_LETTERS = 'GyYMLwWDdFEuaHkKhmsSzZX';
const NUMERIC = new Set(['y', 'd', 'H', 'h', 'm', 's', 'S', 'D']);
const isNumeric = (t: Tok | undefined): boolean =>
  t !== undefined && t.kind === 'field' && (NUMERIC.has(t.text[0]) || (t.text[0] === 'M' && t.text.length <= 2));

function dfError(pattern: string, message: string, at: number): QueryError {
  return new QueryError(message, { option: '-df', position: at + 1, excerpt: caretExcerpt(pattern, at + 1) });
}

function tokenize(pattern: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const lit = (text: string, at: number) => {
    const last = toks[toks.length - 1];
    if (last && last.kind === 'literal') last.text += text;
    else toks.push({ kind: 'literal', text, at });
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "'") {
      if (pattern[i + 1] === "'") {
        lit("'", i);
        i += 2;
        continue;
      }
      // Quoted text up to the next lone quote; '' inside stands for one quote.
      const open = i++;
      let text = '';
      for (;;) {
        if (i >= pattern.length) throw dfError(pattern, "the quoted text that starts here is not closed with '", open);
        if (pattern[i] === "'") {
          if (pattern[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += pattern[i++];
      }
      lit(text, open);
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (j < pattern.length && pattern[j] === c) j++;
      if (!PATTERN_LETTERS.includes(c)) {
        throw dfError(pattern, `'${c}' is not a date pattern letter (quote literal text, e.g. 'T')`, i);
      }
      toks.push({ kind: 'field', text: pattern.slice(i, j), at: i });
      i = j;
      continue;
    }
    lit(c, i);
    i++;
  }
  return toks;
}

/** Luxon format text for a literal: quoted, with each quote as a standalone '' (Luxon's rule). */
function luxonLiteral(text: string): string {
  return text
    .split("'")
    .map((part) => (part === '' ? '' : `'${part}'`))
    .join("''");
}

const UNSUPPORTED: Record<string, string> = {
  Y: 'week year (Y) is not supported; use y',
  L: 'stand-alone month (L) is not supported; use M',
  w: 'week in year (w) is not supported',
  W: 'week in month (W) is not supported',
  F: 'day of week in month (F) is not supported',
  u: 'day number of week (u) is not supported; use E',
  k: 'hour 1-24 (k) is not supported; use H (0-23)',
  K: 'hour 0-11 (K) is not supported; use h with a',
};

/** Translate a SimpleDateFormat pattern; throws QueryError (option -df) naming the bad token. */
export function compileJavaPattern(pattern: string): JavaPattern {
  if (pattern.trim() === '') throw dfError(pattern, 'the date format is empty', 0);
  const toks = tokenize(pattern);
  let out = '';
  const seen = new Set<string>();
  let twoDigitYear = false;
  let isoZone = false;
  toks.forEach((t, k) => {
    if (t.kind === 'literal') {
      out += luxonLiteral(t.text);
      return;
    }
    const letter = t.text[0];
    const n = t.text.length;
    // Java reads a numeric field with any number of digits unless it touches another numeric
    // field; only then does the letter count fix its width. Luxon's single letters are flexible.
    const abutting = isNumeric(t) && (isNumeric(toks[k - 1]) || isNumeric(toks[k + 1]));
    const flex = (one: string, two: string) => (abutting && n === 2 ? two : one);
    seen.add(letter);
    switch (letter) {
      case 'y':
        if (n === 2) {
          twoDigitYear = true;
          out += 'yy';
        } else {
          out += abutting && n === 4 ? 'yyyy' : 'y';
        }
        return;
      case 'M':
        out += n >= 4 ? 'MMMM' : n === 3 ? 'MMM' : flex('M', 'MM');
        return;
      case 'd':
        out += flex('d', 'dd');
        return;
      case 'H':
        out += flex('H', 'HH');
        return;
      case 'h':
        out += flex('h', 'hh');
        return;
      case 'm':
        out += flex('m', 'mm');
        return;
      case 's':
        out += flex('s', 'ss');
        return;
      case 'S':
        // SimpleDateFormat's S is a millisecond *count*, not a fraction ("5" = 5 ms); Luxon's S is
        // the same. More than 3 letters would read "123456" as 123456 ms: refuse that trap.
        if (n > 3) throw dfError(pattern, `'${t.text}': S is milliseconds (0-999) in Java patterns, at most SSS`, t.at);
        out += abutting && n === 3 ? 'SSS' : 'S';
        return;
      case 'D':
        out += abutting && n === 3 ? 'ooo' : 'o';
        return;
      case 'E':
        out += n >= 4 ? 'EEEE' : 'EEE';
        return;
      case 'a':
        out += 'a';
        return;
      case 'G':
        out += 'G';
        return;
      case 'Z':
        out += 'ZZZ'; // RFC 822 -0800
        return;
      case 'X':
        if (n > 3) throw dfError(pattern, `'${t.text}': X takes 1 to 3 letters`, t.at);
        isoZone = true;
        out += n === 1 ? 'Z' : n === 2 ? 'ZZZ' : 'ZZ'; // -08, -0800, -08:00
        return;
      case 'z':
        out += 'z'; // IANA names (America/New_York); abbreviations like PST are ambiguous
        return;
      default:
        throw dfError(pattern, `'${t.text}': ${UNSUPPORTED[letter] ?? 'not supported'}`, t.at);
    }
  });
  return {
    java: pattern,
    luxon: out,
    hasYear: seen.has('y'),
    hasMonth: seen.has('M') || seen.has('D'),
    hasDay: seen.has('d') || seen.has('D'),
    twoDigitYear,
    isoZone,
  };
}

/** The Luxon format string for a Java SimpleDateFormat pattern (throws QueryError on -df). */
export function javaPatternToLuxon(pattern: string): string {
  return compileJavaPattern(pattern).luxon;
}

/** Validate a zone name (IANA, 'UTC', 'UTC+2', 'local'); returns it. Throws QueryError on --tz. */
export function checkTimeZone(zone: string): string {
  const z = zone.trim();
  if (z === '' || !DateTime.now().setZone(z).isValid) {
    throw new QueryError(`unknown time zone '${zone}'; give an IANA name like Europe/Paris, or UTC`, {
      option: '--tz',
      position: 1,
    });
  }
  return z;
}

export interface TimeParseOptions {
  /** The option the value came from, for errors: '-st' or '-et'. */
  option: string;
  /** A Java SimpleDateFormat pattern (`-df`); epoch milliseconds when absent. */
  dateFormat?: string | JavaPattern;
  /** Zone for patterns without an offset; default UTC. */
  timeZone?: string;
  /** Reference time for two-digit years. */
  now: Date;
}

const msToNs = (ms: bigint, value: string, option: string): bigint => {
  const ns = ms * 1_000_000n;
  if (ns > U64_MAX) throw new QueryError(`'${value}' is too far in the future`, { option, position: 1 });
  return ns;
};

/** One `-st`/`-et` value → ns since the epoch. */
export function parseTime(value: string, opts: TimeParseOptions): bigint {
  const { option } = opts;
  const v = value.trim();
  if (v === '') throw new QueryError('needs a time value', { option });
  if (opts.dateFormat === undefined) {
    if (!/^\d+$/.test(v)) {
      const hint = /^-\d+$/.test(v)
        ? 'a time before 1970 is not allowed'
        : 'use -df <pattern> for dates, e.g. -df yyyy-MM-dd';
      throw new QueryError(`'${value}' is not a time in epoch milliseconds (${hint})`, {
        option,
        position: Math.max(1, v.search(/\D/) + 1),
      });
    }
    return msToNs(BigInt(v), value, option);
  }
  const jp = typeof opts.dateFormat === 'string' ? compileJavaPattern(opts.dateFormat) : opts.dateFormat;
  const zone = opts.timeZone ?? 'utc';
  let fmt = jp.luxon;
  let input = v;
  // SimpleDateFormat leaves absent fields at 1970-01-01; Luxon would take today's date.
  let prefixFmt = '';
  let prefixIn = '';
  if (!jp.hasYear) {
    prefixFmt += "yyyy'|'";
    prefixIn += '1970|';
  }
  if (!jp.hasMonth) {
    prefixFmt += "MM'|'";
    prefixIn += '01|';
  }
  if (!jp.hasDay) {
    prefixFmt += "dd'|'";
    prefixIn += '01|';
  }
  fmt = prefixFmt + fmt;
  input = prefixIn + input;
  if (jp.isoZone) input = input.replace(/(?<=[\d\s])Z(?![A-Za-z])/g, '+00');
  let dt = DateTime.fromFormat(input, fmt, { zone, locale: 'en-US' });
  if (!dt.isValid) {
    const why =
      dt.invalidReason === 'unit out of range' && dt.invalidExplanation
        ? `: ${dt.invalidExplanation.replace(/^you specified /, '')}`
        : '';
    throw new QueryError(`'${value}' does not match the date format '${jp.java}'${why}`, { option, position: 1 });
  }
  if (jp.twoDigitYear) {
    // Java: a two-digit year lands within [now - 80 years, now + 20 years).
    const start = DateTime.fromJSDate(opts.now, { zone }).minus({ years: 80 });
    const base = start.year - (start.year % 100);
    let cand = dt.set({ year: base + (dt.year % 100) });
    if (cand < start) cand = cand.plus({ years: 100 });
    dt = cand;
  }
  const ms = dt.toMillis();
  if (ms < 0) throw new QueryError(`'${value}' is before 1970`, { option, position: 1 });
  return msToNs(BigInt(ms), value, option);
}

export interface TimeWindowInput {
  start?: string;
  end?: string;
  dateFormat?: string;
  timeZone?: string;
  now: Date;
}

/** `-st` (required) and `-et` (default now) → an inclusive [startNs, endNs] window. */
export function resolveTimeWindow(input: TimeWindowInput): { startNs: bigint; endNs: bigint } {
  const timeZone = input.timeZone === undefined ? 'utc' : checkTimeZone(input.timeZone);
  const dateFormat = input.dateFormat === undefined ? undefined : compileJavaPattern(input.dateFormat);
  if (input.start === undefined || input.start.trim() === '') {
    throw new QueryError('the start time is required (epoch milliseconds, or a date with -df)', {
      option: '-st/--start_time',
    });
  }
  const startNs = parseTime(input.start, { option: '-st', dateFormat, timeZone, now: input.now });
  const endNs =
    input.end === undefined
      ? BigInt(input.now.getTime()) * 1_000_000n
      : parseTime(input.end, { option: '-et', dateFormat, timeZone, now: input.now });
  if (endNs < startNs) {
    throw new QueryError(
      input.end === undefined
        ? 'the start time is in the future (the end time defaults to now)'
        : 'the end time is before the start time',
      { option: input.end === undefined ? '-st' : '-et' },
    );
  }
  return { startNs, endNs };
}
