/**
 * Metron's inspector line (metron-compat §5.2):
 *   TS: March 17, 2016 6:44:29 PM UTC,ip_src_addr: 192.168.66.121,ip_src_port: 22,ip_dst_addr: ...,protocol: 6
 * Fields joined by ',' without spaces, in Constants.Fields order, only those present.
 */
import type { PacketFields } from './packet-fields.js';

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/**
 * Java 8's DateFormat.getDateTimeInstance(LONG, LONG) for en_US in UTC: `MMMM d, yyyy h:mm:ss a z`,
 * precision seconds. Built by hand rather than with Intl/luxon: ICU versions differ in the space
 * before AM/PM (newer ones use U+202F) and in "at" between date and time, and this text is a
 * compatibility contract.
 */
export function formatMetronDate(tsNs: bigint): string {
  const ms = Number(BigInt.asUintN(64, tsNs) / 1_000_000n);
  const d = new Date(ms);
  const h24 = d.getUTCHours();
  const h12 = h24 % 12 === 0 ? 12 : h24 % 12;
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  const ss = String(d.getUTCSeconds()).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()} ${h12}:${mm}:${ss} ${h24 < 12 ? 'AM' : 'PM'} UTC`;
}

/** The line for one decoded packet (time from fields.tsNs). */
export function formatInspectorLine(f: PacketFields): string {
  let s = `TS: ${formatMetronDate(f.tsNs)}`;
  if (f.srcAddr !== null) s += `,ip_src_addr: ${f.srcAddr}`;
  if (f.srcPort >= 0) s += `,ip_src_port: ${f.srcPort}`;
  if (f.dstAddr !== null) s += `,ip_dst_addr: ${f.dstAddr}`;
  if (f.dstPort >= 0) s += `,ip_dst_port: ${f.dstPort}`;
  if (f.protocol >= 0) s += `,protocol: ${f.protocol}`;
  return s;
}

/** Metron's line for a record that could not be decoded (1-based record number). */
export function formatMalformedLine(recordNumber: number, tsNs: bigint | null, message: string): string {
  return `Error: malformed packet #=${recordNumber}, ts=${tsNs === null ? 'unknown' : formatMetronDate(tsNs)}, error msg=${message}`;
}

/** Every decoded field as a JSON-safe object (bigint time as a decimal string), for --json output. */
export function packetFieldsToJson(f: PacketFields): Record<string, string | number | boolean | null> {
  const o: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(f))
    o[k] = typeof v === 'bigint' ? v.toString() : (v as string | number | boolean | null);
  return o;
}
