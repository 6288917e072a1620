/**
 * Protocol registration by name (Packetbeat's `protos.Register(name, New)`), and the dispatch
 * tables an analyzer run builds from it: plugins by configured port for TCP and UDP, plus the
 * content sniffers tried on traffic whose ports match nothing.
 */
import { ByteBudget } from './memory.js';
import type { AnalyzerStats } from './stats.js';
import type {
  ProtocolConfig,
  ProtocolContext,
  ProtocolDefinition,
  ProtocolPlugin,
  Reporter,
  Sniffer,
} from './types.js';
import { PcaplineError } from '../lib/errors.js';

const definitions = new Map<string, ProtocolDefinition>();

/** Adds a protocol. Names are unique: registering one twice is a programming error. */
export function registerProtocol(def: ProtocolDefinition): void {
  if (definitions.has(def.name)) throw new Error(`protocol ${def.name} is already registered`);
  definitions.set(def.name, def);
}

export function registeredProtocols(): ProtocolDefinition[] {
  return [...definitions.values()];
}

export function protocolDefinition(name: string): ProtocolDefinition | undefined {
  return definitions.get(name);
}

/** Per-protocol overrides: `enabled: false` turns one off; other keys override ProtocolConfig. */
export type ProtocolSettings = Partial<ProtocolConfig> & { enabled?: boolean };

export const DEFAULT_PROTOCOL_CONFIG: Omit<ProtocolConfig, 'ports'> = {
  transactionTimeoutMs: 10_000,
  sendRequest: false,
  sendResponse: false,
  maxMessageBytes: 10 * 1024 * 1024,
};

/** A protocol name the user asked for that nobody registered: exit 2. */
export class UnknownProtocolError extends PcaplineError {
  constructor(name: string) {
    super(
      'PCAPLINE_UNKNOWN_PROTOCOL',
      `unknown protocol '${name}' (known: ${[...definitions.keys()].sort().join(', ')})`,
      { exitCode: 2 },
    );
  }
}

interface Sniff {
  plugin: ProtocolPlugin;
  sniff: Sniffer;
}

/** The instantiated plugins of one run and how traffic reaches them. */
export class Dispatch {
  readonly plugins: ProtocolPlugin[] = [];
  readonly tcpByPort = new Map<number, ProtocolPlugin>();
  readonly udpByPort = new Map<number, ProtocolPlugin>();
  readonly tcpSniffers: Sniff[] = [];
  readonly udpSniffers: Sniff[] = [];
  readonly icmp: ProtocolPlugin[] = [];

  constructor(
    settings: Readonly<Record<string, ProtocolSettings>>,
    report: Reporter,
    memory: ByteBudget,
    stats: AnalyzerStats,
    contentDispatch: boolean,
  ) {
    for (const name of Object.keys(settings)) if (!definitions.has(name)) throw new UnknownProtocolError(name);
    for (const def of definitions.values()) {
      const s = settings[def.name] ?? {};
      if (s.enabled === false) continue;
      const config: ProtocolConfig = { ...DEFAULT_PROTOCOL_CONFIG, ports: def.defaultPorts, ...stripEnabled(s) };
      const ctx: ProtocolContext = { report, config, memory, stats };
      const plugin = def.create(ctx);
      this.plugins.push(plugin);
      for (const port of config.ports) {
        if (plugin.tcp && def.transports.includes('tcp') && !this.tcpByPort.has(port)) this.tcpByPort.set(port, plugin);
        if (plugin.udp && def.transports.includes('udp') && !this.udpByPort.has(port)) this.udpByPort.set(port, plugin);
      }
      if (plugin.icmp && def.transports.includes('icmp')) this.icmp.push(plugin);
      if (contentDispatch && def.sniffTcp && plugin.tcp) this.tcpSniffers.push({ plugin, sniff: def.sniffTcp });
      if (contentDispatch && def.sniffUdp && plugin.udp) this.udpSniffers.push({ plugin, sniff: def.sniffUdp });
    }
  }

  /** The first plugin whose sniffer recognises the payload, with the direction it says the payload went. */
  sniffTcp(payload: Uint8Array): { plugin: ProtocolPlugin; dir: 0 | 1 } | null {
    return sniffWith(this.tcpSniffers, payload);
  }

  sniffUdp(payload: Uint8Array): { plugin: ProtocolPlugin; dir: 0 | 1 } | null {
    return sniffWith(this.udpSniffers, payload);
  }
}

function sniffWith(list: Sniff[], payload: Uint8Array): { plugin: ProtocolPlugin; dir: 0 | 1 } | null {
  for (const s of list) {
    let dir: 0 | 1 | null = null;
    try {
      dir = s.sniff(payload);
    } catch {
      dir = null;
    }
    if (dir !== null) return { plugin: s.plugin, dir };
  }
  return null;
}

function stripEnabled(s: ProtocolSettings): Partial<ProtocolConfig> {
  const { enabled: _enabled, ...rest } = s;
  return rest;
}

export { ByteBudget };
