// Rendering helpers: elements built with textContent only (nothing from the server is parsed as
// HTML), the packet summary a row shows, and the layer tree of the packet detail.
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

/** Every field of a proto (nested ones too), by name. */
function fieldMap(proto, out = new Map()) {
  for (const f of proto.fields ?? []) {
    if (f.name && !out.has(f.name)) out.set(f.name, f);
    if (f.fields) fieldMap({ fields: f.fields }, out);
  }
  return out;
}

const HIDDEN_PROTOS = new Set(['geninfo', 'frame', 'fake-field-wrapper', '_ws.malformed']);

/** What the results table shows for one PDML packet (Metron's pcap-packet-line read the same fields). */
export function summarize(packet) {
  const protos = new Map(packet.protos.map((p) => [p.name, fieldMap(p)]));
  const get = (proto, name) => protos.get(proto)?.get(name)?.show ?? '';
  const ipv = protos.has('ip') ? 'ip' : protos.has('ipv6') ? 'ipv6' : null;
  const l4 = protos.has('tcp') ? 'tcp' : protos.has('udp') ? 'udp' : null;
  const top = [...packet.protos].reverse().find((p) => !HIDDEN_PROTOS.has(p.name) && p.name !== 'data');
  return {
    num: get('geninfo', 'num'),
    time: get('geninfo', 'timestamp').replace(/ UTC$/, ''),
    src: ipv ? get(ipv, `${ipv}.src`) : get('eth', 'eth.src'),
    dst: ipv ? get(ipv, `${ipv}.dst`) : get('eth', 'eth.dst'),
    srcPort: l4 ? get(l4, `${l4}.srcport`) : '',
    dstPort: l4 ? get(l4, `${l4}.dstport`) : '',
    protocol: (top?.name ?? '').toUpperCase(),
    length: get('geninfo', 'len'),
  };
}

/** The layer tree: one <details> per protocol, nested fields as nested lists; clicking selects bytes. */
export function layerTree(packet, onSelect) {
  const box = el('div');
  for (const proto of packet.protos) {
    if (proto.name === 'geninfo') continue;
    const d = el('details', { class: 'layer', open: proto.name === 'frame' ? null : '' });
    const summary = el('summary', { text: proto.showname ?? proto.name });
    summary.addEventListener('click', () => onSelect(Number(proto.pos), Number(proto.size)));
    d.append(summary, fieldList(proto.fields ?? [], onSelect));
    box.append(d);
  }
  return box;
}

function fieldList(fields, onSelect) {
  const ul = el('ul');
  for (const f of fields) {
    if (f.hide === 'yes') continue;
    const text = f.showname ?? (f.show !== null ? `${f.name}: ${f.show}` : f.name);
    const li = el(
      'li',
      {},
      el('button', { type: 'button', class: 'field', text, onclick: () => onSelect(Number(f.pos), Number(f.size)) }),
    );
    if (f.fields?.length) li.append(fieldList(f.fields, onSelect));
    for (const p of f.protos ?? []) li.append(layerTree({ protos: [p] }, onSelect));
    ul.append(li);
  }
  return ul;
}

export function formatTime(ms) {
  return typeof ms === 'number'
    ? new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '';
}

export function querySummary(job) {
  const c = job.config ?? {};
  const window = `${formatTime(c.startTimeMs)} → ${formatTime(c.endTimeMs)}`;
  if (job.mode === 'query') return `${c.query || '(everything)'} · ${window}`;
  const parts = [];
  if (c.ipSrcAddr || c.ipSrcPort) parts.push(`${c.ipSrcAddr ?? '*'}:${c.ipSrcPort ?? '*'}`);
  if (c.ipDstAddr || c.ipDstPort)
    parts.push(`${parts.length ? '' : 'any '}→ ${c.ipDstAddr ?? '*'}:${c.ipDstPort ?? '*'}`);
  if (c.protocol) parts.push(String(c.protocol));
  if (c.packetFilter) parts.push(`contains ${c.packetFilter}`);
  if (c.includeReverse) parts.push('(both directions)');
  return `${parts.join(' ') || '(everything)'} · ${window}`;
}
