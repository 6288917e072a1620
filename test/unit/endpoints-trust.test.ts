import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stackFileDistrust } from '../../src/lib/endpoints.js';

/** endpoints.env names where packets go: it is trusted only when ours and private (issue 10). */
describe('stackFileDistrust', () => {
  const base = mkdtempSync(join(tmpdir(), 'pcapline-endpoints-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  const uid = process.getuid?.();
  const make = (name: string, dirMode: number, fileMode: number): { dir: string; file: string } => {
    const dir = join(base, name);
    mkdirSync(dir);
    const file = join(dir, 'endpoints.env');
    writeFileSync(file, 'KAFKA_BROKERS=127.0.0.1:9092\n');
    chmodSync(file, fileMode);
    chmodSync(dir, dirMode);
    return { dir, file };
  };

  it('trusts a 0700 directory of ours holding a file of ours that others cannot write', () => {
    for (const [dirMode, fileMode] of [
      [0o700, 0o600],
      [0o700, 0o644],
      [0o500, 0o400],
    ]) {
      const { dir, file } = make(`ok-${dirMode.toString(8)}-${fileMode.toString(8)}`, dirMode, fileMode);
      assert.equal(stackFileDistrust(dir, file, uid), null);
      chmodSync(dir, 0o700);
    }
  });

  it('distrusts a directory others can enter or write, a file others can write, symlinks, other owners', () => {
    const open = make('open', 0o755, 0o600);
    assert.match(
      stackFileDistrust(open.dir, open.file, uid) ?? '',
      /has mode 0755; it must not be open to other users/,
    );
    const writable = make('writable', 0o700, 0o666);
    assert.match(stackFileDistrust(writable.dir, writable.file, uid) ?? '', /endpoints.env has mode 0666/);
    const link = join(base, 'link');
    symlinkSync(open.dir, link);
    assert.match(stackFileDistrust(link, join(link, 'endpoints.env'), uid) ?? '', /not a directory/);
    const linkedFile = make('linked-file', 0o700, 0o600);
    rmSync(linkedFile.file);
    symlinkSync(open.file, linkedFile.file);
    assert.match(stackFileDistrust(linkedFile.dir, linkedFile.file, uid) ?? '', /not a regular file/);
    const mine = make('mine', 0o700, 0o600);
    assert.match(
      stackFileDistrust(mine.dir, mine.file, (uid ?? 0) + 4242) ?? '',
      /belongs to uid \d+, not to this user/,
    );
  });

  it('a missing directory or file is nothing to distrust (there is nothing to read)', () => {
    assert.equal(stackFileDistrust(join(base, 'absent'), join(base, 'absent', 'endpoints.env'), uid), null);
  });
});
