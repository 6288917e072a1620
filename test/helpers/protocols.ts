/**
 * Helpers for the protocol-analysis tests: run the analyzer over a fixture or over frames built
 * in memory, flatten events to dotted keys (as Packetbeat's golden tests do), and the fixture list.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { Analyzer, type AnalyzerOptions } from '../../src/protocols/analyzer.js';
import { analyzePcap } from '../../src/protocols/input/pcap-input.js';
import type { AnalyzerStats } from '../../src/protocols/stats.js';
import type { AppEvent } from '../../src/protocols/types.js';
import { LINKTYPE_ETHERNET } from '../../src/packet/decode.js';
import { EVENT_FIELDS } from '../../src/protocols/events/fields.js';

export const PROTOCOL_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'protocols');

/** The captured pcaps, by name: dns, http, tls, smtp, sip, icmp. */
export function protocolFixtures(): string[] {
  return readdirSync(PROTOCOL_FIXTURES)
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export async function analyzeFixture(
  name: string,
  options?: AnalyzerOptions,
): Promise<{ events: AppEvent[]; stats: AnalyzerStats }> {
  const events: AppEvent[] = [];
  const data = await readFile(join(PROTOCOL_FIXTURES, `${name}.pcap`));
  const r = await analyzePcap(data, (e) => events.push(e), options);
  return { events, stats: r.stats };
}

/** Runs frames (Ethernet) through a fresh analyzer, one per `stepNs`, and finishes. */
export function analyzeFrames(
  frames: Uint8Array[],
  options?: AnalyzerOptions,
  startNs = 1_700_000_000_000_000_000n,
  stepNs = 1_000_000n,
): { events: AppEvent[]; stats: AnalyzerStats; analyzer: Analyzer } {
  const events: AppEvent[] = [];
  const analyzer = new Analyzer((e) => events.push(e), options);
  frames.forEach((f, i) => {
    analyzer.packet(f, 0, f.length, LINKTYPE_ETHERNET, startNs + BigInt(i) * stepNs, {
      index: i,
      position: -1,
      partition: -1,
    });
  });
  analyzer.finish();
  return { events, stats: analyzer.stats, analyzer };
}

/** Dotted keys → values; arrays of objects flatten under the array's key, arrays of scalars stay arrays. */
export function flatten(o: unknown, prefix = '', out: Map<string, unknown[]> = new Map()): Map<string, unknown[]> {
  if (Array.isArray(o)) {
    if (o.some((v) => v !== null && typeof v === 'object')) for (const v of o) flatten(v, prefix, out);
    else push(out, prefix, o);
  } else if (o !== null && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else push(out, prefix, o);
  return out;
}

function push(out: Map<string, unknown[]>, key: string, v: unknown): void {
  const list = out.get(key) ?? [];
  list.push(v);
  out.set(key, list);
}

/** Fails on any event field not declared in src/protocols/events/fields.ts, or of another type. */
const RFC3339_NS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;

export function assertDeclared(events: AppEvent[]): void {
  for (const e of events) {
    for (const [key, values] of flatten(e)) {
      const spec = EVENT_FIELDS[key];
      assert.ok(spec, `field ${key} is not declared in src/protocols/events/fields.ts`);
      for (const v of values) {
        const list = Array.isArray(v) ? v : [v];
        if (Array.isArray(v)) assert.ok(spec.array, `${key} is an array but not declared as one`);
        for (const x of list) {
          switch (spec.type) {
            case 'long':
              assert.ok(Number.isInteger(x), `${key}: ${x} is not an integer`);
              break;
            case 'boolean':
              assert.equal(typeof x, 'boolean', `${key}: ${x}`);
              break;
            case 'date':
              assert.ok(typeof x === 'string' && (RFC3339_NS.test(x) || !Number.isNaN(Date.parse(x))), `${key}: ${x}`);
              break;
            default:
              assert.equal(typeof x, 'string', `${key}: ${x}`);
          }
        }
      }
    }
  }
}
