/**
 * PDML for a result page: tshark when it is installed (as Metron did), else our decoder, chosen by
 * `pdml.decoder` (auto | tshark | builtin). At most `pdml.concurrency` renderings run at once.
 */
import { spawnSync } from 'node:child_process';
import type { Logger } from '../../lib/log.js';
import { builtinPdml } from './builtin.js';
import { tsharkPdml } from './tshark.js';
import type { Pdml } from './types.js';

export interface PdmlSettings {
  decoder: 'auto' | 'tshark' | 'builtin';
  tshark: string;
  maxPackets: number;
  timeoutMs: number;
  concurrency: number;
}

export class PdmlRenderer {
  readonly engine: 'tshark' | 'builtin';
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly s: PdmlSettings,
    log?: Logger,
  ) {
    this.engine =
      s.decoder === 'builtin' ? 'builtin' : s.decoder === 'tshark' || tsharkWorks(s.tshark) ? 'tshark' : 'builtin';
    if (s.decoder === 'auto' && this.engine === 'builtin')
      log?.warn(`${s.tshark} not found: PDML comes from pcapline's own decoder (install tshark for full dissection)`);
  }

  async render(file: string): Promise<Pdml> {
    if (this.active >= this.s.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return this.engine === 'tshark'
        ? await tsharkPdml(file, { tshark: this.s.tshark, maxPackets: this.s.maxPackets, timeoutMs: this.s.timeoutMs })
        : await builtinPdml(file, this.s.maxPackets);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function tsharkWorks(tshark: string): boolean {
  const r = spawnSync(tshark, ['--version'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}
