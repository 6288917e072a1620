/**
 * IP address and CIDR matching for filters. Packet addresses arrive as text (PacketFields: dotted
 * quad or RFC 5952) or as raw bytes (index entries); filters are compiled once into matchers that
 * take either without allocating: text is parsed into a scratch buffer, never split into arrays.
 * (node:net BlockList would do the CIDR part, but it re-parses a string per call and cannot take
 * raw bytes.)
 */
import { formatIpv6 } from '../../packet/ip-text.js';

/** Strict dotted quad → unsigned 32-bit value, or -1. Leading zeros are refused ("010" is octal to some tools). */
export function parseIPv4(s: string, from = 0, to = s.length): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

const hexVal = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

/**
 * IPv6 text (with `::` compression and an optional dotted-quad tail) → 8 16-bit words in `out`.
 * Returns false for anything else, including zone ids (`%eth0`), which packets never carry.
 */
export function parseIPv6(s: string, out: Uint16Array): boolean {
  const n = s.length;
  if (n < 2) return false;
  let w = 0; // words written
  let gap = -1; // word index where '::' sits
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      out.fill(0);
      return true;
    }
  }
  while (i < n) {
    if (w === 8) return false;
    // One group: up to 4 hex digits, or a dotted quad at the very end.
    let v = 0;
    let d = 0;
    const groupStart = i;
    while (i < n) {
      const h = hexVal(s.charCodeAt(i));
      if (h < 0) break;
      v = (v << 4) | h;
      d++;
      i++;
      if (d > 4) return false;
    }
    if (i < n && s.charCodeAt(i) === 46) {
      // Embedded IPv4 tail: takes two words and must end the string.
      if (w > 6) return false;
      const v4 = parseIPv4(s, groupStart, n);
      if (v4 < 0) return false;
      out[w++] = Math.floor(v4 / 65536);
      out[w++] = v4 & 0xffff;
      i = n;
      break;
    }
    if (d === 0) return false;
    out[w++] = v;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false; // two '::'
      gap = w;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return false; // trailing single ':'
    }
  }
  if (gap < 0) return w === 8;
  if (w === 8) return false; // '::' must stand for at least one zero word
  // Move the words after the gap to the end and zero the middle.
  const tail = w - gap;
  for (let k = 0; k < tail; k++) out[7 - k] = out[w - 1 - k];
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

/**
 * Canonical text for 8 words, exactly as the packet decoder writes addresses (formats/ip-text), so
 * that an address given on the command line compares equal to the decoded one: RFC 5952 lower case
 * with the longest zero run compressed, and the dotted tails tshark prints for IPv4-mapped and
 * IPv4-compatible addresses.
 */
export function formatIPv6(words: ArrayLike<number>): string {
  const bytes = new Uint8Array(16);
  for (let k = 0; k < 8; k++) {
    bytes[2 * k] = (words[k] >> 8) & 0xff;
    bytes[2 * k + 1] = words[k] & 0xff;
  }
  return formatIpv6(bytes, 0);
}

/** Text for raw address bytes (4 or 16), or null for anything else. */
export function addressBytesToText(b: Uint8Array): string | null {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    const w = new Uint16Array(8);
    for (let k = 0; k < 8; k++) w[k] = (b[2 * k] << 8) | b[2 * k + 1];
    return formatIPv6(w);
  }
  return null;
}

/** What a filter address compiles to. `matches` takes packet text or index bytes; null never matches. */
export interface AddressMatcher {
  readonly version: 4 | 6;
  /** Normalised form: '10.0.0.1', '10.0.0.0/8', '2001:db8::1', '2001:db8::/32'. */
  readonly text: string;
  /** Prefix length; 32 / 128 for an exact address. */
  readonly prefix: number;
  matches(addr: string | Uint8Array | null | undefined): boolean;
}

/** Why `text` is not an address or CIDR block, or null when it is one. Used for error messages. */
export type AddressParse =
  | { ok: true; version: 4 | 6; words: Uint16Array; v4: number; prefix: number; hostBitsSet: boolean }
  | { ok: false; problem: string; column: number };

/** Parse `addr` or `addr/prefix` (IPv4 or IPv6). Columns are 1-based, for error messages. */
export function parseAddressOrCidr(text: string): AddressParse {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint16Array(8);
  let version: 4 | 6;
  let v4 = -1;
  if (addrText.includes(':')) {
    if (addrText.includes('%'))
      return {
        ok: false,
        problem: `'${text}' has a zone id; zone ids are not part of packet addresses`,
        column: addrText.indexOf('%') + 1,
      };
    if (!parseIPv6(addrText, words)) return { ok: false, problem: `'${addrText}' is not an IPv6 address`, column: 1 };
    version = 6;
  } else {
    v4 = parseIPv4(addrText);
    if (v4 < 0) {
      if (/^\d+(\.\d+){3}$/.test(addrText)) {
        // Point at the first bad octet.
        let col = 1;
        for (const octet of addrText.split('.')) {
          if (Number(octet) > 255 || (octet.length > 1 && octet[0] === '0')) break;
          col += octet.length + 1;
        }
        return {
          ok: false,
          problem: `'${addrText}' is not an IPv4 address (octets are 0-255, without leading zeros)`,
          column: col,
        };
      }
      return { ok: false, problem: `'${addrText}' is not an IPv4 address`, column: 1 };
    }
    version = 4;
  }
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      return { ok: false, problem: `'/${p}' is not a prefix length (0-${max})`, column: slash + 2 };
    }
    prefix = Number(p);
  }
  let hostBitsSet = false;
  if (version === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    hostBitsSet = (v4 & ~mask) >>> 0 !== 0;
  } else {
    for (let bit = prefix; bit < 128; bit++) {
      if ((words[bit >> 4] >> (15 - (bit & 15))) & 1) {
        hostBitsSet = true;
        break;
      }
    }
  }
  return { ok: true, version, words, v4, prefix, hostBitsSet };
}

/**
 * Compile an address or CIDR block into a matcher. Host bits below the prefix are ignored
 * (`10.0.0.5/24` means 10.0.0.0/24, as commons-net SubnetUtils and IN_SUBNET read it).
 * An IPv4 filter never matches an IPv6 packet address, IPv4-mapped ones included, and vice versa.
 */
export function compileAddressMatcher(text: string): AddressMatcher | { problem: string; column: number } {
  const parsed = parseAddressOrCidr(text.trim());
  if (!parsed.ok) return { problem: parsed.problem, column: parsed.column + (text.length - text.trimStart().length) };
  return parsed.version === 4 ? v4Matcher(parsed.v4, parsed.prefix) : v6Matcher(parsed.words, parsed.prefix);
}

function v4Matcher(addr: number, prefix: number): AddressMatcher {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (addr & mask) >>> 0;
  const text = `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}${prefix === 32 ? '' : `/${prefix}`}`;
  return {
    version: 4,
    text,
    prefix,
    matches(a) {
      if (a === null || a === undefined) return false;
      let v: number;
      if (typeof a === 'string') {
        v = parseIPv4(a);
        if (v < 0) return false;
      } else {
        if (a.length !== 4) return false;
        v = a[0] * 0x1000000 + ((a[1] << 16) | (a[2] << 8) | a[3]);
      }
      return (v & mask) >>> 0 === net;
    },
  };
}

function v6Matcher(addrWords: Uint16Array, prefix: number): AddressMatcher {
  const net = new Uint16Array(8);
  for (let k = 0; k < 8; k++) {
    const bits = Math.min(16, Math.max(0, prefix - 16 * k));
    const m = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    net[k] = addrWords[k] & m;
  }
  const canonical = formatIPv6(net);
  const text = prefix === 128 ? canonical : `${canonical}/${prefix}`;
  const fullWords = prefix >> 4;
  const restBits = prefix & 15;
  const restMask = restBits === 0 ? 0 : (0xffff << (16 - restBits)) & 0xffff;
  const scratch = new Uint16Array(8); // reused per call: matching never allocates
  return {
    version: 6,
    text,
    prefix,
    matches(a) {
      if (a === null || a === undefined) return false;
      if (typeof a === 'string') {
        // Packets carry RFC 5952 text, so an exact filter usually decides on string equality.
        if (prefix === 128 && a === canonical) return true;
        if (!parseIPv6(a, scratch)) return false;
      } else {
        if (a.length !== 16) return false;
        for (let k = 0; k < 8; k++) scratch[k] = (a[2 * k] << 8) | a[2 * k + 1];
      }
      for (let k = 0; k < fullWords; k++) if (scratch[k] !== net[k]) return false;
      return restBits === 0 || (scratch[fullWords] & restMask) === net[fullWords];
    },
  };
}
