// Reading a result page in the browser: the classic pcap container (either byte order, µs or ns),
// for the packet detail's hex and ASCII view.
export function parsePcap(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) return [];
  const magic = view.getUint32(0, true);
  let le;
  let nanos;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
    le = true;
    nanos = magic === 0xa1b23c4d;
  } else {
    const be = view.getUint32(0, false);
    if (be !== 0xa1b2c3d4 && be !== 0xa1b23c4d) return [];
    le = false;
    nanos = be === 0xa1b23c4d;
  }
  const packets = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const sec = view.getUint32(at, le);
    const frac = view.getUint32(at + 4, le);
    const incl = view.getUint32(at + 8, le);
    if (at + 16 + incl > bytes.length) break;
    packets.push({ sec, frac, nanos, data: bytes.subarray(at + 16, at + 16 + incl) });
    at += 16 + incl;
  }
  return packets;
}

const hex2 = (b) => b.toString(16).padStart(2, '0');

/**
 * Hex dump rows, 16 bytes each: offset, hex bytes and ASCII, as spans so a field's bytes can be
 * highlighted (data-i holds the byte index).
 */
export function hexDump(container, data) {
  container.replaceChildren();
  for (let row = 0; row < data.length; row += 16) {
    const line = document.createElement('div');
    line.className = 'hexrow';
    const off = document.createElement('span');
    off.className = 'off';
    off.textContent = row.toString(16).padStart(4, '0');
    line.append(off);
    const hex = document.createElement('span');
    hex.className = 'bytes';
    const ascii = document.createElement('span');
    ascii.className = 'ascii';
    for (let i = row; i < Math.min(row + 16, data.length); i++) {
      const h = document.createElement('span');
      h.textContent = hex2(data[i]);
      h.dataset.i = String(i);
      hex.append(h);
      const a = document.createElement('span');
      a.textContent = data[i] >= 0x20 && data[i] < 0x7f ? String.fromCharCode(data[i]) : '.';
      a.dataset.i = String(i);
      ascii.append(a);
    }
    line.append(hex, ascii);
    container.append(line);
  }
}

export function highlight(container, from, size) {
  for (const el of container.querySelectorAll('.hl')) el.classList.remove('hl');
  if (!(size > 0)) return;
  for (const el of container.querySelectorAll('[data-i]')) {
    const i = Number(el.dataset.i);
    if (i >= from && i < from + size) el.classList.add('hl');
  }
}
