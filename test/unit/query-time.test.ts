import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import {
  compileJavaPattern,
  javaPatternToLuxon,
  parseTime,
  resolveTimeWindow,
  checkTimeZone,
} from '../../src/query/time.js';
import { QueryError } from '../../src/query/errors.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const ns = (iso: string) => BigInt(DateTime.fromISO(iso, { setZone: true }).toMillis()) * 1_000_000n;
const p = (value: string, dateFormat?: string, timeZone?: string) =>
  parseTime(value, { option: '-st', dateFormat, timeZone, now: NOW });

test('epoch milliseconds by default, as ns bigint', () => {
  assert.equal(p('500'), 500_000_000n);
  assert.equal(p('1458240269373'), 1458240269373_000_000n);
  assert.equal(p(' 0 '), 0n);
});

test('a non-numeric time is an error (Metron silently used -1)', () => {
  for (const [v, col] of [
    ['abc', 1],
    ['12x', 3],
    ['2016-06-13', 5],
    ['-1', 1],
    ['1.5', 2],
  ] as const) {
    assert.throws(
      () => p(v),
      (e: unknown) =>
        e instanceof QueryError && e.option === '-st' && e.position === col && /epoch milliseconds/.test(e.message),
      v,
    );
  }
  assert.throws(() => p('99999999999999999999'), /too far in the future/);
});

test('translation table: Java SimpleDateFormat → Luxon', () => {
  const cases: Array<[string, string]> = [
    ['yyyy-MM-dd-HH:mm.ss', "y'-'M'-'d'-'H':'m'.'s"],
    ['yyyyMMdd', 'yyyyMMdd'],
    ['yyyyMMddHHmmssSSS', 'yyyyMMddHHmmssSSS'],
    ["yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "y'-'M'-'d'T'H':'m':'s'.'SZZ"],
    ['yyyy-MM-dd HH:mm:ss Z', "y'-'M'-'d' 'H':'m':'s' 'ZZZ"],
    ['yyyy-MM-dd HH:mm:ss X', "y'-'M'-'d' 'H':'m':'s' 'Z"],
    ['yyyy-MM-dd HH:mm:ss XX', "y'-'M'-'d' 'H':'m':'s' 'ZZZ"],
    ['yyyy-MM-dd HH:mm:ss z', "y'-'M'-'d' 'H':'m':'s' 'z"],
    ['EEE, d MMM yyyy h:mm a', "EEE', 'd' 'MMM' 'y' 'h':'m' 'a"],
    ['EEEE MMMM d yyyy', "EEEE' 'MMMM' 'd' 'y"],
    ['E yy-M-d', "EEE' 'yy'-'M'-'d"],
    ['yyyy-DDD', "y'-'o"],
    ['yyyyDDD', 'yyyyooo'],
    ["h 'o''clock' a", "h' o''''clock 'a"],
    ["''yyyy''", "''y''"],
    ['G yyyy', "G' 'y"],
  ];
  for (const [java, luxon] of cases) assert.equal(javaPatternToLuxon(java), luxon, java);
});

test('metron-compat §8.8 -df yyyy-MM-dd-HH:mm.ss parses the CLI test dates (UTC by default)', () => {
  assert.equal(p('2016-06-13-18:35.00', 'yyyy-MM-dd-HH:mm.ss'), ns('2016-06-13T18:35:00Z'));
  assert.equal(p('2016-06-15-18:35.00', 'yyyy-MM-dd-HH:mm.ss'), ns('2016-06-15T18:35:00Z'));
  // Java does not insist on the letter count when fields are separated.
  assert.equal(p('2016-6-3-8:5.7', 'yyyy-MM-dd-HH:mm.ss'), ns('2016-06-03T08:05:07Z'));
});

test('metron-compat §8.8 the Zeppelin wrapper format yyyyMMdd, in UTC and in another zone', () => {
  assert.equal(p('20160613', 'yyyyMMdd'), ns('2016-06-13T00:00:00Z'));
  assert.equal(p('20240131', 'yyyyMMdd', 'America/Los_Angeles'), 1706688000000n * 1_000_000n);
  assert.equal(p('2016-06-13-18:35.00', 'yyyy-MM-dd-HH:mm.ss', 'Europe/Paris'), ns('2016-06-13T18:35:00+02:00'));
  assert.equal(p('2016-01-13-18:35.00', 'yyyy-MM-dd-HH:mm.ss', 'Europe/Paris'), ns('2016-01-13T18:35:00+01:00'));
  assert.equal(p('2016-06-13 18:35', 'yyyy-MM-dd HH:mm', 'UTC+5'), ns('2016-06-13T18:35:00+05:00'));
});

test('milliseconds, text fields, AM/PM, day of year', () => {
  assert.equal(
    p('2024-01-31T10:00:00.5', "yyyy-MM-dd'T'HH:mm:ss.S"),
    ns('2024-01-31T10:00:00.005Z'),
    'S counts milliseconds, as in Java',
  );
  assert.equal(p('2024-01-31T10:00:00.123', "yyyy-MM-dd'T'HH:mm:ss.SSS"), ns('2024-01-31T10:00:00.123Z'));
  assert.equal(p('20240131100000123', 'yyyyMMddHHmmssSSS'), ns('2024-01-31T10:00:00.123Z'));
  assert.equal(p('Wed, 31 Jan 2024 10:30 PM', 'EEE, d MMM yyyy h:mm a'), ns('2024-01-31T22:30:00Z'));
  assert.equal(p('Wednesday January 31 2024', 'EEEE MMMM d yyyy'), ns('2024-01-31T00:00:00Z'));
  assert.equal(p('2024-031', 'yyyy-DDD'), ns('2024-01-31T00:00:00Z'));
  assert.equal(p('2024031', 'yyyyDDD'), ns('2024-01-31T00:00:00Z'));
  assert.equal(p("5 o'clock PM 2024-01-31", "h 'o''clock' a yyyy-MM-dd"), ns('2024-01-31T17:00:00Z'));
  assert.equal(p("'2024'", "''yyyy''"), ns('2024-01-01T00:00:00Z'));
});

test('offsets and zones in the value override --tz', () => {
  assert.equal(p('2024-01-31 10:00:00 -0800', 'yyyy-MM-dd HH:mm:ss Z', 'Asia/Tokyo'), ns('2024-01-31T18:00:00Z'));
  assert.equal(p('2024-01-31T10:00:00.000-08:00', "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"), ns('2024-01-31T18:00:00Z'));
  assert.equal(
    p('2024-01-31T10:00:00.000Z', "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", 'Asia/Tokyo'),
    ns('2024-01-31T10:00:00Z'),
    "X accepts 'Z'",
  );
  assert.equal(p('2024-01-31 10:00:00 Z', 'yyyy-MM-dd HH:mm:ss X', 'Asia/Tokyo'), ns('2024-01-31T10:00:00Z'));
  assert.equal(p('2024-01-31 10:00:00 -08', 'yyyy-MM-dd HH:mm:ss X'), ns('2024-01-31T18:00:00Z'));
  assert.equal(p('2024-01-31 10:00:00 +0530', 'yyyy-MM-dd HH:mm:ss XX'), ns('2024-01-31T04:30:00Z'));
  assert.equal(p('2024-01-31 10:00:00 America/New_York', 'yyyy-MM-dd HH:mm:ss z'), ns('2024-01-31T15:00:00Z'));
});

test('absent fields default to 1970-01-01 like SimpleDateFormat (not today)', () => {
  assert.equal(p('18:35', 'HH:mm'), ns('1970-01-01T18:35:00Z'));
  assert.equal(p('2016', 'yyyy'), ns('2016-01-01T00:00:00Z'));
  assert.equal(p('06-13 18:35', 'MM-dd HH:mm'), ns('1970-06-13T18:35:00Z'));
  assert.equal(p('2016-06', 'yyyy-MM'), ns('2016-06-01T00:00:00Z'));
});

test("two-digit years use Java's sliding window (80 years back, 20 ahead of now)", () => {
  assert.equal(p('16-06-13', 'yy-MM-dd'), ns('2016-06-13T00:00:00Z'));
  assert.equal(p('45-06-13', 'yy-MM-dd'), ns('2045-06-13T00:00:00Z'));
  assert.throws(() => p('50-06-13', 'yy-MM-dd'), /before 1970/, 'Java reads 1950 here (Luxon alone would say 2050)');
  const later = new Date('2075-06-01T00:00:00Z'); // window [1995, 2095)
  const at = (v: string) => parseTime(v, { option: '-st', dateFormat: 'yy-MM-dd', now: later });
  assert.equal(at('94-06-13'), ns('2094-06-13T00:00:00Z'), 'Luxon alone would say 1994');
  assert.equal(at('96-06-13'), ns('1996-06-13T00:00:00Z'));
  assert.equal(at('10-06-13'), ns('2010-06-13T00:00:00Z'));
});

test('values that do not match the pattern, or are out of range, are errors', () => {
  assert.throws(() => p('2016-06-13', 'yyyyMMdd'), /does not match the date format 'yyyyMMdd'/);
  assert.throws(() => p('2016-13-01', 'yyyy-MM-dd'), /does not match.*13.*month/);
  assert.throws(() => p('2016-06-13 junk', 'yyyy-MM-dd'), /does not match/);
  assert.throws(() => p('1969-12-31', 'yyyy-MM-dd'), /before 1970/);
});

test('unsupported or malformed patterns name the token and its column', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['YYYY-MM-dd', 1, /'YYYY': week year/],
    ['yyyy-MM-dd kk:mm', 12, /'kk': hour 1-24/],
    ['yyyy-ww', 6, /'ww': week in year/],
    ['yyyy-MM-ddThh', 11, /'T' is not a date pattern letter/],
    ["yyyy-MM-dd'T", 11, /not closed/],
    ['HH:mm:ss.SSSSSS', 10, /at most SSS/],
    ['yyyy-MM-dd q', 12, /'q' is not a date pattern letter/],
    ['', 1, /empty/],
  ];
  for (const [pattern, col, re] of cases) {
    assert.throws(
      () => compileJavaPattern(pattern),
      (e: unknown) => e instanceof QueryError && e.option === '-df' && e.position === col && re.test(e.message),
      pattern,
    );
  }
});

test('time zones are validated', () => {
  assert.equal(checkTimeZone('Europe/Paris'), 'Europe/Paris');
  assert.equal(checkTimeZone('UTC'), 'UTC');
  assert.throws(
    () => checkTimeZone('Mars/Olympus'),
    (e: unknown) => e instanceof QueryError && e.option === '--tz',
  );
});

test('window: -st required, -et defaults to now, end before start is an error', () => {
  assert.deepEqual(resolveTimeWindow({ start: '500', now: NOW }), {
    startNs: 500_000_000n,
    endNs: BigInt(NOW.getTime()) * 1_000_000n,
  });
  assert.deepEqual(resolveTimeWindow({ start: '500', end: '1000', now: NOW }), {
    startNs: 500_000_000n,
    endNs: 1_000_000_000n,
  });
  assert.throws(
    () => resolveTimeWindow({ now: NOW }),
    (e: unknown) => e instanceof QueryError && /start_time/.test(e.option ?? '') && /required/.test(e.message),
  );
  assert.throws(
    () => resolveTimeWindow({ start: '1000', end: '500', now: NOW }),
    (e: unknown) => e instanceof QueryError && e.option === '-et',
  );
  assert.throws(() => resolveTimeWindow({ start: String(NOW.getTime() + 1), now: NOW }), /in the future/);
  const w = resolveTimeWindow({
    start: '2016-06-13-18:35.00',
    end: '2016-06-15-18:35.00',
    dateFormat: 'yyyy-MM-dd-HH:mm.ss',
    now: NOW,
  });
  assert.equal(w.startNs, ns('2016-06-13T18:35:00Z'));
  assert.equal(w.endNs, ns('2016-06-15T18:35:00Z'));
});
