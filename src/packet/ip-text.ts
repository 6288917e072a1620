/**
 * IP address bytes → text, with small direct-mapped caches so the query hot path does not build a
 * new string for every packet of a flow it has already seen. A cache slot holds the raw address
 * and its string; a hit compares the bytes and returns the cached string (no allocation), a miss
 * formats and overwrites the slot. Traffic is dominated by few hosts, so hit rates are high.
 */

const V4_SLOTS = 4096; // power of two
const v4Keys = new Float64Array(V4_SLOTS).fill(-1); // -1 = empty (an address is 0..2^32-1)
const v4Text: string[] = new Array<string>(V4_SLOTS).fill('');

/** Dotted quad of the 4 bytes at `off` (caller checked the bounds). */
export function ipv4Text(buf: Uint8Array, off: number): string {
  const v = ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
  const slot = Math.imul(v, 0x9e3779b1) >>> 20; // top 12 bits of a multiplicative hash
  if (v4Keys[slot] === v) return v4Text[slot];
  const s = `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  v4Keys[slot] = v;
  v4Text[slot] = s;
  return s;
}

const V6_SLOTS = 1024; // power of two
const v6Keys = new Uint8Array(V6_SLOTS * 16);
const v6Used = new Uint8Array(V6_SLOTS);
const v6Text: string[] = new Array<string>(V6_SLOTS).fill('');

/** RFC 5952 text of the 16 bytes at `off` (caller checked the bounds). */
export function ipv6Text(buf: Uint8Array, off: number): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ buf[off + i], 0x01000193);
  const slot = (h >>> 0) & (V6_SLOTS - 1);
  const base = slot * 16;
  if (v6Used[slot] === 1) {
    let same = true;
    for (let i = 0; i < 16; i++) {
      if (v6Keys[base + i] !== buf[off + i]) {
        same = false;
        break;
      }
    }
    if (same) return v6Text[slot];
  }
  const s = formatIpv6(buf, off);
  for (let i = 0; i < 16; i++) v6Keys[base + i] = buf[off + i];
  v6Used[slot] = 1;
  v6Text[slot] = s;
  return s;
}

/**
 * RFC 5952: lowercase hex, no leading zeros, the longest run (≥ 2) of zero groups replaced by
 * "::" (the first one on a tie), and IPv4-mapped addresses (::ffff:0:0/96) in mixed notation
 * (RFC 5952 §5). Like tshark (and glibc's inet_ntop), the deprecated IPv4-compatible form ::a.b.c.d is
 * also printed mixed when the upper half of the IPv4 part is non-zero (::1 and ::ffff stay hex),
 * so our text equals what analysts see in Wireshark.
 */
export function formatIpv6(buf: Uint8Array, off: number): string {
  const g = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) g[i] = (buf[off + 2 * i] << 8) | buf[off + 2 * i + 1];
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0 && g[6] !== 0) {
    return `::${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1; // a single zero group is not compressed (RFC 5952 §4.2.2)
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += g[i].toString(16);
  }
  return s;
}

/** Parses dotted-quad text into 4 bytes, or null. Used by tests and by filters that compare raw bytes. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}
